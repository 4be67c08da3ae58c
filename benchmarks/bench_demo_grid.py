"""Wall time of the README's first command, the demo grid, as a user starts it:

    bench run --grid demo && bench gather --grid demo

in subprocesses, with a fresh results folder and (unless ``--keep-cache``) a fresh metrics cache in a temporary
folder, so the time includes training the reference classifier as a first run does. Prints the wall time of
each cell (as the scheduler reports it) and of the whole, the best FID of each cell with its protocol and
extractor, and the number of gathered rows; then, per cell, its best conditional accuracy (and the judge's
accuracy on real images beside it), best FID, D's class accuracy on fakes and label sensitivity, from the
first protocol's rows. Targets on 2 CPU cores: each cell <= 150 s, the grid <= 15 minutes, every conditional
cell's best conditional accuracy >= 0.80 (the paper-conditioning cell is shown, not judged), BAGAN's best FID
<= 2x the best cell's.

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

TARGET_S = 15 * 60.0
CELL_TARGET_S = 150.0
COND_TARGET = 0.80
BAGAN_FACTOR = 2.0
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
    ok = conditioning_summary(results / args.grid, {cell: seconds for cell, _, seconds, _ in cells})
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if code == 0 and gathered.returncode == 0 and ok else 1


def best_rows(run: Path) -> dict[str, float] | None:
    """Best FID, best conditional accuracy (and the other diagnostics at their best) of a run's first protocol."""
    path = run / "metrics.csv"
    if not path.exists():
        return None
    rows = [r for r in csv.DictReader(path.open()) if r["source"] == "train"]
    if not rows:
        return None
    first = [r for r in rows if r["protocol"] == rows[0]["protocol"]]
    value = lambda r, k: float(r[k]) if r.get(k) not in (None, "") else math.nan  # noqa: E731
    by_acc = max(first, key=lambda r: value(r, "cond_acc"))
    return {"protocol": first[0]["protocol"], "extractor": first[0]["extractor"],
            "fid": min(value(r, "fid") for r in first), "cond_acc": value(by_acc, "cond_acc"),
            "judge_acc": value(by_acc, "judge_acc"), "d_acc_fake": value(by_acc, "d_acc_fake"),
            "label_sens": value(by_acc, "label_sens"), "step": int(by_acc["step"])}


def _missed(cells: list[str]) -> str:
    return f" (missed by {', '.join(cells)})" if cells else ""


def conditioning_summary(grid_dir: Path, seconds: dict[str, int]) -> bool:
    """Print the per-cell conditioning table and the verdict on each target; True when all hold."""
    runs = {p.name: best_rows(p) for p in sorted(grid_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    runs = {k: v for k, v in runs.items() if v}
    if not runs:
        return False
    print(f"\n{'cell':<40} {'s':>5} {'best FID':>9} {'cond acc':>9} {'judge':>6} {'D fake':>7} {'label sens':>10}"
          f"  (protocol {next(iter(runs.values()))['protocol']}, {next(iter(runs.values()))['extractor']} features)")
    for cell, r in runs.items():
        print(f"{cell:<40} {seconds.get(cell, 0):>5} {r['fid']:>9.2f} {r['cond_acc']:>9.3f} {r['judge_acc']:>6.3f} "
              f"{r['d_acc_fake']:>7.3f} {r['label_sens']:>10.2f}  @{r['step']}")
    best_fid = min(r["fid"] for r in runs.values())
    judged = {c: r for c, r in runs.items() if "-g_" in c or "-bagan-" in c}  # the paper-conditioning cell is shown
    slow = [c for c, s in seconds.items() if s > CELL_TARGET_S]
    unconditioned = [c for c, r in judged.items() if r["cond_acc"] < COND_TARGET]
    far = [c for c, r in runs.items() if "-bagan-" in c and r["fid"] > BAGAN_FACTOR * best_fid]
    checks = {  # each names the cells that miss it (with --set seed=[...] every seed's cell is judged)
        f"every cell <= {CELL_TARGET_S:.0f} s{_missed(slow)}": not slow,
        f"conditional accuracy >= {COND_TARGET} for the {len(judged)} -g_/bagan cells{_missed(unconditioned)}":
            not unconditioned,
        f"BAGAN best FID <= {BAGAN_FACTOR:g} x best ({best_fid:.2f}){_missed(far)}": not far,
    }
    for name, held in checks.items():
        print(f"{'holds' if held else 'FAILS'}: {name}")
    return all(checks.values())


if __name__ == "__main__":
    sys.exit(main())
