"""The run folder ``results/<grid>/<cell-id>/``: its layout, CSV rows and ``status.json``.

Every file here is written so that a process killed at any instant leaves a folder a restart can use:
whole files go through a temporary file in the same folder and ``os.replace`` (``bench.atomic``); CSV rows are
appended one ``write`` at a time and flushed, and a restart drops a torn last line and every training row newer
than the checkpoint it resumes from (:func:`truncate_csv`), so that nothing is duplicated.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, write_all
from bench.errors import ConfigError, write_error
from bench.speed import SPEED_FILE

__all__ = ["DONE", "FAILED", "FOLDER_STATES", "PENDING", "PREVIOUS", "RUNNING", "RunDir", "append_rows",
           "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "format_cell", "move_to_previous",
           "read_csv_header", "read_json", "read_rows", "read_status", "remove_stale_temporaries", "truncate_csv",
           "write_all", "write_status"]

PREVIOUS = "_previous"
# What status.json says (the vocabulary of states: bench.run.state)
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
FOLDER_STATES = (PENDING, RUNNING, DONE, FAILED)


@dataclass(frozen=True)
class RunDir:
    """Paths of one run folder (nothing is created until written)."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def per_class(self) -> Path:
        return self.root / "per_class.csv"

    @property
    def losses(self) -> Path:
        return self.root / "losses.csv"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    @property
    def speed(self) -> Path:
        """``speed.json``: the run's speed record (:mod:`bench.speed`; never in the CSVs, which must not change)."""
        return self.root / SPEED_FILE

    def checkpoint(self, which: str) -> Path:
        """``checkpoints/<which>.pt`` (which: ``latest`` or ``best``)."""
        return self.checkpoints / f"{which}.pt"

    def sample_grid(self, step: int) -> Path:
        return self.samples / f"step-{step}.png"

    def csvs(self) -> tuple[Path, Path, Path]:
        return self.metrics, self.per_class, self.losses


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict; a ConfigError naming the file when it does not parse."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from None


def remove_stale_temporaries(folder: Path) -> None:
    """Delete ``.*.tmp`` files a killed writer left behind in ``folder`` (not recursive)."""
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


# -- CSV rows ------------------------------------------------------------------------------------
def format_cell(value: Any) -> str:
    """One CSV cell: '' for None, ``repr`` of the float for floats (numpy and 0-d tensors included), so that
    the same number always gives the same bytes."""
    if value is None:
        return ""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def _csv_line(values: Iterable[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([format_cell(v) for v in values])
    return buf.getvalue()


def read_csv_header(path: Path) -> list[str] | None:
    """The header of a CSV file, or None when the file does not exist or is empty."""
    if not path.exists():
        return None
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), None)


def check_columns(path: Path, columns: Sequence[str]) -> None:
    """A ConfigError in one line when the CSV at ``path`` exists with other columns than ``columns`` (a file an
    older bench wrote), naming the columns it lacks and has in excess; nothing when it is absent or matches."""
    header = read_csv_header(path)
    if header is None or header == list(columns):
        return
    missing = [c for c in columns if c not in header]
    extra = [c for c in header if c not in columns]
    parts = ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"has {', '.join(extra)}"] if extra else [])
    difference = " and ".join(parts) or "orders its columns differently"
    raise ConfigError(f"{path} was written by another version of bench (it {difference}): rows of this version "
                      "cannot be appended to it; start the run over with --force-restart (the old files move to "
                      "_previous/), or move the file away")


def append_rows(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Append rows to a CSV file, writing the header first when the file is new.

    Args:
        path: the CSV file.
        rows: dicts keyed by column name; a missing key writes an empty cell.
        columns: the fixed column order (a key outside it is an internal error). None = the existing header,
            or ``step`` then the sorted keys of the rows for a new file; keys the header lacks then widen it
            (the file is rewritten atomically with the wider header).
    """
    if not rows:
        return
    _drop_torn_tail(path)
    header = read_csv_header(path)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    if columns is not None:
        extra = [k for k in keys if k not in columns]
        assert not extra, f"{path.name}: unexpected columns {extra}"
        check_columns(path, columns)
        header = header or list(columns)
        new_file = not path.exists() or path.stat().st_size == 0
    else:
        new_file = header is None
        if new_file:
            header = ["step"] + sorted(k for k in keys if k != "step")
        missing = [k for k in keys if k not in header]
        if missing:
            header = header + sorted(missing)
            _rewrite(path, header, read_rows(path))
    text = (_csv_line(header) if new_file else "") + "".join(_csv_line(row.get(c) for c in header) for row in rows)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            write_all(fd, text.encode("utf-8"))  # one write per call: whole rows, flushed
        finally:
            os.close(fd)
    except OSError as err:
        raise write_error(path, err) from None


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line without its newline (a writer killed mid-row), so that appending starts a new line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) != b"\n":
            fh.seek(0)
            fh.truncate(fh.read().rfind(b"\n") + 1)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a CSV file as dicts of strings (a torn last line, without its newline, is left
    out); [] when the file does not exist."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    return list(csv.DictReader(io.StringIO(text)))


def _rewrite(path: Path, header: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    atomic_write_text(path, _csv_line(header) + "".join(_csv_line(row.get(c) for c in header) for row in rows))


FINAL_SOURCE = "final:"  # rows of a run's final measurement (final:best, final:last), written after its last step


def truncate_csv(path: Path, max_step: int) -> None:
    """Drop a torn last line, the training rows (``source`` ``train``, or files without a ``source`` column)
    whose step is greater than ``max_step``, and the rows of the final measurement (``final:*``), rewriting the
    file atomically.

    A resumed run calls this with its checkpoint's step: rows are written before the checkpoint, so rows
    past it will be written again, and a run that resumes has not finished its final measurement, which it
    writes again after its last step. Post-hoc rows (``eval:best`` ...) are kept.
    """
    _drop_torn_tail(path)
    header = read_csv_header(path)
    if header is None:
        return
    rows = read_rows(path)
    kept = [r for r in rows if not (r.get("source", "train") == "train" and int(r["step"]) > max_step)
            and not r.get("source", "").startswith(FINAL_SOURCE)]
    if len(kept) != len(rows):
        _rewrite(path, header, kept)


# -- status.json ---------------------------------------------------------------------------------
def write_status(run: RunDir, state: str, step: int, steps: int, error: str | None = None,
                 best: Mapping[str, Any] | None = None) -> None:
    """Write ``status.json``: state (pending | running | done | failed), step, steps, error (one line),
    best ({"fid", "step", "protocol", "extractor"} or null) and the UTC time of the update."""
    assert state in FOLDER_STATES, state
    atomic_write_json(run.status, {
        "state": state, "step": step, "steps": steps, "error": error, "best": dict(best) if best else None,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
    })


def read_status(run: RunDir) -> dict[str, Any] | None:
    """``status.json`` as a dict, or None when there is none."""
    return read_json(run.status) if run.status.exists() else None


# -- starting over -------------------------------------------------------------------------------
def move_to_previous(run: RunDir) -> Path | None:
    """Move everything in the run folder (but earlier ``_previous`` folders) to ``_previous/<UTC time>/``;
    return that folder, or None when there was nothing to move. Nothing is deleted."""
    entries = [p for p in run.root.iterdir() if p.name != PREVIOUS] if run.root.is_dir() else []
    if not entries:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = run.root / PREVIOUS / stamp
    suffix = 1
    while target.exists():
        suffix += 1
        target = run.root / PREVIOUS / f"{stamp}-{suffix}"
    target.mkdir(parents=True)
    for entry in entries:
        shutil.move(str(entry), str(target / entry.name))
    return target
