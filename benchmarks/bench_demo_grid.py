"""Wall time of the README's first command, the demo grid, as a user starts it:

    bench run --grid demo && bench gather --grid demo

in subprocesses, with a fresh results folder and (unless ``--keep-cache``) a fresh metrics cache in a temporary
folder, so the time includes training the reference classifier as a first run does. Prints the wall time of
each cell (as the scheduler reports it) and of the whole, the best FID of each cell with its protocol and
extractor, and the number of gathered rows. Target: under 15 minutes on 2 CPU cores.

    .venv/bin/python benchmarks/bench_demo_grid.py [--workers 1] [--set steps=100] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 15 * 60.0
CELL_LINE = re.compile(r"^\[\d+/\d+\] (?P<cell>\S+): (?P<state>\w+)(?P<rest>.*) \((?P<seconds>\d+)s\)$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", default="demo")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep-cache", action="store_true", help="use $BENCH_CACHE (a warm classifier cache)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary results folder and print it")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_demo_grid_"))
    env = dict(os.environ)
    if not args.keep_cache:
        env["BENCH_CACHE"] = str(work / "cache")
    results = work / "results"
    cmd = [sys.executable, "-m", "bench.cli", "run", "--grid", args.grid, "--workers", str(args.workers),
           "--results-root", str(results), *[x for s in args.sets for x in ("--set", s)]]
    print(" ".join(cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, bufsize=1)
    cells: list[tuple[str, str, int, str]] = []
    for line in proc.stderr:  # echo the progress, keep the per-cell lines
        sys.stderr.write(line)
        match = CELL_LINE.match(line.strip().split("\r")[-1])
        if match:
            cells.append((match["cell"], match["state"], int(match["seconds"]), match["rest"].strip(", ")))
    code = proc.wait()
    total = time.perf_counter() - start
    gathered = subprocess.run([sys.executable, "-m", "bench.cli", "gather", "--grid", args.grid, "--results-root",
                               str(results)], env=env, capture_output=True, text=True)
    csv_path = results / f"{args.grid}.csv"
    rows = len(csv_path.read_text().splitlines()) - 1 if csv_path.exists() else 0

    print(f"\n{'cell':<32} {'state':<8} {'seconds':>8}  best")
    for cell, state, seconds, rest in cells:
        print(f"{cell:<32} {state:<8} {seconds:>8}  {rest}")
    verdict = "INCOMPLETE run, not comparable to" if code != 0 else "within" if total <= TARGET_S else "OVER"
    print(f"total {total:.0f} s for {len(cells)} cells ({verdict} the {TARGET_S / 60:.0f}-minute target); "
          f"bench run exit {code}; gather exit {gathered.returncode}, {rows} rows in {csv_path.name}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if code == 0 and gathered.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
