"""How long ``bench report --html`` takes on a demo-sized grid.

Renders results/demo when it exists (``bench run --grid demo`` and ``bench gather --grid demo`` made it), else a
synthetic demo-sized results tree (6 cells, 4 evaluations each, 10 classes, paper + standard protocols) written by
the tests' fixture. Prints the seconds of each phase and the total; the target is well under 30 s on 2 cores.

    .venv/bin/python benchmarks/bench_report.py [--results-root results] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_fixture_module():
    spec = importlib.util.spec_from_file_location("report_fixture", ROOT / "tests" / "report" / "report_fixture.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["report_fixture"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def synthetic_demo(root: Path) -> None:
    fx = load_fixture_module()
    runs = [("bagan", "none", 0), ("ebgan", "none", 0), ("contragan", "none", 0), ("reacgan", "none", 0),
            ("ecogan", "none", 0), ("ecogan", "balanced", 0)]
    cells = [fx.CellSpec(f"{m}-{s}-s{seed}", f"{m} {s} seed {seed}", fx.axes("digits_lt", m, s, seed))
             for m, s, seed in runs]
    fx.write_results(root, "demo", cells, scale="cpu", protocols=("paper", "standard"), num_classes=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-root", type=Path, default=ROOT / "results")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    from bench.report import load_results, render_report
    from bench.report.figures import render_figures
    from bench.report.summary import summarize

    print(f"import bench.report (+ pandas, matplotlib, seaborn): {time.perf_counter() - t0:.2f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = args.results_root
        if (results / "demo.csv").is_file():
            source = f"{results}/demo"
        else:
            results = Path(tmp) / "results"
            synthetic_demo(results)
            source = "synthetic demo (6 cells x 4 evaluations x 10 classes, 2 protocols)"
        print(f"source: {source}")
        totals = []
        for i in range(args.repeat):
            t = time.perf_counter()
            data = load_results("demo", results)
            t_load = time.perf_counter() - t
            points, per_run, _ = summarize(data)
            t_sum = time.perf_counter() - t - t_load
            t_fig = time.perf_counter()
            render_figures(points, per_run, data.per_class, Path(tmp) / f"figs-{i}")
            t_fig = time.perf_counter() - t_fig
            t = time.perf_counter()
            page = render_report("demo", results_root=results, reports_root=Path(tmp) / "reports", html=True)
            totals.append(time.perf_counter() - t)
            print(f"run {i + 1}: load {t_load:.2f} s, summarize {t_sum:.2f} s, figures alone {t_fig:.2f} s, "
                  f"whole render_report {totals[-1]:.2f} s ({page.stat().st_size / 1e6:.1f} MB page)")
        print(f"render_report: best {min(totals):.2f} s, first {totals[0]:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
