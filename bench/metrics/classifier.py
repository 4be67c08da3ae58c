"""The reference classifier: a small CNN trained by bench on the balanced reference split, then cached.

It serves twice: as the ``classifier`` feature extractor (features = the 128-d pooled penultimate layer,
logits = the C-way head, so its IS is at most C), and as the judge of conditional accuracy for every protocol.
It makes FID-like numbers meaningful on offline machines and on data far from ImageNet (digits).

Training is part of the measurement instrument, so it is fixed: seed 0 (not the run's seed, so every run of a
dataset shares one classifier), Adam(2e-3), batch 64, cross-entropy, no augmentation, and
``clamp(round(20000 / N), 5, 20)`` epochs (20 epochs for 500 digits, 5 for a 10k-image reference). It
runs under :func:`bench.rng.preserved_rng` with a private generator for shuffling, so the global RNG
stream is untouched, and it is bit-for-bit deterministic on CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.datasets.base import ImageSet, uint8_to_float
from bench.metrics.cache import atomic_save, digest, environment_key, load_cached, slug
from bench.rng import preserved_rng

SEED = 0
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
FEATURE_DIM = 128
RECIPE = f"v1-adam{LEARNING_RATE}-b{BATCH_SIZE}-seed{SEED}-f{FEATURE_DIM}"  # part of the cache key


def num_epochs(n_images: int) -> int:
    """Epochs for a reference of ``n_images``: about 20k samples seen, between 5 and 20 epochs."""
    return int(min(20, max(5, round(20000 / max(n_images, 1)))))


class ReferenceClassifier(nn.Module):
    """Three conv-BN-ReLU blocks (32, 64, 128 channels; 2x2 max-pool between) -> global average pool -> linear.

    About 95k parameters for 3 channels and 10 classes; any input size >= 4 px.
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(*block(channels, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2),
                                  *block(64, FEATURE_DIM), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, H, W) float in [-1, 1] -> (features (N, 128), logits (N, num_classes))."""
        features = self.body(x)
        return features, self.head(features)


def classifier_path(reference: ImageSet, cache_root: Path, device: torch.device | str = "cpu") -> Path:
    """``<cache_root>/classifier-<dataset>-<size>px-<channels>ch-<hash>.pt``; the hash covers the images,
    labels, class count, training recipe, the device type it trains on and the library versions
    (:func:`bench.metrics.cache.environment_key`)."""
    key = digest(reference.images, reference.labels, reference.num_classes, RECIPE, environment_key(device))
    return cache_root / (f"classifier-{slug(reference.name)}-{reference.image_size}px-"
                         f"{reference.channels}ch-{key}.pt")


def weights_tag(net: nn.Module) -> str:
    """``classifier-<sha256[:12]>`` of ``net``'s state_dict (names, dtypes, shapes, values): names the weights
    actually in use, so features of two differently trained classifiers never share a cache entry."""
    state = net.state_dict()
    return "classifier-" + digest(*state.keys(), *state.values())


def train_classifier(reference: ImageSet, device: torch.device | str = "cpu") -> ReferenceClassifier:
    """Train a :class:`ReferenceClassifier` on ``reference`` (the recipe in the module docstring), in eval mode."""
    device = torch.device(device)
    n = len(reference)
    with preserved_rng():
        torch.random.default_generator.manual_seed(SEED)  # CPU only: init happens on CPU, other GPUs untouched
        net = ReferenceClassifier(reference.channels, reference.num_classes).to(device)
        order_rng = torch.Generator().manual_seed(SEED)
        opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
        images, labels = reference.images.to(device), reference.labels.to(device)
        net.train()
        for _ in range(num_epochs(n)):
            order = torch.randperm(n, generator=order_rng).to(device)
            # drop a last batch of one (BatchNorm needs two samples)
            for idx in order.split(BATCH_SIZE):
                if idx.numel() < 2:
                    continue
                _, logits = net(uint8_to_float(images[idx]))
                loss = F.cross_entropy(logits, labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    net.eval().requires_grad_(False)
    return net


def load_or_train_classifier(reference: ImageSet, cache_root: Path,
                             device: torch.device | str = "cpu") -> tuple[ReferenceClassifier, Path]:
    """The cached classifier for ``reference`` (see :func:`classifier_path`), trained and saved on a miss.

    Returns:
        (classifier in eval mode on ``device``, its cache file).
    """
    path = classifier_path(reference, cache_root, device)
    saved = load_cached(path)
    if saved is not None and saved.get("recipe") == RECIPE:
        with preserved_rng():
            net = ReferenceClassifier(reference.channels, reference.num_classes)
        net.load_state_dict(saved["state_dict"])
        return net.to(device).eval().requires_grad_(False), path
    print(f"bench: training the reference classifier on {reference.name}/{reference.split} ({len(reference)} "
          f"images, {num_epochs(len(reference))} epochs) -> {path}", file=sys.stderr, flush=True)
    net = train_classifier(reference, device)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    atomic_save({"state_dict": state, "recipe": RECIPE, "num_classes": reference.num_classes,
                 "channels": reference.channels, "image_size": reference.image_size}, path)
    return net, path
