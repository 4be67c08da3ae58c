"""The phases of one run and the budget of each.

A run goes through these phases (``bench.speed.PHASES``), each with its progress bar (:mod:`bench.progress`) and its
seconds in ``<run>/speed.json`` (:mod:`bench.speed`):

=============  ==========================================================  ==========================================
phase          what runs                                                   budget below the paper scale
=============  ==========================================================  ==========================================
``data``       the train and reference images, decoded and resized        the dataset's images (cached by nothing)
``judge``      the reference classifier trained on the reference split    a fixed number of image passes, cached per
               (once per dataset and size, then cached)                   dataset (:mod:`bench.metrics.classifier`)
``reference``  the reference features of each protocol (cached) and the   ``num_eval_samples`` images per protocol
               judge's accuracy on real train images
``pretraining`` the method's pretraining stage (BAGAN's and EBGAN's        ``pretrain_images``: the method's epochs,
               autoencoders, IDA-GAN's VAE), checkpointed per epoch       cut to at most that many images
``training``   the GAN phase                                              ``d_updates`` D updates (``steps``)
``evaluation`` every evaluation (fakes, features, metrics, samples)       ``evaluations`` x ``num_eval_samples``
=============  ==========================================================  ==========================================

The paper scale keeps the paper's epochs (no ``pretrain_images``). The run plan carries the pretraining epochs and
the cap (``RunPlan.budget``); :func:`pretrain_budget` turns them into batches once the train set's size is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PretrainBudget:
    """How much pretraining a run does: ``epochs`` passes over the train set of ``batches_per_epoch`` batches,
    the last one cut to ``last_batches`` when the image cap falls inside it (None = whole)."""

    epochs: int
    batches_per_epoch: int
    last_batches: int | None = None

    @property
    def batches(self) -> int:
        """Batches in all."""
        if self.epochs == 0:
            return 0
        return (self.epochs - 1) * self.batches_per_epoch + (self.last_batches or self.batches_per_epoch)

    def batches_of_epoch(self, epoch: int) -> int | None:
        """Batches of pass ``epoch`` (0-based) when it is cut, else None (the whole pass)."""
        return self.last_batches if epoch == self.epochs - 1 else None

    def describe(self, n_images: int, batch_size: int) -> str:
        """E.g. ``6 epochs of 9,500 images (57,000 images, 894 batches)``; ``none`` without pretraining."""
        if self.epochs == 0:
            return "none"
        images = min(self.batches * batch_size, self.epochs * n_images)
        cut = f" (the last cut to {self.last_batches} batches)" if self.last_batches else ""
        return (f"{self.epochs} epoch{'s' if self.epochs != 1 else ''} of {n_images:,} images{cut} = "
                f"{images:,} images, {self.batches:,} batches")


def pretrain_budget(epochs: int | None, n_images: int, batch_size: int,
                    max_images: int | None = None) -> PretrainBudget:
    """The pretraining of a run on ``n_images`` train images in batches of ``batch_size``.

    Args:
        epochs: the plan's pretraining epochs (``RunPlan.budget.pretrain_epochs``: the config's, else the method's;
            None = no pretraining stage).
        max_images: the config's ``pretrain_images``: at most this many images pass through pretraining, in
            whole epochs while one fits (``max_images // n_images``), else one epoch cut to
            ``ceil(max_images / batch_size)`` batches. None = no cap (the paper scale).
    """
    per_epoch = len(batch_sizes(n_images, batch_size))
    if not epochs or n_images == 0:
        return PretrainBudget(0, per_epoch)
    if max_images is None:
        return PretrainBudget(epochs, per_epoch)
    whole = max_images // n_images
    if whole >= 1:
        return PretrainBudget(min(epochs, whole), per_epoch)
    return PretrainBudget(1, per_epoch, min(per_epoch, math.ceil(max_images / batch_size)))


def batch_sizes(n: int, batch_size: int) -> list[int]:
    """The batch sizes of one pass over ``n`` images (``bench.run.batches.ShuffledBatches``): ``batch_size`` (capped
    at n) each, the remainder last, and a remainder of exactly one image joined to the batch before it (BatchNorm
    in train mode needs two samples)."""
    if n <= 0:
        return []
    b = max(1, min(batch_size, n))
    sizes = [b] * (n // b) + ([n % b] if n % b else [])
    if b > 1 and len(sizes) > 1 and sizes[-1] == 1:
        sizes[-2:] = [b + 1]
    return sizes

