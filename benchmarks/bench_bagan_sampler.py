"""Timings on CPU: BAGAN's class-latent sampler (target < 1 ms) and one ECOGAN iteration on dcgan64.

    .venv/bin/python benchmarks/bench_bagan_sampler.py [--repeats N]

1. Draw a batch of 128 codes (latent 128, 10 classes) from fitted class Gaussians: z = μ_y + L_y ε.
2. One ECOGAN iteration (5 D steps + 1 G step, quirks "paper") on dcgan64 at 32×32 with batch 64 and at
   16×16 with batch 32 — what sizes the ``cpu`` scale; also on biggan32 (div 4 and div 1) at 32×32 with
   batch 64, the default backbone of contragan/reacgan and Table 1's.
Prints the median (and min) wall time of each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from bench.methods import MethodConfig, get_method
from bench.methods.class_gaussians import ClassGaussians, class_code_moments


def timed(fn: Callable[[], object], repeats: int, warmup: int) -> tuple[float, float]:
    """(median, min) seconds of ``fn`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def bench_sampler(repeats: int) -> None:
    classes, dim, batch = 10, 128, 128
    codes, labels = torch.randn(5000, dim) @ torch.randn(dim, dim) * 0.1, torch.randint(0, classes, (5000,))
    labels[labels == 9] = 8
    labels[:3] = 9  # class 9: a tail class with fewer codes than dimensions (singular covariance)
    gaussians = ClassGaussians(classes, dim)
    gaussians.fit(*class_code_moments([(codes, labels)], classes, dim), jitter=1e-6)
    eps, y = torch.randn(batch, dim), torch.randint(0, classes, (batch,))

    @torch.no_grad()
    def draw() -> torch.Tensor:
        return gaussians(torch.randn_like(eps), y)

    med, best = timed(draw, repeats * 50, warmup=50)
    verdict = "OK" if med < 1e-3 else "OVER TARGET"
    print(f"bagan sampler: 128 codes x 128 dims, 10 classes: median {med * 1e3:.3f} ms, min {best * 1e3:.3f} ms "
          f"(target < 1 ms: {verdict})")


def bench_ecogan(size: int, batch: int, repeats: int, backbone: str = "dcgan64", div: int = 1) -> None:
    options = {"div": div} if backbone == "biggan32" else {}
    cfg = MethodConfig(num_classes=10, image_size=size, channels=3, backbone=backbone, batch_size=batch,
                       options=options)
    method = get_method("ecogan")(cfg)
    x, y = torch.rand(batch, 3, size, size) * 2 - 1, torch.randint(0, 10, (batch,))

    def iteration() -> None:
        for _ in range(method.n_dis):
            method.d_step(x, y)
        method.g_step()

    med, best = timed(iteration, repeats, warmup=2)
    name = backbone + (f" div {div}" if options else "")
    print(f"ecogan iteration (5 D + 1 G), {name} {size}x{size}, batch {batch}: median {med * 1e3:.0f} ms, "
          f"min {best * 1e3:.0f} ms -> {1 / med:.2f} it/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed repetitions of each ECOGAN iteration")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    bench_sampler(args.repeats)
    bench_ecogan(32, 64, args.repeats)
    bench_ecogan(16, 32, args.repeats)
    bench_ecogan(32, 64, max(args.repeats // 2, 1), backbone="biggan32", div=4)
    bench_ecogan(32, 64, max(args.repeats // 5, 1), backbone="biggan32", div=1)


if __name__ == "__main__":
    main()
