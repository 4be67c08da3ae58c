"""Where the time of one cpu-scale iteration goes: data, G forward, D forward, gradient penalty (double backward),
losses and optimizer steps, and one evaluation, for a method on digits_lt at the ``cpu`` scale.

It runs the real method through the Method interface on the real data for ``--iterations`` iterations under
``torch.profiler`` (CPU activities, operator-level), then prints the top operators by self CPU time and a
per-phase split measured with wall clocks around each phase of a hand-driven iteration:

    data      index the uint8 training tensor and convert a batch to [-1, 1] (what the loop does)
    d_step    n_dis D updates (G forward without grad, D on reals and fakes, GP, conditional loss, Adam)
    g_step    one G update
    eval      one evaluation of both protocols (generation, features, FID/IS/KID/PR, diagnostics)

    .venv/bin/python benchmarks/profile_cpu_iteration.py [--method ecogan] [--g-cond concat] [--iterations 20]

Numbers depend on the machine's load: run it alone, and compare phases within one run.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.cli import parse_set
from bench.datasets.base import uint8_to_float
from bench.plan import make_plan
from bench.run.setup import build_method, data_info, load_train_set, make_evaluator, make_sampler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="ecogan")
    parser.add_argument("--g-cond", default="concat")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="config overrides, e.g. --set batch_size=16")
    args = parser.parse_args()

    overrides = ({"g_cond": args.g_cond} if args.method != "bagan" else {}) | parse_set(args.sets)
    plan = make_plan({"dataset": "digits_lt", "method": args.method}, scale="cpu", overrides=overrides)
    cfg = plan.config
    train_set = load_train_set(cfg)
    method = build_method(plan, data_info(train_set), torch.device("cpu"))
    sampler = make_sampler(cfg.sampling, train_set.labels, cfg.seed)
    images, labels = train_set.images, train_set.labels

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        index = sampler.next_indices(cfg.batch_size)
        return uint8_to_float(images[index]), labels[index]

    phases = {"data": 0.0, "d_step": 0.0, "g_step": 0.0}
    for _ in range(3):  # warm-up
        method.d_step(*batch())
        method.g_step()
    for _ in range(args.iterations):
        for _ in range(method.n_dis):
            t0 = time.perf_counter()
            x, y = batch()
            t1 = time.perf_counter()
            method.d_step(x, y)
            t2 = time.perf_counter()
            phases["data"] += t1 - t0
            phases["d_step"] += t2 - t1
        t0 = time.perf_counter()
        method.g_step()
        phases["g_step"] += time.perf_counter() - t0
    evaluator = make_evaluator(cfg, train_set, torch.device("cpu"))
    evaluator.evaluate(method, 0, "standard")  # builds the classifier and the reference features (cached)
    t0 = time.perf_counter()
    for protocol in cfg.protocols:
        evaluator.evaluate(method, 1, protocol)
    eval_s = time.perf_counter() - t0

    per_iteration = sum(phases.values()) / args.iterations
    print(f"{args.method} (g_cond {args.g_cond}), digits_lt at scale cpu: {cfg.image_size}x{cfg.image_size}, "
          f"batch {cfg.batch_size}, n_dis {method.n_dis}, {torch.get_num_threads()} threads")
    for name, seconds in phases.items():
        share = seconds / sum(phases.values())
        print(f"  {name:<7} {seconds / args.iterations * 1000:8.2f} ms/iteration  {share:6.1%}")
    print(f"  total   {per_iteration * 1000:8.2f} ms/iteration -> {cfg.steps} iterations ~ "
          f"{per_iteration * cfg.steps:.0f} s")
    evaluations = max(1, cfg.steps // cfg.eval_every)
    print(f"  eval    {eval_s:8.2f} s per evaluation ({', '.join(cfg.protocols)}) x {evaluations} = "
          f"{eval_s * evaluations:.0f} s")

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(max(1, args.iterations // 4)):
            for _ in range(method.n_dis):
                method.d_step(*batch())
            method.g_step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
