"""A stand-in for ``bench.run.launch.train`` (selected with ``BENCH_TRAIN_FN=gridstub:train``) so that the scheduler
can be tested without training: it writes the files the loop writes (config.json, status.json, metrics.csv)
with numbers that are a simple function of the config, resumes from ``status.json``, and misbehaves on
request, per cell id (the run folder's name), through environment variables:

- ``BENCH_STUB_SLEEP``: seconds to sleep per run (to make two schedulers overlap);
- ``BENCH_STUB_FAIL``: cell ids that end ``failed`` with the error ``stub failure at step N``;
- ``BENCH_STUB_RAISE``: cell ids whose train raises RuntimeError (an unexpected crash inside the process);
- ``BENCH_STUB_CRASH``: cell ids whose process exits at once with code 3 (a hard crash of a worker);
- ``BENCH_STUB_INTERRUPT_AT``: ``<cell id>:<step>``: mark the run pending at that step and raise
  KeyboardInterrupt (a Ctrl-C);
- ``BENCH_STUB_STEP_SLEEP``: seconds to sleep per step, with the loop's progress bar
  (``bench.progress.progress_bar``) counting the steps.

Each run also writes ``resumed_from`` (the step it started at) and ``env.json`` (its CUDA_VISIBLE_DEVICES and
OMP_NUM_THREADS).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.config import RunConfig
from bench.plan import RunPlan
from bench.progress import progress_bar
from bench.run.folder import RunDir, append_rows, atomic_write_json, atomic_write_text, read_status, write_status

COLUMNS = ["step", "source", "protocol", "extractor", "reference", "label_mix", "n_real", "n_fake", "fid",
           "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "ifid_mean", "fid_head", "fid_tail",
           "cond_acc"]


@dataclass
class Outcome:
    status: str
    step: int
    best_fid: float | None = None
    error: str | None = None


def _ids(var: str) -> set[str]:
    return {x for x in os.environ.get(var, "").split(",") if x}


def stub_fid(cfg: RunConfig, step: int) -> float:
    """The stub's FID at a step: decreasing in the step, different per method and seed."""
    return 100.0 + 10 * cfg.seed + len(cfg.method) - 50.0 * step / cfg.steps


def stub_row(cfg: RunConfig, step: int, protocol: str) -> dict:
    fid = stub_fid(cfg, step) + (1.0 if protocol == "paper" else 0.0)
    row = {"step": step, "source": "train", "protocol": protocol, "extractor": "classifier",
           "reference": "train-lt" if protocol == "paper" else "test", "label_mix": "lt" if protocol == "paper"
           else "uniform", "n_real": 64, "n_fake": 64, "fid": fid, "is_mean": 2.0, "is_std": 0.5}
    if protocol == "standard":  # the paper protocol has no KID etc., so those cells stay empty
        row.update(kid_mean=0.1, kid_std=0.01, precision=0.5, recall=0.4, ifid_mean=fid + 5, fid_head=fid - 1,
                   fid_tail=fid + 2, cond_acc=0.3)
    return row


def train(plan: RunPlan, run_dir: Path, *, force_restart: bool = False, progress: bool = True) -> Outcome:
    cfg = plan.config
    run = RunDir(Path(run_dir))
    run.root.mkdir(parents=True, exist_ok=True)
    cell = run.root.name
    if cell in _ids("BENCH_STUB_CRASH"):
        os._exit(3)
    if cell in _ids("BENCH_STUB_RAISE"):
        raise RuntimeError("stub exploded")
    status = read_status(run) or {}
    if status.get("state") == "done":
        return Outcome("skipped", status["step"], (status.get("best") or {}).get("fid"))
    start = int(status.get("step", 0)) if status.get("state") in ("running", "pending") else 0
    atomic_write_text(run.root / "resumed_from", str(start))
    env = {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")}
    atomic_write_json(run.root / "env.json", env)
    atomic_write_json(run.config, plan.to_json())
    time.sleep(float(os.environ.get("BENCH_STUB_SLEEP", "0")))
    interrupt = os.environ.get("BENCH_STUB_INTERRUPT_AT", "")
    best = status.get("best")
    step_sleep = float(os.environ.get("BENCH_STUB_STEP_SLEEP", "0"))
    bar = progress_bar(cfg.steps, start, f"{cfg.method} {cell}", progress) if step_sleep else None
    for step in range(start + 1, cfg.steps + 1):
        if bar is not None:
            time.sleep(step_sleep)
            bar.update(1)
        if interrupt == f"{cell}:{step}":
            write_status(run, "pending", step - 1, cfg.steps, error="interrupted", best=best)
            raise KeyboardInterrupt
        if step % cfg.eval_every == 0 or step == cfg.steps:
            rows = [stub_row(cfg, step, p) for p in cfg.protocols]
            append_rows(run.metrics, rows, COLUMNS)
            fid = rows[0]["fid"]
            if best is None or fid < best["fid"]:
                best = {"fid": fid, "step": step, "protocol": cfg.protocols[0], "extractor": "classifier"}
        write_status(run, "running", step, cfg.steps, best=best)
        if cell in _ids("BENCH_STUB_FAIL") and step == 2:
            write_status(run, "failed", step, cfg.steps, error=f"stub failure at step {step}", best=best)
            return Outcome("failed", step, best["fid"] if best else None, f"stub failure at step {step}")
    write_status(run, "done", cfg.steps, cfg.steps, best=best)
    if bar is not None:
        bar.close()
    return Outcome("done", cfg.steps, best["fid"] if best else None)


STUB_GRID = """
description = "stub grid for the scheduler tests"
scale = "smoke"
protocols = ["standard", "paper"]

[axes]
dataset = ["digits_lt"]
method = ["ecogan", "reacgan"]
seed = [0, 1]
"""

STUB_IDS = ["digits_lt-ecogan-none-s0", "digits_lt-ecogan-none-s1", "digits_lt-reacgan-none-s0",
            "digits_lt-reacgan-none-s1"]


def attempts(run_dir: Path) -> int:
    """Training attempts recorded in a run folder's attempts.log."""
    log = run_dir / "attempts.log"
    return len(log.read_text().splitlines()) if log.exists() else 0
