"""Time the bootstrap intervals and the held-out halves of one evaluation at the cpu scale: 1,000 real and
1,000 fake rows of 128 features (the classifier extractor's), 10 classes in the train histogram of digits_lt's
long tail (paper protocol) and uniform (standard protocol), at 100 and 200 resamples, one thread.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_bootstrap.py

The features are Gaussian stand-ins (the cost depends only on the shapes and the class sizes).
"""

from __future__ import annotations

import time

import torch

from bench.metrics.bootstrap import basic_interval, reference_halves, resampled_fids, stratified_counts
from bench.metrics.fid import frechet_distance, per_class_fid

N, F, C = 1000, 128, 10
LONG_TAIL = [178] + [100 * c // 5 for c in range(1, C)]  # a long-tailed histogram of about N rows


def labels_of(counts: list[int]) -> torch.Tensor:
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    return labels[torch.arange(N) * labels.numel() // N]


def main() -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(N, F, generator=g), torch.randn(N, F, generator=g) + 0.1
    print(f"torch {torch.__version__}, 1 thread, {N} real and {N} fake rows of {F} features, {C} classes")
    for mix, labels in (("train histogram (paper)", labels_of(LONG_TAIL)), ("uniform (standard)", torch.arange(N) % C)):
        is_head = torch.bincount(labels, minlength=C).double() >= torch.bincount(labels, minlength=C).double().median()
        groups = torch.stack([torch.ones(C, dtype=torch.bool), is_head, ~is_head])
        for resamples in (100, 200):
            start = time.perf_counter()
            w_real, w_fake = stratified_counts(labels, resamples, g), stratified_counts(labels, resamples, g)
            per_class, pooled = resampled_fids(real, labels, w_real, fake, labels, w_fake, C, groups)
            point = torch.tensor([frechet_distance(real, fake)] * 3, dtype=torch.float64)
            basic_interval(point, pooled)
            basic_interval(per_class_fid(real, labels, fake, labels, C), per_class)
            boot_s = time.perf_counter() - start
            print(f"{mix:>24}, {resamples} resamples: intervals of overall, head, tail and per-class FID "
                  f"{boot_s:.2f} s")
        start = time.perf_counter()
        half = reference_halves(labels)
        frechet_distance(real[half], fake), frechet_distance(real[~half], fake)
        print(f"{mix:>24}: FID against both reference halves {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
