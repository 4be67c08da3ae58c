"""Cell locks (bench.run.locks): exclusive creation, stale detection, takeover, heartbeat."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.run.locks import CellLock, LockedError, is_stale, process_start, read_lock


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(path: Path, host: str, pid: int, start: str | None = None, job: str | None = None,
               age_s: float = 0.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": host, "pid": pid, "start": start, "job": job, "time": "t", "token": "x"}))
    then = time.time() - age_s
    os.utime(path, (then, then))


def test_acquire_release_and_second_holder_refused(tmp_path):
    path = tmp_path / "locks" / "c.lock"
    first = CellLock(path)
    assert first.acquire()
    info = read_lock(path)
    assert (info.host, info.pid, info.start) == (socket.gethostname(), os.getpid(), process_start(os.getpid()))
    second = CellLock(path)
    assert not second.acquire()
    assert second.holder.pid == os.getpid()
    with pytest.raises(LockedError, match=f"pid {os.getpid()}"), CellLock(path):
        pass
    first.release()
    assert not path.exists()
    with CellLock(path):
        assert path.exists()
    assert not path.exists()


def test_only_one_of_many_threads_gets_the_lock(tmp_path):
    path = tmp_path / "c.lock"
    locks = [CellLock(path) for _ in range(16)]
    barrier = threading.Barrier(len(locks))
    won: list[bool] = [False] * len(locks)

    def take(i: int) -> None:
        barrier.wait()
        won[i] = locks[i].acquire()

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(locks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(won) == 1
    locks[won.index(True)].release()


def test_dead_holder_on_this_host_is_stale_and_taken_over(tmp_path):
    path = tmp_path / "c.lock"
    write_lock(path, socket.gethostname(), dead_pid())
    assert is_stale(read_lock(path))
    lock = CellLock(path)
    assert lock.acquire()
    assert read_lock(path).pid == os.getpid()
    lock.release()


def test_live_holder_is_not_stale_but_a_reused_pid_is(tmp_path):
    path = tmp_path / "c.lock"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(path, socket.gethostname(), proc.pid, start=process_start(proc.pid), age_s=3600)
        assert not is_stale(read_lock(path))  # alive: age does not matter on this host
        assert not CellLock(path).acquire()
        write_lock(path, socket.gethostname(), proc.pid, start="1")  # same pid, another process start time
        assert is_stale(read_lock(path))
    finally:
        proc.kill()
        proc.wait()


def test_other_host_is_stale_only_after_the_heartbeat_timeout(tmp_path):
    path = tmp_path / "c.lock"
    write_lock(path, "another-host", 1234, age_s=10)
    assert not is_stale(read_lock(path), timeout_s=60)
    assert not CellLock(path, timeout_s=60).acquire()
    write_lock(path, "another-host", 1234, age_s=120)
    assert is_stale(read_lock(path), timeout_s=60)
    lock = CellLock(path, timeout_s=60)
    assert lock.acquire()
    lock.release()


def test_requeued_slurm_job_takes_over_its_own_lock(tmp_path, monkeypatch):
    path = tmp_path / "c.lock"
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "777")
    write_lock(path, "node-a", 1234, job="777")
    assert is_stale(read_lock(path))
    write_lock(path, "node-a", 1234, job="778")
    assert not is_stale(read_lock(path))
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "900")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    write_lock(path, "node-a", 1234, job="900_3")
    assert is_stale(read_lock(path))


def test_empty_or_unreadable_lock_is_stale_at_once(tmp_path):
    path = tmp_path / "c.lock"
    path.write_text("")  # left by a writer killed between create and write, or by a full disk
    assert is_stale(read_lock(path), timeout_s=3600)
    path.write_bytes(b"\xff{not json")
    assert is_stale(read_lock(path), timeout_s=3600)
    lock = CellLock(path, timeout_s=3600)
    assert lock.acquire()  # taken over at once, not after the timeout
    lock.release()
    assert not path.exists()


def test_release_leaves_a_lock_taken_over_by_someone_else(tmp_path):
    path = tmp_path / "c.lock"
    lock = CellLock(path)
    assert lock.acquire()
    write_lock(path, "another-host", 99)  # taken over after a (wrong) timeout
    lock.release()
    assert read_lock(path).host == "another-host"


def test_heartbeat_touches_the_lock(tmp_path):
    path = tmp_path / "c.lock"
    lock = CellLock(path, heartbeat_s=0.02)
    assert lock.acquire()
    old = time.time() - 1000
    os.utime(path, (old, old))
    deadline = time.monotonic() + 10
    while path.stat().st_mtime < old + 500 and time.monotonic() < deadline:
        time.sleep(0.02)
    touched = path.stat().st_mtime
    lock.release()
    assert touched > old + 500
    assert not path.exists()


def _contend(path: str, barrier, wins) -> None:
    barrier.wait()
    lock = CellLock(Path(path))
    if lock.acquire():
        wins.put(os.getpid())
        time.sleep(0.5)  # hold it while the others try
        lock.release()


def test_stale_lock_taken_over_by_exactly_one_of_several_processes(tmp_path):
    path = tmp_path / "c.lock"
    write_lock(path, socket.gethostname(), dead_pid())
    ctx = multiprocessing.get_context("fork")
    barrier, wins = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(path), barrier, wins)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    winners = []
    with contextlib.suppress(queue.Empty):
        while True:
            winners.append(wins.get(timeout=1))
    assert len(winners) == 1
