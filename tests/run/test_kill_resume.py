"""A run killed with a real SIGKILL in a subprocess, then resumed, ends as if it had never stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.run.folder import RunDir
from bench.run.launch import train

from .conftest import assert_same_run

TESTS_DIR = Path(__file__).resolve().parent.parent
RUNNER = ("import json, sys; from bench.plan import RunPlan; from bench.run.launch import train; "
          "train(RunPlan.from_json(json.loads(sys.argv[1])), sys.argv[2], progress=False)")


def wait_for_checkpoint(run: RunDir, proc: subprocess.Popen, step: int, timeout: float = 120.0) -> None:
    """Poll status.json until the run has checkpointed ``step`` (status is written after the checkpoint)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before it could be killed"
        if run.status.exists() and json.loads(run.status.read_text())["step"] >= step:
            return
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint of step {step} within {timeout} s")


def test_sigkilled_run_resumes_to_identical_results(reference_run, tmp_path):
    cfg, reference, _ = reference_run
    run = RunDir(tmp_path / "cell")
    env = os.environ | {"BENCH_METHODS": "run.loop_methods", "LOOP_TEST_DELAY": "0.3",
                        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(cfg.to_json()), str(run.root)], env=env)
    try:
        wait_for_checkpoint(run, proc, 3)  # the first evaluation's rows and checkpoint are on disk
        time.sleep(0.15)  # into step 4
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert json.loads(run.status.read_text())["state"] == "running"
    outcome = train(cfg, run.root, progress=False)
    assert outcome.status == "done" and outcome.step == cfg.config.steps
    assert_same_run(reference, run)
