"""A lab grid on real CIFAR-10, as a user runs it, with each cell's time, phases and health (not in CI).

    .venv/bin/python benchmarks/bench_lab_grid.py [--grid table3-lab] [--archive ../shared/data/cifar10-jpeg.tar.gz]
        [--data DIR] [--results DIR] [--only seed=0] [--seeds 3] [--precision auto|fp32|both] [--workers 1]
        [--set KEY=VALUE ...] [--estimate-only]

1. Extracts the CIFAR-10 archive (``train/<class>/``, ``test/<class>/``) into ``--data`` (default: a folder in the
   system's temporary directory, outside the repository; kept, so a second run skips this), which bench reads as
   an image-folder copy of CIFAR-10 (``--data-root``).
2. Prints the dry run's estimate of each cell (``bench run --dry-run``: phase budgets, calibrated times).
3. Runs ``bench run --grid <grid> --data-root <data>`` in a subprocess, as a user does, with a metrics cache of its
   own (``--results``/cache, kept: the judge trains once), once per precision asked for: ``auto`` (the scale's
   default: bf16 + channels_last on a CPU with bf16 units), ``fp32`` (``--set bf16=false channels_last=false``), or
   ``both``.
4. Prints per cell: the measured seconds against the estimate, the phase split (``speed.json``), best FID of each
   protocol, and at the best standard-protocol step the conditional accuracy, the judge's accuracy, coverage,
   density, diversity and the collapse verdict where metrics.csv has those columns.
5. With ``--precision both`` and several seeds, per cell and metric: each precision's mean ± sd over seeds, the
   difference and Welch's p (bf16 against fp32: "within seed noise" when p >= 0.05).

Set ``OMP_NUM_THREADS`` (and note ``uptime``): the times are this machine's, under its load.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHASES = ("data", "judge", "reference", "pretraining", "training", "evaluation")  # bench.speed.PHASES
ARCHIVE = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
PRECISIONS = {"auto": [], "fp32": ["--set", "bf16=false", "--set", "channels_last=false"]}
HEALTH = ("coverage", "density", "diversity", "collapsed")  # metrics.csv columns printed when present
COMPARED = ("fid_standard", "fid_paper", "cond_acc", "coverage", "diversity")
PRECISION_SUFFIX = re.compile(r"(-bf16)?(-chlast)?$")


def extract(archive: Path, data: Path) -> Path:
    """``archive`` extracted into ``data`` (skipped when ``data/train`` and ``data/test`` exist); returns ``data``."""
    if (data / "train").is_dir() and (data / "test").is_dir():
        return data
    if REPO in data.resolve().parents or data.resolve() == REPO:
        raise SystemExit(f"--data {data} is inside the repository; extract the images outside it")
    data.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tarfile.open(archive) as tar:
        tar.extractall(data, filter="data")
    print(f"extracted {archive} into {data} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return data


def bench(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.cli", *args]


def run_grid(args: argparse.Namespace, data: Path, results: Path, precision: str, env: dict[str, str]) -> float:
    """``bench run`` of the grid at one precision; returns the wall seconds."""
    common = ["--grid", args.grid, "--data-root", str(data), "--results-root", str(results),
              *(["--only", args.only] if args.only else []), *(["--seeds", str(args.seeds)] if args.seeds else []),
              *[x for s in args.sets for x in ("--set", s)], *PRECISIONS[precision]]
    dry = subprocess.run(bench("run", *common, "--dry-run", "--workers", str(args.workers)), env=env,
                         text=True, capture_output=True)
    print(dry.stdout)
    if dry.returncode != 0:
        raise SystemExit(dry.stderr.strip().splitlines()[-1] if dry.stderr.strip() else "the dry run failed")
    (results / f"estimate-{precision}.txt").write_text(dry.stdout)
    if args.estimate_only:
        return 0.0
    start = time.perf_counter()
    code = subprocess.call(bench("run", *common, "--workers", str(args.workers)), env=env)
    wall = time.perf_counter() - start
    print(f"bench run ({precision}) exit {code} after {wall:.0f} s", file=sys.stderr)
    return wall


def estimates(text: str) -> dict[str, float]:
    """The dry run's estimated total seconds per cell (its time table: ``... <total> <unit> <from>``)."""
    out: dict[str, float] = {}
    if "estimated time on this machine" not in text:
        return out
    table = text.split("estimated time on this machine")[-1].splitlines()[2:]
    for line in table:
        words = line.split()
        values = re.findall(r"\?|\d+(?:\.\d+)? (?:s|min)", line[len(words[0]):] if words else "")
        if len(values) > len(PHASES) and values[len(PHASES)] != "?":  # the phases, then the total
            number, unit = values[len(PHASES)].split()
            out[words[0]] = float(number) * (60 if unit == "min" else 1)
    return out


def number(row: dict[str, str], key: str) -> float:
    value = row.get(key)
    try:
        return float(value) if value not in (None, "") else math.nan
    except ValueError:
        return math.nan


def cell_summary(run: Path) -> dict[str, object] | None:
    """Time, phases and the metrics of one run folder (None when it has no metrics)."""
    path = run / "metrics.csv"
    if not path.exists():
        return None
    rows = [r for r in csv.DictReader(path.open()) if r["source"] == "train"]
    by_protocol = {p: [r for r in rows if r["protocol"] == p] for p in {r["protocol"] for r in rows}}
    out: dict[str, object] = {"extractor": rows[0]["extractor"] if rows else "?"}
    for protocol, group in by_protocol.items():
        out[f"fid_{protocol}"] = min(number(r, "fid") for r in group)
    standard = by_protocol.get("standard") or next(iter(by_protocol.values()), [])
    if standard:
        best = min(standard, key=lambda r: number(r, "fid"))
        out["step"] = int(best["step"])
        for key in ("cond_acc", "judge_acc", *HEALTH):
            if key in best:
                out[key] = best[key] if key == "collapsed" else number(best, key)
        out["cond_acc_max"] = max(number(r, "cond_acc") for r in standard)
    speed = run / "speed.json"
    if speed.exists():
        record = json.loads(speed.read_text())
        out["phases"] = record.get("phases", {})
        out["seconds"] = sum(record.get("phases", {}).values())
        out["dtype"] = record.get("dtype")
    return out


def fmt(value: object, digits: int = 3) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def report(results: Path, grid_key: str, estimate: dict[str, float]) -> dict[str, dict[str, object]]:
    """Print the per-cell table of one precision's runs (the cells its dry run listed, ``estimate``'s keys);
    return the summaries by cell id."""
    folder = results / grid_key
    runs = {cell: cell_summary(folder / cell) for cell in estimate if (folder / cell).is_dir()}
    runs = {k: v for k, v in runs.items() if v}
    header = (f"{'cell':<58} {'s':>6} {'est.':>6} {'ratio':>5} {'FID std':>8} {'FID paper':>9} {'cond':>6} "
              f"{'judge':>6} {'cover':>6} {'divers':>6} {'collapsed':>9}  phases")
    print(header)
    for cell, r in runs.items():
        seconds = r.get("seconds")
        est = estimate.get(cell)
        ratio = (est / seconds) if est and seconds else None
        phases = ", ".join(f"{k} {v:.0f}" for k, v in (r.get("phases") or {}).items())
        print(f"{cell:<58} {fmt(seconds, 0):>6} {fmt(est, 0):>6} {fmt(ratio, 2):>5} {fmt(r.get('fid_standard'), 2):>8} "
              f"{fmt(r.get('fid_paper'), 2):>9} {fmt(r.get('cond_acc')):>6} {fmt(r.get('judge_acc')):>6} "
              f"{fmt(r.get('coverage')):>6} {fmt(r.get('diversity')):>6} {fmt(r.get('collapsed')):>9}  {phases}")
    if runs:
        extractor = next(iter(runs.values()))["extractor"]
        print(f"(FIDs: standard and paper protocols, {extractor} features, the minimum over the evaluations; the "
              f"other columns at the standard protocol's best step; s = speed.json's phases summed, est. = the dry "
              f"run's estimate, ratio = est. / s)")
    return runs


def compare(by_precision: dict[str, dict[str, dict[str, object]]]) -> None:
    """bf16 (the auto default on a CPU with bf16 units) against fp32: mean ± sd over seeds, difference, Welch p."""
    from scipy import stats

    def grouped(runs: dict[str, dict[str, object]]) -> dict[str, list[dict[str, object]]]:
        out: dict[str, list[dict[str, object]]] = {}
        for cell, r in runs.items():
            base = re.sub(r"-s\d+(?=-|$)", "", PRECISION_SUFFIX.sub("", cell))
            out.setdefault(base, []).append(r)
        return out

    fast, fp32 = grouped(by_precision["auto"]), grouped(by_precision["fp32"])
    print(f"\n{'cell (seeds pooled)':<50} {'metric':<13} {'bf16 mean ± sd':>17} {'fp32 mean ± sd':>17} {'diff':>8} "
          f"{'p':>6}  verdict")
    for base in sorted(set(fast) & set(fp32)):
        for metric in COMPARED:
            a = [float(r[metric]) for r in fast[base] if isinstance(r.get(metric), float)]
            b = [float(r[metric]) for r in fp32[base] if isinstance(r.get(metric), float)]
            if not a or not b:
                continue
            sd = lambda v: statistics.stdev(v) if len(v) > 1 else math.nan  # noqa: E731
            p = stats.ttest_ind(a, b, equal_var=False).pvalue if len(a) > 1 and len(b) > 1 else math.nan
            verdict = "within seed noise" if p >= 0.05 else "differs" if p < 0.05 else "one seed: no test"
            print(f"{base:<50} {metric:<13} {statistics.mean(a):>8.3f} ± {fmt(sd(a)):>6} "
                  f"{statistics.mean(b):>8.3f} ± {fmt(sd(b)):>6} {statistics.mean(a) - statistics.mean(b):>8.3f} "
                  f"{fmt(p):>6}  {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", default="table3-lab")
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "bench-cifar10-jpeg")
    parser.add_argument("--results", type=Path, default=Path(tempfile.gettempdir()) / "bench-lab-results")
    parser.add_argument("--only", default=None)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--precision", choices=["auto", "fp32", "both"], default="auto")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--estimate-only", action="store_true", help="print the dry run's estimates and stop")
    args = parser.parse_args()

    data = extract(args.archive, args.data)
    args.results.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("BENCH_CACHE", str(args.results / "cache"))
    print(f"OMP_NUM_THREADS={env.get('OMP_NUM_THREADS', '(unset)')}; "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", file=sys.stderr)
    precisions = ["auto", "fp32"] if args.precision == "both" else [args.precision]
    by_precision = {}
    for precision in precisions:
        wall = run_grid(args, data, args.results, precision, env)
        if args.estimate_only:
            continue
        estimate = estimates((args.results / f"estimate-{precision}.txt").read_text())
        print(f"\n== {args.grid}, precision {precision}: {wall:.0f} s in all "
              f"({subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()})")
        by_precision[precision] = report(args.results, args.grid, estimate)  # run at its own scale: key = name
    if len(by_precision) == 2:
        compare(by_precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
