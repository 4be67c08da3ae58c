"""Behaviour check of a refactor: the smoke grid trained by a base commit and by this checkout gives the same CSVs.

    .venv/bin/python benchmarks/check_refactor_identity.py [--base 8b0bea6] [--grid smoke] [--keep DIR]

The base commit is checked out with ``git worktree add`` into a temporary folder; each tree runs
``bench run --grid GRID --workers 1`` and ``bench gather`` on the CPU (one thread, ``CUDA_VISIBLE_DEVICES=""``)
with ``bench``, ``bench.methods`` and ``bench.datasets`` imported from that tree in every process (checked
before it runs), its own empty results folder and its own empty metrics cache (so each trains its own
reference classifier). Then it compares, for the two trees:

- the gathered CSV (``results/<grid>.csv``), row by row;
- every run's ``metrics.csv``, ``per_class.csv`` and ``losses.csv``, row by row.

Columns only the new tree writes are listed and left out of the comparison; every shared column must be equal
as text (bit-exact floats). The config hash is not a CSV column; it changes by design when the refactor adds the
resolved hyperparameters to it, so it is printed, not compared. Exit status 0 = identical, 1 = a difference (the
first few are printed), 2 = a tree failed to run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN_CSVS = ("metrics.csv", "per_class.csv", "losses.csv")


SITECUSTOMIZE = """import os, sys
from importlib.machinery import PathFinder
from importlib.util import spec_from_file_location
from pathlib import Path
ROOT = os.environ.get("BENCH_TREE")
if ROOT:
    FOLDERS = {"bench": "bench", "bench.methods": "methods", "bench.datasets": "datasets"}
    class TreeFinder:
        @classmethod
        def find_spec(cls, fullname, path=None, target=None):
            if fullname in FOLDERS:
                folder = Path(ROOT, FOLDERS[fullname])
                return spec_from_file_location(fullname, folder / "__init__.py",
                                               submodule_search_locations=[str(folder)])
            return None
    sys.meta_path.insert(0, TreeFinder)
"""
BENCH = "import sys; from bench.cli import main; sys.argv = ['bench', *sys.argv[1:]]; main()"
WHERE = ("import bench, bench.methods, bench.datasets; "
         "print(bench.__file__, bench.methods.__file__, bench.datasets.__file__)")


def tree_env(tree: Path, work: Path) -> dict[str, str]:
    """The environment of a tree's processes: ``bench``, ``bench.methods`` and ``bench.datasets`` import from
    ``tree`` in every process (the scheduler's worker subprocesses included: a ``sitecustomize`` on PYTHONPATH
    puts a finder first), one CPU thread, no GPU, an empty metrics cache of its own."""
    boot = work / "boot"
    boot.mkdir(exist_ok=True)
    (boot / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env.update(BENCH_TREE=str(tree), BENCH_CACHE=str(work / "cache"), PYTHONPATH=str(boot), OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", TQDM_DISABLE="1")
    return env


def run_tree(tree: Path, grid: str, work: Path) -> Path:
    """Train and gather ``grid`` with the code of ``tree``; returns its results folder."""
    results, env = work / "results", tree_env(tree, work)
    where = subprocess.run([sys.executable, "-c", WHERE], env=env, cwd=work, capture_output=True, text=True)
    paths = where.stdout.split()
    if where.returncode != 0 or not paths or not all(Path(p).is_relative_to(tree) for p in paths):
        print(f"  {tree}: bench does not import from the tree: {where.stdout}{where.stderr}", file=sys.stderr)
        raise SystemExit(2)
    for args in (["run", "--grid", grid, "--workers", "1", "--results-root", str(results)],
                 ["gather", "--grid", grid, "--results-root", str(results)]):
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", BENCH, *args], env=env, cwd=work, capture_output=True, text=True)
        print(f"  {tree.name}: bench {args[0]} exit {proc.returncode} ({time.monotonic() - start:.0f}s under load)")
        if proc.returncode != 0:
            print("\n".join((proc.stdout + proc.stderr).splitlines()[-15:]), file=sys.stderr)
            raise SystemExit(2)
    return results


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def compare(old_path: Path, new_path: Path, label: str, added: set[str]) -> list[str]:
    """Differences between two CSVs on their shared columns; columns only the new one has go into ``added``."""
    if not old_path.exists() or not new_path.exists():
        return [f"{label}: present in {'new' if new_path.exists() else 'old'} tree only"]
    old_cols, old_rows = read(old_path)
    new_cols, new_rows = read(new_path)
    missing = [c for c in old_cols if c not in new_cols]
    added.update(f"{label.split('/')[-1]}:{c}" for c in new_cols if c not in old_cols)
    problems = [f"{label}: column {c!r} dropped by the new tree" for c in missing]
    if len(old_rows) != len(new_rows):
        problems.append(f"{label}: {len(old_rows)} rows before, {len(new_rows)} after")
    shared = [c for c in old_cols if c in new_cols]
    for i, (a, b) in enumerate(zip(old_rows, new_rows, strict=False)):
        for c in shared:
            if a[c] != b[c]:
                problems.append(f"{label} row {i + 2} column {c}: {a[c]!r} -> {b[c]!r}")
    return problems


def config_hashes(results: Path) -> dict[str, str]:
    return {p.parent.name: json.loads(p.read_text())["hash"] for p in sorted(results.glob("*/*/config.json"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="8b0bea6", help="the commit before the refactor")
    parser.add_argument("--grid", default="smoke")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="refactor-identity-"))
    work.mkdir(parents=True, exist_ok=True)
    base_tree = work / "base-tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(base_tree), args.base],
                   check=True, capture_output=True)
    try:
        print(f"grid {args.grid!r}: base {args.base} ({base_tree}) vs this checkout ({ROOT}), CPU, 1 thread")
        (work / "old").mkdir(exist_ok=True)
        (work / "new").mkdir(exist_ok=True)
        old = run_tree(base_tree, args.grid, work / "old")
        new = run_tree(ROOT, args.grid, work / "new")
        added: set[str] = set()
        problems = compare(old / f"{args.grid}.csv", new / f"{args.grid}.csv", f"{args.grid}.csv", added)
        runs = sorted(p.parent.relative_to(old) for p in old.glob("*/*/config.json"))
        new_runs = sorted(p.parent.relative_to(new) for p in new.glob("*/*/config.json"))
        if runs != new_runs:
            problems.append(f"run folders differ: {runs} vs {new_runs}")
        for run in runs:
            for name in RUN_CSVS:
                problems += compare(old / run / name, new / run / name, f"{run}/{name}", added)
        rows = len(read(new / f"{args.grid}.csv")[1])
        print(f"compared: {args.grid}.csv ({rows} rows) and {len(runs)} runs x {len(RUN_CSVS)} CSVs")
        print(f"columns only the new tree writes (not compared): {', '.join(sorted(added)) or 'none'}")
        old_hash, new_hash = config_hashes(old), config_hashes(new)
        changed = sum(old_hash[k] != new_hash.get(k) for k in old_hash)
        print(f"config hash: changed for {changed} of {len(old_hash)} runs (by design when the refactor adds the "
              f"resolved hyperparameters to it)")
        if problems:
            print(f"DIFFERENT: {len(problems)} difference(s); first ones:")
            print("\n".join(f"  {p}" for p in problems[:20]))
            return 1
        print("IDENTICAL: every shared column of every compared CSV is equal")
        return 0
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], capture_output=True)
        if args.keep is None:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
