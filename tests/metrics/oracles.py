"""Oracle generators on real images and the orderings a reviewer expects of the metrics: the metric sanity suite's
building blocks (``tests/metrics/test_metric_sanity.py`` runs them on digits in CI; ``benchmarks/
bench_metric_sanity.py`` on any dataset, e.g. real CIFAR-10 at the lab scale).

Oracles (which image each draws for a requested class y depends on its z):

    a  real         a held-out real image of class y (the ideal)
    b  one          the same real image for every z (total intra-class collapse)
    c  three        one of 3 fixed real images of class y (partial collapse)
    d  wrong        a held-out real image of class y + 1 (wrong class, right diversity)
    e  mean         the mean image of class y (blur: one image per class)
    f  noise        uniform noise
    g  noisy real   a held-out real image of class y plus Gaussian noise (sigma 40 of 255): diverse, degraded
    h  blurred real a held-out real image of class y, blurred by a 3x3 binomial filter: diverse, degraded

Each ordering is a function that raises AssertionError when it does not hold. They compare ranks only, so any
metric can stand in for another (FID by its negative): the sanity suite checks that the old headline, FID on the
judge's features, fails every one of them.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from bench.config import RunConfig
from bench.datasets.base import ImageSet, uint8_to_float
from bench.metrics import Evaluator

ORACLES = ("a_real", "b_one", "c_three", "d_wrong", "e_mean", "f_noise", "g_noisy_real", "h_blurred_real")
COLLAPSED = ("b_one", "c_three", "e_mean")
DIVERSE = ("a_real", "d_wrong", "g_noisy_real", "h_blurred_real")


class OracleGenerator:
    """A 'generator' whose images come from a rule over real images; which image is drawn depends on z only."""

    latent_dim = 8

    def __init__(self, kind: str, pool: ImageSet) -> None:
        self.kind, self.device = kind, torch.device("cpu")
        self.num_classes = pool.num_classes
        order = torch.argsort(pool.labels, stable=True)
        self.counts = torch.bincount(pool.labels, minlength=pool.num_classes)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.images = pool.images[order]  # class-sorted uint8
        self.means = torch.stack([pool.images[pool.labels == c].float().mean(0) for c in range(pool.num_classes)])

    def _pick(self, z: torch.Tensor, classes: torch.Tensor, limit: torch.Tensor | None = None) -> torch.Tensor:
        """A class image chosen by z: the (hash(z) mod n)-th of the class (n = its count, or ``limit``)."""
        n = self.counts[classes] if limit is None else torch.minimum(self.counts[classes], limit)
        key = (z[:, 0].double() * 1e6).floor().long().abs() + (z[:, 1].double() * 1e3).floor().long().abs()
        return self.images[self.starts[classes] + key % n].float()

    def _noise(self, z: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        gen = torch.Generator().manual_seed(int((z[:, :4].double().abs().sum() * 1e6).floor()) % (2 ** 31))
        return torch.randn(z.shape[0], *shape, generator=gen)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] for labels ``y``."""
        shape = tuple(self.images.shape[1:])
        one = torch.ones_like(y)
        if self.kind == "a_real":
            x = self._pick(z, y)
        elif self.kind == "b_one":
            x = self._pick(torch.zeros_like(z), y, limit=one)
        elif self.kind == "c_three":
            x = self._pick(z, y, limit=3 * one)
        elif self.kind == "d_wrong":
            x = self._pick(z, (y + 1) % self.num_classes)
        elif self.kind == "e_mean":
            x = self.means[y]
        elif self.kind == "f_noise":
            x = (self._noise(z, shape) * 0.5 + 0.5).clamp(0, 1) * 255
        elif self.kind == "g_noisy_real":
            x = self._pick(z, y) + 40.0 * self._noise(z, shape)
        else:
            assert self.kind == "h_blurred_real", self.kind
            kernel = torch.tensor([1.0, 2.0, 1.0])
            kernel = (kernel[:, None] * kernel[None, :] / 16).expand(shape[0], 1, 3, 3)
            x = F.conv2d(F.pad(self._pick(z, y), (1, 1, 1, 1), mode="replicate"), kernel, groups=shape[0])
        return uint8_to_float(x.round().clamp(0, 255).to(torch.uint8))


# -- the orderings: each takes one number per oracle and raises AssertionError when it does not hold -----------
def headline_ranks_real_first(fid: dict[str, float]) -> None:
    """The headline (lower is better) ranks real images above collapsed, blurred-to-the-mean and noise oracles,
    and the diverse-but-degraded real images (g, h) above every collapsed one."""
    for other in ("b_one", "c_three", "e_mean", "f_noise", "g_noisy_real", "h_blurred_real", ):
        assert fid["a_real"] < fid[other], (other, fid)
    for degraded in ("g_noisy_real", "h_blurred_real"):
        for collapsed in COLLAPSED:
            assert fid[degraded] < fid[collapsed], (degraded, collapsed, fid)


def collapsed_below_diverse(score: dict[str, float]) -> None:
    """A diversity measure (higher is better) ranks one and three images per class below every diverse oracle,
    degraded ones included."""
    for collapsed in ("b_one", "c_three"):
        for diverse in DIVERSE:
            assert score[collapsed] < score[diverse], (collapsed, diverse, score)


def accuracy_catches_wrong_class(score: dict[str, float]) -> None:
    """Conditional accuracy (higher is better) ranks the wrong class below every oracle that draws the asked class."""
    for right in ("a_real", "b_one", "c_three", "e_mean", "g_noisy_real", "h_blurred_real"):
        assert score["d_wrong"] < score[right], (right, score)


def flag_separates(flag: dict[str, float]) -> None:
    """A collapse flag fires for one and three images per class (and the class mean), never for a diverse oracle."""
    for collapsed in COLLAPSED:
        assert flag[collapsed], (collapsed, flag)
    for diverse in DIVERSE:
        assert not flag[diverse], (diverse, flag)


def evaluate_oracles(extractor: str, cache_root: Any, train: ImageSet, reference: ImageSet, pool: ImageSet,
                     dataset: str, num_eval_samples: int | None = None) -> dict[str, dict[str, Any]]:
    """Each oracle's metrics row under the standard protocol with ``extractor`` features; ``pool`` holds the
    real images the oracles draw from (held out from ``reference``)."""
    cfg = RunConfig(dataset=dataset, image_size=reference.image_size, extractor=extractor, protocols=["standard"],
                    bootstrap=0, num_eval_samples=num_eval_samples)
    evaluator = Evaluator(cfg, train, reference, "cpu", cache_root=cache_root)
    return {kind: evaluator.evaluate(OracleGenerator(kind, pool), 1, "standard").row for kind in ORACLES}
