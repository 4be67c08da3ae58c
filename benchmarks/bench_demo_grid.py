"""Wall time of the README's first command, the demo grid, as a user starts it:

    bench run --grid demo && bench gather --grid demo

in subprocesses, with a fresh results folder and (unless ``--keep-cache``) a fresh metrics cache in a temporary
folder, so the time includes training the reference classifier as a first run does. Prints the wall time of
each cell (as the scheduler reports it) and of the whole, and the number of gathered rows; then, per cell, its
best evaluation as bench picks it (the lowest FID among the evaluations that are not collapsed) from the first
protocol's rows: FID, coverage, diversity (mean and worst class), conditional accuracy beside the judge's own
accuracy on real images, label sensitivity and the collapse verdict. Every claim that a cell "works" names these
together; no single number is a target. Time targets on 2 CPU cores: each cell <= 150 s, the grid <= 15 minutes.

    .venv/bin/python benchmarks/bench_demo_grid.py [--workers 1] [--set steps=100] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.metrics.collapse import selection_key

TARGET_S = 15 * 60.0
CELL_TARGET_S = 150.0
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
    ok = health_summary(results / args.grid, {cell: seconds for cell, _, seconds, _ in cells})
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if code == 0 and gathered.returncode == 0 and ok else 1


def best_row(run: Path) -> dict[str, float] | None:
    """The best evaluation of a run's first protocol, chosen as bench chooses it (the lowest FID among evaluations
    that are not collapsed: ``bench.metrics.collapse.selection_key``), with every number at that step."""
    path = run / "metrics.csv"
    if not path.exists():
        return None
    rows = [r for r in csv.DictReader(path.open()) if r["source"] == "train"]
    if not rows:
        return None
    first = [r for r in rows if r["protocol"] == rows[0]["protocol"]]
    value = lambda r, k: float(r[k]) if r.get(k) not in (None, "") else math.nan  # noqa: E731
    best = min(first, key=lambda r: selection_key(value(r, "fid"), bool(value(r, "collapsed") == 1)))
    out = {k: value(best, k) for k in ("fid", "coverage", "density", "diversity", "diversity_min", "cond_acc",
                                       "judge_acc", "label_sens", "collapsed", "collapsed_classes")}
    return out | {"protocol": best["protocol"], "extractor": best["extractor"], "step": int(best["step"])}


def health_summary(grid_dir: Path, seconds: dict[str, int]) -> bool:
    """Print, per cell, its best evaluation: FID, coverage, diversity, conditional accuracy (and the judge's), the
    collapse verdict; then the checks. True when every cell finished within its time target."""
    runs = {p.name: best_row(p) for p in sorted(grid_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    runs = {k: v for k, v in runs.items() if v}
    if not runs:
        return False
    first = next(iter(runs.values()))
    print(f"\n{'cell':<44} {'s':>5} {'FID':>7} {'cover':>6} {'divers':>6} {'min div':>7} {'acc':>6} {'judge':>6} "
          f"{'l.sens':>6} {'verdict':>10}  (best step; protocol {first['protocol']}, {first['extractor']} features)")
    for cell, r in runs.items():
        verdict = "COLLAPSED" if r["collapsed"] == 1 else "healthy"
        flags = " stereotypes" if r["cond_acc"] > r["judge_acc"] else ""
        print(f"{cell:<44} {seconds.get(cell, 0):>5} {r['fid']:>7.2f} {r['coverage']:>6.3f} {r['diversity']:>6.2f} "
              f"{r['diversity_min']:>7.2f} {r['cond_acc']:>6.3f} {r['judge_acc']:>6.3f} {r['label_sens']:>6.2f} "
              f"{verdict:>10}  @{r['step']}{flags}")
    slow = [c for c, s in seconds.items() if s > CELL_TARGET_S]
    collapsed = [c for c, r in runs.items() if r["collapsed"] == 1]
    print(f"{'holds' if not slow else 'FAILS'}: every cell <= {CELL_TARGET_S:.0f} s{_missed(slow)}")
    print(f"collapsed (no healthy evaluation): {len(collapsed)} of {len(runs)} cells"
          f"{': ' + ', '.join(collapsed) if collapsed else ''}")
    return not slow


def _missed(cells: list[str]) -> str:
    return f" (missed by {', '.join(cells)})" if cells else ""


if __name__ == "__main__":
    sys.exit(main())
