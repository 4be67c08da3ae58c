"""The scheduler (bench.scheduler) with the stub train function: skipping, retrying, resuming, locks,
failures, the local executor's subprocess workers and two schedulers at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gridstub import STUB_IDS, attempts

from bench.errors import ConfigError
from bench.run.locks import LockedError, process_start
from bench.scheduler import SlurmOptions, run_grid, run_single


def by_cell(summary) -> dict:
    return {r.cell: r for r in summary.results}


def run(grid, results, **kw):
    return run_grid(grid, results_root=results, executor=kw.pop("executor", "inline"), **kw)


def test_runs_every_cell_then_skips_done_ones(stub, stub_grid, results, capsys):
    summary = run(stub_grid, results)
    assert summary.exit_code == 0
    assert [r.cell for r in summary.results] == STUB_IDS
    assert {r.state for r in summary.results} == {"done"}
    out = capsys.readouterr().out
    for cell in STUB_IDS:
        assert cell in out
        assert attempts(results / "stubgrid" / cell) == 1
        status = json.loads((results / "stubgrid" / cell / "status.json").read_text())
        assert status["state"] == "done" and status["step"] == status["steps"] == 4
    # the summary shows the best FID with its protocol and extractor
    best = by_cell(summary)["digits_lt-ecogan-none-s0"].best
    assert best["protocol"] == "standard" and best["extractor"] == "classifier"
    assert f"{best['fid']:.2f} @{best['step']} (standard, classifier)" in out

    again = run(stub_grid, results)
    assert again.exit_code == 0 and {r.state for r in again.results} == {"skipped"}
    assert all(attempts(results / "stubgrid" / c) == 1 for c in STUB_IDS)
    manifest = json.loads((results / "stubgrid" / "grid.json").read_text())
    assert manifest["key"] == "stubgrid" and [c["id"] for c in manifest["cells"]] == STUB_IDS


def test_failing_cell_does_not_stop_the_grid_and_is_not_retried(stub, stub_grid, results, monkeypatch, capsys):
    bad = STUB_IDS[1]
    monkeypatch.setenv("BENCH_STUB_FAIL", bad)
    summary = run(stub_grid, results)
    assert summary.exit_code == 1
    states = {c: r.state for c, r in by_cell(summary).items()}
    assert states == {c: ("failed" if c == bad else "done") for c in STUB_IDS}
    assert by_cell(summary)[bad].error == "stub failure at step 2"
    table = capsys.readouterr().out
    assert any(bad in line and "failed" in line and "stub failure at step 2" in line for line in table.splitlines())

    monkeypatch.delenv("BENCH_STUB_FAIL")
    again = run(stub_grid, results)
    assert again.exit_code == 1 and by_cell(again)[bad].state == "failed"
    assert "not retried" in by_cell(again)[bad].error and "stub failure" in by_cell(again)[bad].error
    assert attempts(results / "stubgrid" / bad) == 1

    retried = run(stub_grid, results, retry_failed=True)
    assert retried.exit_code == 0 and by_cell(retried)[bad].state == "done"
    assert attempts(results / "stubgrid" / bad) == 2
    assert (results / "stubgrid" / bad / "resumed_from").read_text() == "0"  # failed runs are not resumed


def test_exception_in_train_fails_the_cell_only(stub, stub_grid, results, monkeypatch):
    monkeypatch.setenv("BENCH_STUB_RAISE", STUB_IDS[0])
    summary = run(stub_grid, results)
    assert by_cell(summary)[STUB_IDS[0]].state == "failed"
    assert by_cell(summary)[STUB_IDS[0]].error == "RuntimeError: stub exploded"
    assert [r.state for r in summary.results[1:]] == ["done"] * 3


def test_interrupted_cell_resumes(stub, stub_grid, results, monkeypatch):
    cell = STUB_IDS[2]
    monkeypatch.setenv("BENCH_STUB_INTERRUPT_AT", f"{cell}:3")
    summary = run(stub_grid, results)
    assert summary.interrupted and summary.exit_code == 130
    assert json.loads((results / "stubgrid" / cell / "status.json").read_text())["state"] == "pending"
    assert not (results / "stubgrid" / ".locks" / f"{cell}.lock").exists()  # released on the way out
    monkeypatch.delenv("BENCH_STUB_INTERRUPT_AT")
    again = run(stub_grid, results)
    assert again.exit_code == 0
    assert by_cell(again)[cell].state == "done" and by_cell(again)[STUB_IDS[0]].state == "skipped"
    assert (results / "stubgrid" / cell / "resumed_from").read_text() == "2"
    assert attempts(results / "stubgrid" / cell) == 2


def test_force_restart_trains_done_cells_again(stub, stub_grid, results):
    run(stub_grid, results, only="method=ecogan,seed=0")
    summary = run(stub_grid, results, only="method=ecogan,seed=0", force_restart=True)
    assert [r.state for r in summary.results] == ["done"]
    run_dir = results / "stubgrid" / STUB_IDS[0]
    assert attempts(run_dir) == 1  # the earlier attempt moved to _previous/ with the earlier run
    (previous,) = (run_dir / "_previous").iterdir()
    assert attempts(previous) == 1 and (previous / "status.json").exists()


def test_stale_lock_is_taken_over_and_live_lock_skipped(stub, stub_grid, results):
    locks = results / "stubgrid" / ".locks"
    locks.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for cell, pid in ((STUB_IDS[0], dead.pid), (STUB_IDS[1], live.pid)):
            (locks / f"{cell}.lock").write_text(json.dumps({
                "host": socket.gethostname(), "pid": pid, "start": process_start(pid), "job": None, "time": "t",
                "token": "t"}))
        summary = run(stub_grid, results)
    finally:
        live.kill()
        live.wait()
    states = by_cell(summary)
    assert states[STUB_IDS[0]].state == "done" and attempts(results / "stubgrid" / STUB_IDS[0]) == 1
    assert states[STUB_IDS[1]].state == "locked" and f"pid {live.pid}" in states[STUB_IDS[1]].error
    assert attempts(results / "stubgrid" / STUB_IDS[1]) == 0
    assert summary.exit_code == 0


def test_dry_run_lists_paper_numbers_and_runs_nothing(stub, results, capsys):
    summary = run_grid("table3", results_root=results, dry_run=True)
    assert summary.exit_code == 0 and summary.dry_run
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("cifar10_lt-ecogan-balanced-s0 "))
    assert "43.79" in line and "2.74" in line and "138000 batches" in line and "23000" in line
    assert not results.exists()


def test_bad_executor_and_workers(stub, stub_grid, results):
    with pytest.raises(ConfigError, match=r"'slurmm'.*'slurm'"):
        run(stub_grid, results, executor="slurmm")
    with pytest.raises(ConfigError, match="--workers"):
        run(stub_grid, results, executor="local", workers=0)
    assert not results.exists()


def test_local_executor_runs_workers_in_subprocesses(stub, stub_grid, results, monkeypatch):
    monkeypatch.setenv("BENCH_STUB_CRASH", STUB_IDS[3])
    summary = run(stub_grid, results, executor="local", workers=2)
    states = by_cell(summary)
    assert [states[c].state for c in STUB_IDS[:3]] == ["done"] * 3
    assert states[STUB_IDS[3]].state == "failed" and "worker exited with code 3" in states[STUB_IDS[3]].error
    for cell in STUB_IDS[:3]:
        pid = int((results / "stubgrid" / cell / "attempts.log").read_text().split("pid=")[1].split()[0])
        assert pid != os.getpid()  # trained in a worker process
        assert (results / "stubgrid" / ".logs" / f"{cell}.log").exists()  # several workers: output to logs
    # a crashed worker leaves its lock behind, stale (its pid is gone): the next run takes it over
    assert [p.stem for p in (results / "stubgrid" / ".locks").glob("*.lock")] == [STUB_IDS[3]]
    monkeypatch.delenv("BENCH_STUB_CRASH")
    again = run(stub_grid, results, executor="local", workers=2)
    assert [r.state for r in again.results] == ["skipped"] * 3 + ["done"]
    assert not list((results / "stubgrid" / ".locks").glob("*.lock"))


def test_local_workers_get_one_gpu_each_or_a_share_of_the_cores(stub, stub_grid, results, monkeypatch):
    import bench.executors.local as local

    monkeypatch.setattr(local, "visible_gpus", lambda: ["3", "5"])
    run(stub_grid, results, executor="local", workers=2, only="seed=0")
    envs = [json.loads((results / "stubgrid" / c / "env.json").read_text()) for c in STUB_IDS[0::2]]
    assert sorted(e["CUDA_VISIBLE_DEVICES"] for e in envs) == ["3", "5"]  # both started at once, one GPU each

    monkeypatch.setattr(local, "visible_gpus", lambda: [])
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    run(stub_grid, results, executor="local", workers=2, only="seed=1")
    envs = [json.loads((results / "stubgrid" / c / "env.json").read_text()) for c in STUB_IDS[1::2]]
    assert {e["OMP_NUM_THREADS"] for e in envs} == {str(max(1, local.cpu_count() // 2))}


def test_two_schedulers_at_once_train_each_cell_once(stub, stub_grid, results, monkeypatch):
    monkeypatch.setenv("BENCH_STUB_SLEEP", "0.5")
    cmd = [sys.executable, "-m", "bench.cli", "run", "--grid", str(stub_grid), "--results-root", str(results)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    for cell in STUB_IDS:
        assert attempts(results / "stubgrid" / cell) == 1, cell
        states = [next(ln.split()[1] for ln in out.splitlines() if ln.startswith(cell + " ")) for out, _ in outs]
        assert sorted(states)[0] == "done" and sorted(states)[1] in ("locked", "skipped"), outs


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])  # Ctrl-C; kill
def test_ctrl_c_stops_workers_cleanly(stub, stub_grid, results, monkeypatch, sig):
    monkeypatch.setenv("BENCH_STUB_SLEEP", "60")
    cmd = [sys.executable, "-m", "bench.cli", "run", "--grid", str(stub_grid), "--results-root", str(results)]
    # as from a terminal: SIGINT handled, even when pytest itself runs where SIGINT is ignored (a background job
    # of a non-interactive shell, such as a CI script)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lock = results / "stubgrid" / ".locks" / f"{STUB_IDS[0]}.lock"
    deadline = time.monotonic() + 60
    while not (results / "stubgrid" / STUB_IDS[0] / "resumed_from").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = json.loads(lock.read_text())["pid"]
    proc.send_signal(sig)  # the worker is in a session of its own: only the scheduler gets it
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "not finished: interrupted" in out
    assert not lock.exists()  # the worker got SIGINT from the scheduler, and released its lock on the way out
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)



def test_a_scheduler_killed_with_sigkill_leaves_no_worker_running(stub, stub_grid, results, monkeypatch):
    """SIGKILL cannot be forwarded: the orphaned worker notices its scheduler is gone, interrupts itself (its lock
    released, its step checkpointed) and the same command run again resumes the cell rather than finding it locked."""
    monkeypatch.setenv("BENCH_STUB_SLEEP", "60")
    cmd = [sys.executable, "-m", "bench.cli", "run", "--grid", str(stub_grid), "--results-root", str(results)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = results / "stubgrid" / ".locks" / f"{STUB_IDS[0]}.lock"
    deadline = time.monotonic() + 60
    while not (results / "stubgrid" / STUB_IDS[0] / "resumed_from").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = json.loads(lock.read_text())["pid"]
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 30
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker) and not lock.exists()
    monkeypatch.setenv("BENCH_STUB_SLEEP", "0")
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert attempts(results / "stubgrid" / STUB_IDS[0]) == 2  # resumed, not skipped as locked


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

def test_run_single_in_process_under_the_lock(stub, results):
    cell = {"dataset": "digits_lt", "method": "ecogan", "sampling": "balanced"}
    outcome = run_single(cell, results_root=results, scale="smoke", overrides={"seed": 3})
    run_dir = results / "adhoc-smoke" / "digits_lt-ecogan-balanced-s3"
    assert outcome.status == "done" and attempts(run_dir) == 1
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert (config["grid"], config["scale"], config["seed"]) == ("adhoc-smoke", "smoke", 3)
    assert run_single(cell, results_root=results, scale="smoke", overrides={"seed": 3}).status == "skipped"
    lock = results / "adhoc-smoke" / ".locks" / "digits_lt-ecogan-balanced-s3.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "start": None, "job": None,
                                "time": "t", "token": "t"}))
    with pytest.raises(LockedError, match="held by"):
        run_single(cell, results_root=results, scale="smoke", overrides={"seed": 3})
    with pytest.raises(ConfigError, match=r"'samplng'"):
        run_single({**cell, "samplng": "none"}, results_root=results)


def test_another_scale_writes_to_its_own_folder(stub, stub_grid, results):
    run(stub_grid, results, scale="paper", overrides={"steps": 2, "eval_every": 1}, only="seed=0")
    folder = results / "stubgrid-paper"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        [*STUB_IDS[0::2], "grid.json"])
    config = json.loads((folder / STUB_IDS[0] / "config.json").read_text())["config"]
    assert (config["grid"], config["scale"], config["steps"]) == ("stubgrid-paper", "paper", 2)


@pytest.mark.parametrize(("options", "pattern"), [
    ({"gpus": -1}, "--gpus"), ({"time_min": 0}, "--time"), ({"array_parallelism": 0}, "--array-parallelism")])
def test_bad_slurm_options(stub, stub_grid, results, options, pattern):
    with pytest.raises(ConfigError, match=pattern):
        run(stub_grid, results, executor="slurm", slurm=SlurmOptions(local=True, **options))
    assert not results.exists()


def test_worker_usage_error(capsys):
    from bench.executors.worker import main

    assert main(["only-one-argument"]) == 2
    assert "usage" in capsys.readouterr().err


def test_slurm_without_sbatch_fails_before_submitting(stub, stub_grid, results, monkeypatch, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ConfigError, match="sbatch"):
        run(stub_grid, results, executor="slurm")
    assert not Path(results).exists()
