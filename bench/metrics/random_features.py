"""The label-free feature extractor of the offline scales: a randomly initialised conv net, never trained.

Why: FID, coverage and diversity on the features of a classifier trained on the same classes see mostly which class
an image belongs to; variation within a class is what a classifier learns to ignore, so ten well-placed class
stereotypes score well there. Naeem et al. 2020 (§5, "Reliable Fidelity and Diversity Metrics for Generative
Models") use randomly initialised conv embeddings for exactly the domains where no pretrained net fits: random
filters keep every kind of variation — shape, stroke, colour, texture, noise — roughly in proportion to its energy.
The metric sanity suite (``tests/metrics/test_metric_sanity.py`` on digits in CI, ``benchmarks/
bench_metric_sanity.py`` on real CIFAR-10) shows that on these features real images rank first, blurred and noisy
real images next, and one or three images per class, class means and noise far behind, while on the judge's
features three images per class outrank blurred real images. A trained autoencoder's code was tried first and
failed there: it maps uniform noise onto the CIFAR-10 manifold (noise ranked level with three images per class),
since a code must ignore what the decoder cannot rebuild.

The net: three blocks of Conv(3×3, padding 1) → LeakyReLU(0.2) → AvgPool(2), 64, 128 and 256 channels, an
adaptive average pool to 2 × 2 (1,024 values for any image size ≥ 8), then a random linear projection to 128
features (entries N(0, 1/128): distances kept to about ±12 %, Johnson–Lindenstrauss), so that FID, its bootstrap
intervals (whose cost grows with the square of the feature count) and the neighbour metrics cost what the 128-d
classifier features cost. Conv weights He-normal (std sqrt(2 / fan_in)), biases 0, everything drawn from a private
generator seeded 0 on the CPU, so every machine and every run builds the same net without a file; inputs in
[-1, 1], 1-channel images as they are. No logits: IS then uses the judge's.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bench.datasets.base import uint8_to_float
from bench.metrics.cache import digest

SEED = 0
WIDTHS = (64, 128, 256)
POOLED = 2  # the last feature map is pooled to POOLED x POOLED
FEATURE_DIM = 128  # a random linear projection of the WIDTHS[-1] * POOLED**2 = 1,024 pooled values


class RandomConvNet(nn.Module):
    """The fixed random embedding (see the module docstring)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(SEED)
        layers: list[nn.Module] = []
        c_in = channels
        for width in WIDTHS:
            conv = nn.Conv2d(c_in, width, 3, padding=1)
            with torch.no_grad():
                conv.weight.normal_(0.0, math.sqrt(2.0 / (c_in * 9)), generator=gen)
                conv.bias.zero_()
            layers += [conv, nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
            c_in = width
        projection = nn.Linear(c_in * POOLED * POOLED, FEATURE_DIM, bias=False)
        with torch.no_grad():
            projection.weight.normal_(0.0, 1.0 / math.sqrt(FEATURE_DIM), generator=gen)
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(POOLED), nn.Flatten(), projection)
        self.eval().requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> features (N, FEATURE_DIM), float32."""
        return self.body(uint8_to_float(images))


def weights_tag(net: nn.Module) -> str:
    """``random-cnn-<sha256[:12]>`` of the net's weights: reference caches follow the weights actually drawn."""
    state = net.state_dict()
    return "random-cnn-" + digest(*state.keys(), *state.values())
