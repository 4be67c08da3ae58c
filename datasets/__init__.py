"""Placeholder: the dataset registry is being written (see docs/architecture.md)."""
