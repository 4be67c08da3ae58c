"""Wall time of one CPU-scale run, end to end, as a user starts it:

    bench run --dataset digits_lt --method ecogan --scale cpu

in a subprocess, with a fresh results folder and (unless ``--keep-cache``) a fresh metrics cache in a temporary
folder, so the time includes training the reference classifier as a first run does. Prints the wall time, the
FID of the first and the last evaluation with their protocol and extractor, and whether FID fell.
Target: under 5 minutes on 2 CPU cores.

    .venv/bin/python benchmarks/bench_cpu_run.py [--method ecogan] [--dataset digits_lt] [--set steps=100]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits_lt")
    parser.add_argument("--method", default="ecogan")
    parser.add_argument("--scale", default="cpu")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep-cache", action="store_true", help="use $BENCH_CACHE (a warm classifier cache)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary results folder and print it")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_cpu_run_"))
    env = dict(os.environ)
    if not args.keep_cache:
        env["BENCH_CACHE"] = str(work / "cache")
    bench = Path(sys.executable).with_name("bench")
    command = [str(bench) if bench.exists() else sys.executable, *([] if bench.exists() else ["-m", "bench.cli"]),
               "run", "--dataset", args.dataset, "--method", args.method, "--scale", args.scale,
               "--results-root", str(work / "results"), *[x for kv in args.sets for x in ("--set", kv)]]
    print("$", " ".join(command), file=sys.stderr)
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, check=False)
    wall = time.perf_counter() - start

    metrics = sorted((work / "results").rglob("metrics.csv"))
    print(f"wall time: {wall:.1f} s (target < {TARGET_S:.0f} s on 2 cores; torch threads {_threads()}), "
          f"exit code {proc.returncode}")
    if not metrics:
        print("no metrics.csv was written")
        return 1
    with metrics[0].open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["source"] == "train"]
    protocol = rows[0]["protocol"] if rows else None
    rows = [r for r in rows if r["protocol"] == protocol]
    if rows:
        first, last = rows[0], rows[-1]
        for name, row in (("first", first), ("last", last)):
            print(f"{name} evaluation: step {row['step']}  FID {float(row['fid']):.2f}  "
                  f"[{row['protocol']} protocol, {row['extractor']} features, reference {row['reference']}, "
                  f"n_fake {row['n_fake']}]")
        fell = float(last["fid"]) < float(first["fid"])
        print(f"FID fell: {'yes' if fell else 'no'} ({float(first['fid']):.2f} -> {float(last['fid']):.2f})")
    if args.keep:
        print(f"run folder: {metrics[0].parent}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return proc.returncode


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
