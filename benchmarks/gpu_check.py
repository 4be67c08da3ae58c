"""A prepared check of one GPU (≤ 8 minutes): how fast the table-3 and table-1 cells train on it, how many fit
at once, whether a short run learns, whether a killed run resumes to the same metrics, and what the two tables
would cost in GPU-hours there. Writes ``gpu_check.json`` and ``gpu_check.md`` into ``--out``.

Cell types (ECOGAN's table 3 and table 1 at their paper budgets):
    table3: ecogan, ebgan, bagan on dcgan64, 64x64, batch 128 (pretraining not timed)
    table1: contragan, reacgan, ecogan on biggan32, 32x32, batch 64, div 1 (balanced) and div 4 (long-tailed)

For each type: iterations/s in fp32, bf16 (forward autocast) and, for one type per backbone, compiled
(``torch.compile``; a failure is recorded, not fatal); peak memory; how many cells fit in the GPU's memory;
for the smallest of each table the aggregate iterations/s of K cells at once (``--cells-per-gpu K``, one
process each). Then a 300-iteration ECOGAN run on the embedded digits (cpu scale, ``classifier`` features)
whose FID should fall, a run SIGKILLed after a checkpoint and resumed, compared with an uninterrupted one, and
the projected GPU-hours of the table3 and table1 grids (one cell at a time, and packed).

    python benchmarks/gpu_check.py [--out gpu_check] [--device cuda] [--budget-s 480]
    python benchmarks/gpu_check.py --device cpu --tiny      # the same stages in seconds (CI; tiny nets; no
                                                            # compile unless --compile, packing of table3 only)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

NUM_CLASSES = 10
CIFAR10_LT_COUNTS = [5000] + [100 * c for c in range(1, NUM_CLASSES)]


@dataclass
class CellType:
    """One kind of cell: a table's method on its backbone and budget shape."""

    table: str
    method: str
    backbone: str
    image_size: int
    batch_size: int
    div: int = 1
    compile: bool = False  # also time it compiled

    @property
    def key(self) -> str:
        return f"{self.table}:{self.method}:{self.backbone}" + (f":div{self.div}" if self.table == "table1" else "")


def cell_types(tiny: bool) -> list[CellType]:
    """The cell types to measure; ``tiny``: the same list on the tiny backbone at 16x16, batch 8."""
    types = [CellType("table3", m, "dcgan64", 64, 128, compile=m == "ecogan") for m in ("ecogan", "ebgan", "bagan")]
    types += [CellType("table1", m, "biggan32", 32, 64, div, compile=m == "ecogan" and div == 4)
              for div in (1, 4) for m in ("contragan", "reacgan", "ecogan")]
    if tiny:
        types = [CellType(t.table, t.method, "tiny", 16, 8, t.div, t.compile) for t in types]
    return types


# -- timing one cell type ----------------------------------------------------------------------------
def build(t: CellType, device: Any, bf16: bool = False, compiled: bool = False) -> Any:
    """The method of cell type ``t`` on ``device``, ready for steps (pretraining skipped)."""
    import torch

    from bench.methods import get_method
    from bench.methods.base import MethodConfig

    torch.manual_seed(0)
    options = {"div": t.div} if t.method in ("contragan", "reacgan", "ecogan") and t.backbone == "biggan32" else {}
    config = MethodConfig(num_classes=NUM_CLASSES, image_size=t.image_size, channels=3, backbone=t.backbone,
                          quirks="paper", batch_size=t.batch_size, class_counts=CIFAR10_LT_COUNTS, options=options)
    method = get_method(t.method)(config, device)
    method.amp_dtype = torch.bfloat16 if bf16 else None
    if compiled:
        for module in (method.G, method.D):
            module.compile()
    return method


def iterate(method: Any, x: Any, y: Any, step: int) -> None:
    """One loop iteration: n_dis D steps on (x, y), a G step, the EMA, the losses to the host once."""
    from bench.methods.base import losses_to_floats

    losses = [method.d_step(x, y) for _ in range(method.n_dis)] + [method.g_step()]
    method.update_ema(step)
    losses_to_floats(losses)


def time_type(t: CellType, device_name: str, iters: int, warmup: int, bf16: bool = False,
              compiled: bool = False, seconds: float | None = None) -> dict[str, Any]:
    """Iterations/s of cell type ``t`` (median over ``iters`` timed iterations after ``warmup``, or as many as
    fit in ``seconds``) and the peak memory; an error becomes ``{"error": ...}``."""
    import torch

    device = torch.device(device_name)
    try:
        method = build(t, device, bf16, compiled)
        gen = torch.Generator().manual_seed(0)
        x = (torch.rand(t.batch_size, 3, t.image_size, t.image_size, generator=gen) * 2 - 1).to(device)
        y = torch.multinomial(torch.tensor(CIFAR10_LT_COUNTS, dtype=torch.float), t.batch_size, True,
                              generator=gen).to(device)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        for step in range(1, warmup + 1):
            iterate(method, x, y, step)
        sync()
        warm_s = time.perf_counter() - start
        times: list[float] = []
        deadline = time.perf_counter() + seconds if seconds else None
        step = warmup
        while (len(times) < iters) if deadline is None else (time.perf_counter() < deadline or not times):
            step += 1
            start = time.perf_counter()
            iterate(method, x, y, step)
            sync()
            times.append(time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        return {"it_per_s": 1.0 / statistics.median(times), "iterations": len(times), "warmup_s": warm_s,
                "peak_bytes": peak}
    except Exception as err:  # recorded in the report (compile of a double backward, out of memory...)
        return {"error": f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}"}


def throughput_worker(args: argparse.Namespace) -> int:
    """``--throughput-worker KEY``: time cell type KEY for ``--seconds`` and print one JSON line."""
    t = next(c for c in cell_types(args.tiny) if c.key == args.throughput_worker)
    print(json.dumps(time_type(t, args.device, 0, args.warmup, seconds=args.seconds)), flush=True)
    return 0


def _forked_timing(t: CellType, args: argparse.Namespace, queue: Any) -> None:
    import torch

    torch.set_num_threads(1)  # as DataLoader workers do: a forked child keeps out of the parent's thread pool
    queue.put(time_type(t, args.device, 0, args.warmup, seconds=args.seconds))


def aggregate(t: CellType, k: int, args: argparse.Namespace) -> dict[str, Any]:
    """Sum of the iterations/s of ``k`` processes training cell type ``t`` at once on the device: fresh
    interpreters on CUDA (one CUDA context each, as ``--cells-per-gpu`` workers have); forks of this one on
    CPU (a dry run: no second import of torch)."""
    if args.device == "cpu":
        import multiprocessing

        context = multiprocessing.get_context("fork")
        queue = context.SimpleQueue()
        children = [context.Process(target=_forked_timing, args=(t, args, queue)) for _ in range(k)]
        for child in children:
            child.start()
        results = [queue.get() for _ in children]
        for child in children:
            child.join()
        return _aggregate(k, results)
    command = [sys.executable, str(Path(__file__).resolve()), "--throughput-worker", t.key, "--device", args.device,
               "--seconds", str(args.seconds), "--warmup", str(args.warmup)] + (["--tiny"] if args.tiny else [])
    env = dict(os.environ)
    if args.device == "cpu":
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // k))
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(k)]
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return _aggregate(k, results)


def _aggregate(k: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        return {"cells": k, "error": errors[0]}
    return {"cells": k, "aggregate_it_per_s": sum(r["it_per_s"] for r in results),
            "per_cell_it_per_s": statistics.mean(r["it_per_s"] for r in results)}


# -- learning and resuming ---------------------------------------------------------------------------
def short_run(device: str, tiny: bool) -> Any:
    """The config of the short ECOGAN run on digits_lt: 300 iterations at cpu scale (tiny: 6 at smoke scale),
    evaluated every 100 (tiny: 3), checkpointed every 10 (tiny: 1)."""
    from bench.plan import make_plan

    sets = {"steps": 6, "eval_every": 3, "ckpt_every": 1} if tiny else {"steps": 300, "eval_every": 100,
                                                                        "ckpt_every": 10}
    return make_plan({"dataset": "digits_lt", "method": "ecogan", "device": device, **sets},
                     scale="smoke" if tiny else "cpu")


def fid_run(device: str, tiny: bool, root: Path) -> dict[str, Any]:
    """The short ECOGAN run (:func:`short_run`) in ``root/fid``: its FIDs, and whether they fall."""
    from bench.run.launch import train

    cfg = short_run(device, tiny)
    start = time.perf_counter()
    outcome = train(cfg, root / "fid", progress=False)
    rows = _metrics(root / "fid")
    fids = [float(r["fid"]) for r in rows if r["protocol"] == rows[0]["protocol"]] if rows else []
    return {"status": outcome.status, "steps": cfg.config.steps, "seconds": time.perf_counter() - start, "fids": fids,
            "extractor": rows[0]["extractor"] if rows else None, "fid_falls": len(fids) > 1 and fids[-1] < fids[0]}


def _metrics(run: Path) -> list[dict[str, str]]:
    import csv

    path = run / "metrics.csv"
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


RUNNER = ("import json, sys; from bench.plan import RunPlan; from bench.run.launch import train; "
          "train(RunPlan.from_json(json.loads(sys.argv[1])), sys.argv[2], progress=False)")


def kill_resume(device: str, tiny: bool, root: Path) -> dict[str, Any]:
    """The short run again, SIGKILLed after its first evaluation and resumed: the same metrics as the
    uninterrupted one of :func:`fid_run` in ``root/fid``?"""
    from bench.run.launch import train

    cfg = short_run(device, tiny)
    if not (root / "fid" / "metrics.csv").exists():
        train(cfg, root / "fid", progress=False)
    run = root / "killed"
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(cfg.to_json()), str(run)])
    status, killed_at = run / "status.json", None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if status.exists():
            try:
                step = json.loads(status.read_text())["step"]
            except (ValueError, KeyError):
                step = 0
            if step >= cfg.config.eval_every:
                killed_at = step
                break
        time.sleep(0.01)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    outcome = train(cfg, run, progress=False)
    ref, other = _metrics(root / "fid"), _metrics(run)
    same_bytes = (root / "fid" / "metrics.csv").read_bytes() == (run / "metrics.csv").read_bytes()
    diffs = [abs(float(a["fid"]) - float(b["fid"])) for a, b in zip(ref, other, strict=False)]
    return {"killed_at_step": killed_at, "killed": killed_at is not None, "status": outcome.status,
            "rows": [len(ref), len(other)], "metrics_identical": same_bytes,
            "max_fid_difference": max(diffs) if diffs else None}


# -- projection --------------------------------------------------------------------------------------
def projection(types: list[CellType], speeds: dict[str, dict[str, Any]], packing: dict[str, dict[str, Any]]
               ) -> dict[str, Any]:
    """GPU-hours of the table3 and table1 grids at paper scale from the measured fp32 iterations/s: one cell at
    a time, and packed at the best measured cells-per-GPU speed-up of the table (pretraining, evaluation and
    checkpoints not included)."""
    from bench.grid import load_grid

    out: dict[str, Any] = {}
    for table in ("table3", "table1"):
        cells = load_grid(table).cells("paper")
        by_method = {(t.method, t.div): t for t in types if t.table == table}
        hours = 0.0
        missing = []
        for cell in cells:
            div = int(cell.config.method_options.get("div", 1)) if table == "table1" else 1
            t = by_method.get((cell.config.method, div))
            speed = speeds.get(t.key, {}).get("fp32", {}).get("it_per_s") if t else None
            if not speed:
                missing.append(cell.id)
                continue
            hours += cell.config.steps / speed / 3600
        best = packing.get(table, {})
        gain = best.get("speedup", 1.0)
        out[table] = {"cells": len(cells), "gpu_hours_sequential": hours, "packed_cells_per_gpu": best.get("cells", 1),
                      "gpu_hours_packed": hours / gain, "cells_without_speed": missing}
    return out


# -- report ------------------------------------------------------------------------------------------
def markdown(report: dict[str, Any]) -> str:
    lines = [f"# GPU check: {report['device_name']}", "",
             f"{report['when']}; torch {report['torch']}; device `{report['device']}`"
             f"{' (tiny: tiny nets, 16x16, batch 8; numbers not representative)' if report['tiny'] else ''}; "
             f"{report['seconds']:.0f} s.", "",
             "| cell type | batch | fp32 it/s | bf16 it/s | compiled it/s | peak memory | cells that fit |",
             "|:--|--:|--:|--:|--:|--:|--:|"]
    for key, row in report["types"].items():
        def cell(mode: str, row: dict[str, Any] = row) -> str:
            value = row.get(mode)
            if value is None:
                return "-"
            return f"{value['it_per_s']:.2f}" if "it_per_s" in value else f"error: {value['error'][:60]}"
        peak = row.get("fp32", {}).get("peak_bytes")
        lines.append(f"| {key} | {row['batch_size']} | {cell('fp32')} | {cell('bf16')} | {cell('compiled')} | "
                     f"{f'{peak / 2**30:.2f} GiB' if peak else '-'} | {row.get('fit', '-')} |")
    lines += ["", "Several cells per GPU (`--cells-per-gpu K`), aggregate fp32 iterations/s:", "",
              "| cell type | K | aggregate it/s | per cell it/s |", "|:--|--:|--:|--:|"]
    for key, runs in report["packing"].items():
        for r in runs:
            if "error" in r:
                lines.append(f"| {key} | {r['cells']} | error: {r['error'][:60]} | |")
            else:
                lines.append(f"| {key} | {r['cells']} | {r['aggregate_it_per_s']:.2f} | {r['per_cell_it_per_s']:.2f} |")
    f = report["fid_run"]
    lines += ["", f"ECOGAN on digits_lt, {f.get('steps')} iterations ({f.get('extractor')} features): FID "
              f"{' -> '.join(f'{v:.2f}' for v in f.get('fids', []))}; falls: {f.get('fid_falls')}"
              f"; {f.get('seconds', 0):.0f} s" if "error" not in f else f"ECOGAN run: error {f['error']}"]
    k = report["kill_resume"]
    lines += ["", (f"Kill and resume: SIGKILL at step {k.get('killed_at_step')}, resumed: {k.get('status')}; metrics "
                   f"identical: {k.get('metrics_identical')} (max FID difference {k.get('max_fid_difference')})")
              if "error" not in k else f"Kill and resume: error {k['error']}"]
    lines += ["", "Projected GPU-hours at paper scale (training iterations only, fp32):", "",
              "| grid | cells | one at a time | packed (K cells per GPU) |", "|:--|--:|--:|--:|"]
    for table, p in report["projection"].items():
        lines.append(f"| {table} | {p['cells']} | {p['gpu_hours_sequential']:.1f} h | {p['gpu_hours_packed']:.1f} h "
                     f"(K = {p['packed_cells_per_gpu']}) |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("gpu_check"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="tiny nets and runs: the whole check in seconds")
    parser.add_argument("--budget-s", type=float, default=480.0, help="stop optional stages past this")
    parser.add_argument("--iters", type=int, default=None, help="timed iterations per type (default 10; tiny 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default 3; tiny 1)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per packing measurement")
    parser.add_argument("--compile", action="store_true", help="tiny: time the compiled nets too (slow on CPU)")
    parser.add_argument("--throughput-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.iters = args.iters or (2 if args.tiny else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 3)
    args.seconds = args.seconds or (0.5 if args.tiny else 6.0)
    if args.throughput_worker:
        return throughput_worker(args)

    import torch

    start = time.perf_counter()
    left = lambda: args.budget_s - (time.perf_counter() - start)  # noqa: E731
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no CUDA device (use --device cpu --tiny for a dry run)",
              file=sys.stderr)
        return 2
    total = torch.cuda.get_device_properties(0).total_memory if cuda else None
    report: dict[str, Any] = {
        "device": args.device, "tiny": args.tiny, "torch": torch.__version__,
        "device_name": torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)",
        "total_memory_bytes": total, "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "types": {}, "packing": {}, "skipped": [], "stage_start_s": {}}
    types = cell_types(args.tiny)
    for t in types:
        row: dict[str, Any] = asdict(t)
        row["fp32"] = time_type(t, args.device, args.iters, args.warmup)
        row["bf16"] = time_type(t, args.device, args.iters, args.warmup, bf16=True) if left() > 0 else None
        if t.compile and (args.compile if args.tiny else left() > 300):
            row["compiled"] = time_type(t, args.device, args.iters, args.warmup, compiled=True)
        peak = row["fp32"].get("peak_bytes")
        if total and peak:
            row["fit"] = int(0.9 * total // (peak + 600 * 2**20))  # + a CUDA context per process
        report["types"][t.key] = row
        print(f"{t.key}: fp32 {row['fp32']}", file=sys.stderr)
    packing_gain: dict[str, dict[str, Any]] = {}
    report["stage_start_s"]["packing"] = time.perf_counter() - start
    for table in ("table3",) if args.tiny else ("table3", "table1"):
        t = next(c for c in types if c.table == table and c.method == "ecogan" and c.div == (4 if table == "table1"
                                                                                             else 1))
        fit = report["types"][t.key].get("fit") or 2
        ks = [k for k in (1, 2, 4) if k <= max(1, fit)][: 2 if args.tiny else 3]
        runs = []
        for k in ks:
            if left() < args.seconds * 3 and runs:
                report["skipped"].append(f"packing {t.key} K={k}: time budget")
                break
            runs.append(aggregate(t, k, args))
        report["packing"][t.key] = runs
        good = [r for r in runs if "aggregate_it_per_s" in r]
        if good:
            best = max(good, key=lambda r: r["aggregate_it_per_s"])
            packing_gain[table] = {"cells": best["cells"],
                                   "speedup": best["aggregate_it_per_s"] / good[0]["aggregate_it_per_s"]}
    work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    for name, stage in (("fid_run", fid_run), ("kill_resume", kill_resume)):
        report["stage_start_s"][name] = time.perf_counter() - start
        if left() < 60 and not args.tiny:
            report[name] = {"error": "skipped: time budget"}
            continue
        try:
            report[name] = stage(args.device, args.tiny, work)
        except Exception as err:
            report[name] = {"error": f"{type(err).__name__}: {err}"[:300]}
        print(f"{name}: {report[name]}", file=sys.stderr)
    speeds = {key: row for key, row in report["types"].items()}
    report["projection"] = projection(types, speeds, packing_gain)
    report["seconds"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    (args.out / "gpu_check.md").write_text(markdown(report), encoding="utf-8")
    print(f"wrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.md'} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
