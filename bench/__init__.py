"""ECOGAN Bench: class-conditional GANs on long-tailed image data, measured with named protocols."""

__version__ = "0.1.0"
