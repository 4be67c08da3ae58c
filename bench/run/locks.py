"""One lock file per cell, so that two schedulers (or Slurm jobs) never train the same cell at once.

The lock is a file put in place whole with ``os.link`` (atomic, also on NFS v3+) holding JSON: host, pid,
the process's start time, the Slurm job id when there is one, the creation time and a random token.
While held, a daemon thread touches it every ``heartbeat_s`` seconds.

A lock is *stale*, and may be taken over, when

- its holder ran on this host and that process is gone (no such pid, or the pid now belongs to a process
  that started at another time);
- its holder ran on another host and the file has not been touched for ``timeout_s`` seconds (we cannot
  look at another host's processes, so the heartbeat stands for them);
- it was written on another host by the Slurm job we are running in (the job was requeued onto another
  node after preemption or a timeout).

Takeover goes through a second ``O_EXCL`` file (``<lock>.takeover``) so that of several processes that see
the same stale lock at once exactly one removes it; the others then find the new holder's lock.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import write_all
from bench.errors import BenchError, WriteError, write_error

HEARTBEAT_S = float(os.environ.get("BENCH_LOCK_HEARTBEAT_S", "30"))
TIMEOUT_S = float(os.environ.get("BENCH_LOCK_TIMEOUT_S", "300"))
_TAKEOVER_STALE_S = 60.0  # a takeover guard older than this was left by a killed process
_NO_HARD_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV)  # link() unsupported


class LockedError(BenchError):
    """The cell is being run by another live process."""


@dataclass(frozen=True)
class LockInfo:
    """What a lock file says about its holder, and when it was last touched (mtime, epoch seconds)."""

    host: str
    pid: int
    start: str | None
    job: str | None
    time: str
    token: str
    touched: float

    def describe(self) -> str:
        job = f", job {self.job}" if self.job else ""
        return f"host {self.host}, pid {self.pid}{job}, since {self.time}"


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), or None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses; fields after the last ')' are plain
    return stat.rsplit(")", 1)[1].split()[19]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def current_job() -> str | None:
    """The Slurm job this process runs in (``<array job>_<task>`` for array jobs), or None."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def read_lock(path: Path) -> LockInfo | None:
    """The holder of the lock at ``path``, or None when there is no lock. A lock file that is empty or does
    not parse (left by an older bench killed between create and write, or a full disk) reads as a holder
    with pid 0 and no token, which :func:`is_stale` calls stale at once."""
    try:
        data_bytes = Path(path).read_bytes()
        touched = Path(path).stat().st_mtime
    except FileNotFoundError:
        return None
    raw = data_bytes.decode("utf-8", errors="replace")
    try:
        data: dict[str, Any] = json.loads(raw)
        return LockInfo(host=str(data["host"]), pid=int(data["pid"]), start=data.get("start"),
                        job=data.get("job"), time=str(data.get("time", "")), token=str(data.get("token", "")),
                        touched=touched)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return LockInfo(host="?", pid=0, start=None, job=None, time="", token="", touched=touched)


def is_stale(info: LockInfo, timeout_s: float = TIMEOUT_S, now: float | None = None) -> bool:
    """Whether the holder of ``info`` is gone (see the module docstring)."""
    now = time.time() if now is None else now
    if not info.token:
        return True  # empty or unreadable: locks are written whole, so no live holder wrote this one
    if info.host == socket.gethostname() and info.pid > 0:
        if not pid_alive(info.pid):
            return True
        return info.start is not None and process_start(info.pid) not in (None, info.start)
    job = current_job()
    if job is not None and info.job == job:
        return True  # our own job, requeued onto another node
    return now - info.touched > timeout_s


class CellLock:
    """An exclusive lock on one cell, held by this process.

    Args:
        path: the lock file (its folder is created).
        heartbeat_s: seconds between touches while held.
        timeout_s: age after which another host's untouched lock counts as stale.

    Use as a context manager (raises :class:`LockedError` when a live process holds it), or call
    :meth:`acquire` (returns False) and :meth:`release`.
    """

    def __init__(self, path: Path, heartbeat_s: float = HEARTBEAT_S, timeout_s: float = TIMEOUT_S) -> None:
        self.path = Path(path)
        self.heartbeat_s = heartbeat_s
        self.timeout_s = timeout_s
        self.token = secrets.token_hex(8)
        self.holder: LockInfo | None = None  # who held it when acquire() failed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the lock, taking over a stale one; False (and :attr:`holder` set) when a live process has it.
        A WriteError (naming the lock file) when the lock cannot be written."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise write_error(self.path.parent, err) from None
        for _ in range(3):
            if self._create():
                self._start_heartbeat()
                return True
            info = read_lock(self.path)
            if info is None:
                continue  # released in between: try again
            if not is_stale(info, self.timeout_s):
                self.holder = info
                return False
            self._remove_stale(info)
        self.holder = read_lock(self.path)
        return False

    def release(self) -> None:
        """Stop the heartbeat and remove the lock file if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        info = read_lock(self.path)
        if info is not None and info.token == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> CellLock:
        if not self.acquire():
            holder = self.holder.describe() if self.holder else "another process"
            raise LockedError(f"{self.path.parent.name}/{self.path.name} is held by {holder}; "
                              f"that process is running this cell (remove the lock file if it is not)")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _create(self) -> bool:
        """Create the lock whole or not at all: the JSON goes to a temporary file first, which ``os.link``
        then puts in place only if no lock exists (atomic, like O_EXCL, also on NFS). A full disk or a
        read-only folder leaves no lock behind and raises a WriteError naming the lock file."""
        pid = os.getpid()
        payload = {"host": socket.gethostname(), "pid": pid, "start": process_start(pid), "job": current_job(),
                   "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "token": self.token}
        tmp = self.path.with_name(f".{self.path.name}.{self.token}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # the umask applies
            try:
                write_all(fd, json.dumps(payload).encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, self.path)
            except OSError as err:
                if err.errno not in _NO_HARD_LINKS:
                    raise
                return self._create_in_place(payload)
        except FileExistsError:
            return False
        except OSError as err:
            raise WriteError(f"cannot write the lock {self.path}: {err.strerror or err}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return True

    def _create_in_place(self, payload: dict[str, Any]) -> bool:
        """For file systems without hard links: O_EXCL, then write; a failed write removes the file again."""
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        try:
            write_all(fd, json.dumps(payload).encode("utf-8"))
            os.fsync(fd)
        except OSError:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise
        os.close(fd)
        return True

    def _remove_stale(self, seen: LockInfo) -> None:
        """Remove the stale lock ``seen`` unless someone else got there first (guarded by an O_EXCL file)."""
        guard = self.path.with_name(self.path.name + ".takeover")
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            with contextlib.suppress(FileNotFoundError):
                if time.time() - guard.stat().st_mtime > _TAKEOVER_STALE_S:
                    guard.unlink(missing_ok=True)
            time.sleep(0.05)
            return
        os.close(fd)
        try:
            current = read_lock(self.path)
            if current is not None and current.token == seen.token and current.pid == seen.pid:
                self.path.unlink(missing_ok=True)
        finally:
            guard.unlink(missing_ok=True)

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"lock-heartbeat-{self.path.name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with contextlib.suppress(OSError):
                os.utime(self.path)
