"""Reference-set features and FID statistics, computed once and cached on disk (and per Evaluator in memory).

A cache file is ``<cache_root>/ref-<dataset>-<split>-<size>px-<ch>ch-<extractor>-n<n>-<hash>.pt``; the hash
covers the chosen images and labels, the extractor's weights (``cache_tag``), the device type and the
library versions (:func:`bench.metrics.cache.environment_key`), so anything that moves the number moves the key.
Files are written atomically; an unreadable file is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.datasets.base import ImageSet
from bench.metrics.cache import atomic_save, digest, environment_key, load_cached, slug
from bench.metrics.extractors import FeatureExtractor
from bench.metrics.fid import fid_statistics
from bench.speed import phase


@dataclass
class ReferenceFeatures:
    """Features of a reference subset, with its labels and FID statistics."""

    features: torch.Tensor  # (n, F) float32, CPU
    labels: torch.Tensor  # (n,) int64, CPU, class-sorted
    stats: dict[str, np.ndarray]  # "mu" (F,), "sigma" (F, F), float64
    path: Path  # the disk cache file


def reference_cache_path(reference: ImageSet, indices: torch.Tensor, extractor: FeatureExtractor,
                         cache_root: Path) -> Path:
    """The cache file of ``reference[indices]`` seen through ``extractor``."""
    key = digest(reference.images[indices], reference.labels[indices], extractor.name, extractor.cache_tag,
                 environment_key(extractor.device))
    return cache_root / (f"ref-{slug(reference.name)}-{slug(reference.split)}-{reference.image_size}px-"
                         f"{reference.channels}ch-{extractor.name}-n{indices.numel()}-{key}.pt")


def compute_reference(reference: ImageSet, indices: torch.Tensor, extractor: FeatureExtractor,
                      batch_size: int = 128) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """Features (n, F) of ``reference.images[indices]`` and their FID statistics (one extractor pass)."""
    name = f"reference features {reference.name}/{reference.split} ({extractor.name})"
    features, _ = extractor.extract(reference.images[indices], batch_size, bar_name=name)
    return features, fid_statistics(features)


def load_or_compute_reference(reference: ImageSet, indices: torch.Tensor, extractor: FeatureExtractor,
                              cache_root: Path, batch_size: int = 128) -> ReferenceFeatures:
    """:class:`ReferenceFeatures` of ``reference[indices]``, from the disk cache or computed and saved (timed as
    the ``reference`` phase of a run's speed record)."""
    with phase("reference"):
        return _load_or_compute_reference(reference, indices, extractor, cache_root, batch_size)


def _load_or_compute_reference(reference: ImageSet, indices: torch.Tensor, extractor: FeatureExtractor,
                               cache_root: Path, batch_size: int) -> ReferenceFeatures:
    path = reference_cache_path(reference, indices, extractor, cache_root)
    labels = reference.labels[indices].cpu()
    saved = load_cached(path)
    if saved is not None and torch.equal(saved.get("labels", torch.empty(0)), labels):
        stats = {"mu": saved["mu"].numpy(), "sigma": saved["sigma"].numpy()}
        return ReferenceFeatures(saved["features"], labels, stats, path)
    features, stats = compute_reference(reference, indices, extractor, batch_size)
    atomic_save({"features": features, "labels": labels, "mu": torch.from_numpy(stats["mu"]),
                 "sigma": torch.from_numpy(stats["sigma"])}, path)
    return ReferenceFeatures(features, labels, stats, path)
