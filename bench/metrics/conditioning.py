"""Conditioning diagnostics: does G follow its labels, does D know the classes, and how good is the judge?

Conditional accuracy (:mod:`bench.metrics.accuracy`) says whether the fakes of class c look like class c to the
reference classifier. These numbers say why it is what it is:

- ``judge_acc``: the reference classifier's own class-mean accuracy on real images it never trained on (the
  train split; it trains on the balanced reference split). The ceiling of every conditional accuracy.
- ``d_acc_real`` / ``d_acc_fake``: D's own class-mean accuracy (nearest proxy, class head or best-matching label:
  ``Method.d_class_scores``) on real reference images and on the fakes. D learning the classes while G does not
  is the failure this separates.
- ``label_sens``: mean ‖G(z, y) − G(z, y′)‖ over mean ‖G(z, y) − G(z′, y)‖ with y′ ≠ y: how much changing the
  label moves an image, against how much changing the noise does. Near 0 when G ignores its labels.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from bench.datasets.base import uint8_to_float
from bench.metrics.accuracy import conditional_accuracy

SENSITIVITY_SAMPLES = 256  # pairs per label-sensitivity estimate


def d_scores_of(method: Any) -> Any:
    """uint8 images → D's class scores (``method.d_class_scores`` on images in [-1, 1]), or None for a method
    without that view."""
    d_class_scores = getattr(method, "d_class_scores", None)
    return (lambda x: d_class_scores(uint8_to_float(x))) if d_class_scores else (lambda x: None)


def class_mean_accuracy(scores: torch.Tensor | None, labels: torch.Tensor, num_classes: int) -> float:
    """Mean over the classes present of the share of rows whose argmax score is their label; NaN for no scores."""
    if scores is None:
        return math.nan
    per_class = conditional_accuracy(scores.float(), labels, num_classes)
    finite = per_class[~per_class.isnan()]
    return float(finite.mean()) if finite.numel() else math.nan


@torch.no_grad()
def batched_scores(score: Any, images: torch.Tensor, batch_size: int) -> torch.Tensor | None:
    """``score(x)`` over ``images`` in batches, concatenated on the CPU; None when ``score`` returns None (a D
    without a class view)."""
    out = []
    for chunk in images.split(batch_size):
        s = score(chunk)
        if s is None:
            return None
        out.append(s.float().cpu())
    return torch.cat(out)


@torch.no_grad()
def label_sensitivity(method: Any, num_classes: int, seed: int, n: int = SENSITIVITY_SAMPLES) -> float:
    """Mean ‖G(z, y) − G(z, y′)‖ / mean ‖G(z, y) − G(z′, y)‖ over ``n`` draws, y′ uniform over the other classes.

    Noise from a private generator seeded ``seed`` (the global RNG is not touched); images from
    ``method.generate`` (EMA generator, eval mode). NaN for one class.
    """
    if num_classes < 2:
        return math.nan
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, method.latent_dim, generator=gen)
    z_other = torch.randn(n, method.latent_dim, generator=gen)
    y = torch.randint(0, num_classes, (n,), generator=gen)
    y_other = (y + torch.randint(1, num_classes, (n,), generator=gen)) % num_classes
    base = method.generate(z, y).float().flatten(1)
    by_label = (base - method.generate(z, y_other).float().flatten(1)).norm(dim=1).mean()
    by_noise = (base - method.generate(z_other, y).float().flatten(1)).norm(dim=1).mean()
    return float(by_label / by_noise) if by_noise > 0 else math.nan
