"""The evaluation protocols: how a number is measured, as one table of data (DESIGN.md "Protocol").

``paper`` is the ECOGAN code's way (ecogan-upstream.md §7.1): torchvision ImageNet InceptionV3, reference =
the long-tailed train set, one fake per reference image with its label (so the fakes follow the train
histogram), generated class-sorted, IS over 10 contiguous class-sorted splits, best step = min FID.
``standard`` is the literature's way (torch-fidelity / StudioGAN): TF-FID InceptionV3, reference = the balanced
test split, exactly uniform fake labels (``arange(n) % C``, then a fixed-seed shuffle), IS over 10 shuffled splits.
``studiogan`` is how StudioGAN published its CIFAR-10 numbers (the balanced CIFAR-10 gate of table 1): TF-FID
InceptionV3, reference = the train set, uniform fake labels, IS over 10 shuffled splits.
All report FID, IS, KID, precision/recall, intra-class FID, head/tail FID and conditional accuracy.

How many fakes: ``paper`` generates one per reference image (the ECOGAN code's; ``fakes = "reference"``); the
others take the run's ``eval_fakes`` during training and ``final_fakes`` for the final measurement of the best and
last checkpoints (the paper scale: 10,000 and 50,000, as StudioGAN and EDM2 measure), else one per reference image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.errors import unknown_name

LABEL_SHUFFLE_SEED = 2020  # the uniform label order; fixed so every step and run sees the same labels
IS_SHUFFLE_SEED = 2020  # torch-fidelity's default rng_seed


@dataclass(frozen=True)
class Protocol:
    """One way of measuring. The ``reference`` and ``label_mix`` strings are written to metrics.csv as is."""

    name: str
    extractor: str  # default feature extractor; RunConfig.extractor overrides it
    reference: str  # "train-lt": the long-tailed train set | "test-balanced": the balanced reference split
    label_mix: str  # "train-histogram": the reference's labels | "uniform": arange(n) % C, shuffled
    is_splits: int = 10  # Inception Score splits
    is_shuffle_seed: int | None = None  # None = contiguous splits in generation order
    best_step: str = "min fid"  # how the run's best checkpoint is chosen
    fakes: str = "config"  # "reference": one fake per reference image | "config": eval_fakes / final_fakes


PROTOCOLS: dict[str, Protocol] = {
    "paper": Protocol("paper", extractor="torchvision-inception", reference="train-lt",
                      label_mix="train-histogram", is_splits=10, is_shuffle_seed=None, fakes="reference"),
    "standard": Protocol("standard", extractor="inception-v3-compat", reference="test-balanced",
                         label_mix="uniform", is_splits=10, is_shuffle_seed=IS_SHUFFLE_SEED),
    "studiogan": Protocol("studiogan", extractor="inception-v3-compat", reference="train-lt",
                          label_mix="uniform", is_splits=10, is_shuffle_seed=IS_SHUFFLE_SEED),
}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; ConfigError listing the known ones otherwise."""
    if name not in PROTOCOLS:
        raise unknown_name("protocol", name, PROTOCOLS)
    return PROTOCOLS[name]


def subset_indices(labels: torch.Tensor, n: int | None) -> torch.Tensor:
    """Indices of a deterministic, class-sorted subset of ``n`` rows that keeps the class histogram.

    The rows are stably sorted by label and ``n`` evenly spaced positions ``floor(i·N/n)`` are taken, so class c
    keeps about ``n·N_c/N`` rows (all of them when n >= N). Returns int64 (min(n, N),) in class order.
    """
    order = torch.argsort(labels.cpu(), stable=True)
    total = order.numel()
    if n is None or n >= total:
        return order
    return order[torch.arange(n) * total // n]


def fake_count(protocol: Protocol, n_real: int, configured: int | None) -> int:
    """How many fakes an evaluation generates: ``n_real`` for a protocol with ``fakes = "reference"`` or when
    nothing is configured, else ``configured`` (the run's eval_fakes, or final_fakes for the final measurement)."""
    return n_real if protocol.fakes == "reference" or configured is None else int(configured)


def fake_labels(protocol: Protocol, reference_labels: torch.Tensor, num_classes: int,
                n: int | None = None) -> torch.Tensor:
    """The labels of ``n`` fakes (default: one per reference row, n_fake = n_real).

    ``train-histogram``: the reference's own labels in their (class-sorted) order; for another n, the labels at
    the evenly spaced positions ``floor(i·N/n)`` of that order (each class about n·N_c/N times, class-sorted).
    ``uniform``: ``arange(n) % C`` (exactly balanced when C divides n, else within one), shuffled by a fixed-seed
    private generator.
    """
    total = reference_labels.numel()
    n = total if n is None else n
    if protocol.label_mix == "train-histogram":
        return reference_labels.clone() if n == total else reference_labels[torch.arange(n) * total // n]
    assert protocol.label_mix == "uniform", protocol.label_mix
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(LABEL_SHUFFLE_SEED))
    return (torch.arange(n) % num_classes)[perm]


def head_classes(train_counts: list[int]) -> torch.Tensor:
    """Bool (C,): head = TRAIN class count >= the median TRAIN count (the mean of the two middle counts when C
    is even, so CIFAR10_LT's counts 5000, 100, ..., 900 give 5 head and 5 tail classes); the rest are tail."""
    counts = torch.tensor(train_counts, dtype=torch.float64)
    return counts >= counts.quantile(0.5)
