"""What one evaluation costs at the cpu scale: both protocols of the demo's ECOGAN cell, as the training loop calls
them (generation, features, judge, D's class view, label sensitivity, bootstrap, every metric), on the scale's own
extractor — whatever this checkout's cpu scale says it is.

Run it alone on the machine (nothing else training), in each checkout to compare, with the same thread count:

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_eval_cost.py [--rounds 7]

The extractors and reference features are built once before timing (a run pays that once, in its first
evaluation); the median of ``--rounds`` timed evaluations of both protocols is printed, with the min and max. It uses
the run plan (``bench.plan.make_plan``), ``bench.run.setup`` and ``Evaluator.evaluate``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from bench.plan import make_plan
from bench.run.setup import build_method, data_info, load_train_set, make_evaluator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    plan = make_plan({"dataset": "digits_lt", "method": "ecogan", "g_cond": "concat",
                      "method_options": {"n_dis": 2}, "protocols": ["standard", "paper"]}, scale="cpu")
    cfg = plan.config
    torch.manual_seed(0)
    train_set = load_train_set(cfg)
    method = build_method(plan, data_info(train_set), torch.device("cpu"))
    with tempfile.TemporaryDirectory() as cache:
        os.environ["BENCH_CACHE"] = cache
        evaluator = make_evaluator(cfg, train_set, torch.device("cpu"))
        for protocol in cfg.protocols:  # extractors trained, reference features computed
            evaluator.evaluate(method, 0, protocol)
        times = []
        for step in range(1, args.rounds + 1):
            start = time.perf_counter()
            for protocol in cfg.protocols:
                evaluator.evaluate(method, step, protocol)
            times.append(time.perf_counter() - start)
    print(f"cpu scale, demo ECOGAN cell, protocols {'+'.join(cfg.protocols)}, extractor {cfg.extractor}, "
          f"{cfg.num_eval_samples} samples, bootstrap {cfg.bootstrap}, {torch.get_num_threads()} threads: "
          f"median {statistics.median(times):.2f} s per evaluation (min {min(times):.2f}, max {max(times):.2f}, "
          f"{args.rounds} rounds)")


if __name__ == "__main__":
    main()
