"""The state of a run folder, decided in one place: what it says, whether it is done with this config, whether
it may resume, starting over, and the attempt log. The scheduler, the worker, ``bench status`` and the loop all
ask here.

One vocabulary of states:

- what a run folder says (``status.json``'s ``state``, written by the loop): ``pending`` (stopped, resumable),
  ``running``, ``done``, ``failed``;
- how a cell ended in one invocation (``CellResult.state``; the loop's ``RunOutcome.status`` is one of the first
  three): ``done`` (trained to the end now), ``skipped`` (done before with the same config hash), ``failed``,
  ``locked`` (another live process runs it), ``interrupted`` (Ctrl-C before it finished);
- what ``bench status`` shows for a folder: its state, ``running`` only while a live lock says so,
  ``interrupted`` for a ``running`` folder whose lock is gone, ``not started`` for no status at all.

A run is *done with a config* when its ``status.json`` says done and its ``config.json`` holds that config's hash;
a folder holding another hash refuses to resume (:func:`check_resumable`), naming the keys that differ.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import diff_configs
from bench.errors import ConfigError, write_error
from bench.run.folder import (
    DONE,
    FAILED,
    PENDING,
    RUNNING,
    RunDir,
    move_to_previous,
    read_json,
    read_status,
)
from bench.run.locks import current_job, is_stale, read_lock

SKIPPED, LOCKED, INTERRUPTED, NOT_STARTED = "skipped", "locked", "interrupted", "not started"
CELL_STATES = (DONE, FAILED, SKIPPED, LOCKED, INTERRUPTED)  # one invocation's outcome of a cell
ATTEMPTS_LOG = "attempts.log"


@dataclass(frozen=True)
class RunState:
    """What a run folder holds: ``status`` (``status.json``, None when absent) and ``config_hash`` (the hash in
    ``config.json``, None when absent)."""

    status: dict[str, Any] | None
    config_hash: str | None

    @property
    def state(self) -> str | None:
        """``status.json``'s state, None when the folder has none."""
        return (self.status or {}).get("state")

    def done_with(self, config_hash: str) -> bool:
        """Finished, and with the config of hash ``config_hash``."""
        return self.state == DONE and self.config_hash == config_hash

    def failed_with(self, config_hash: str) -> bool:
        """Stopped on an error, with the config of hash ``config_hash``."""
        return self.state == FAILED and self.config_hash == config_hash


def read_state(run_dir: Path | str) -> RunState:
    """The :class:`RunState` of a run folder (which need not exist)."""
    run = RunDir(Path(run_dir))
    status = read_status(run)
    return RunState(status, read_json(run.config).get("hash") if run.config.exists() else None)


def check_resumable(run: RunDir, plan: Any) -> RunState:
    """The state of ``run`` for training ``plan`` (a RunPlan) in it; a ConfigError when the folder holds a run of
    another config, saying what differs (:func:`describe_changes`)."""
    state = read_state(run.root)
    if run.config.exists() and state.config_hash != plan.hash:
        raise ConfigError(f"{run.root} holds a run of another config ({describe_changes(run, plan)}); refusing to "
                          "resume: use --force-restart to start over (old files move to _previous/)")
    return state


def config_changes(run: RunDir, plan: Any) -> list[str]:
    """The hashed options whose values differ between the run in ``run`` and ``plan`` ('key: old -> new'; the
    resolved hyperparameters option by option; an option hashed only away from its default counts as its default
    where the folder predates it); [] when the options are the same (a hash written by another version of bench)."""
    saved = read_json(run.config)
    if "hyper" not in saved:  # a bench that did not record the resolved hyperparameters: compare the options
        return diff_configs(saved.get("config", {}), plan.config.to_dict())
    return diff_configs({**saved.get("config", {}), "hyper": saved.get("hyper")},
                        {**plan.config.to_dict(), "hyper": plan.hyper_json()})


def describe_changes(run: RunDir, plan: Any) -> str:
    """:func:`config_changes` in one line, or what else makes the hashes differ."""
    changes = config_changes(run, plan)
    if "hyper" not in read_json(run.config):
        changes.append("written by an older bench, which did not record the method's hyperparameters")
    return "; ".join(changes) or "the same options, hashed by another version of bench"


def start_over(run_dir: Path | str) -> Path | None:
    """Force-restart: move the folder's contents to ``_previous/<time>/``; returns that folder (None if empty)."""
    return move_to_previous(RunDir(Path(run_dir)))


def append_attempt(run_dir: Path) -> None:
    """Append ``<UTC time> host=<host> pid=<pid> [job=<slurm job>]`` to ``attempts.log``."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(run_dir, err) from None
    job = current_job()
    line = (f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} host={socket.gethostname()} pid={os.getpid()}"
            f"{f' job={job}' if job else ''}\n")
    try:
        fd = os.open(run_dir / ATTEMPTS_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError as err:
        raise write_error(run_dir / ATTEMPTS_LOG, err) from None


def start_attempt(run_dir: Path | str, force_restart: bool) -> None:
    """Before training: with ``force_restart`` start over (:func:`start_over`, done here so that this attempt's log
    line stays), then append to ``attempts.log``."""
    if force_restart:
        start_over(run_dir)
    append_attempt(Path(run_dir))


def folder_state(run_dir: Path, lock: Path) -> tuple[str, dict[str, Any]]:
    """What ``bench status`` shows for a cell: ``not started``, ``running`` (a live lock), ``interrupted``
    (status running without a live lock), or the state of ``status.json``; and the status dict."""
    status = read_status(RunDir(run_dir)) if (run_dir / "status.json").exists() else None
    info = read_lock(lock)
    if info is not None and not is_stale(info):
        return RUNNING, status or {}
    if status is None:
        return NOT_STARTED, {}
    state = status.get("state", PENDING)
    return (INTERRUPTED if state == RUNNING else state), status
