"""bench.run.folder: atomic writes, CSV rows (header, formatting, widening, truncation), status, _previous."""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np
import pytest
import torch

from bench.errors import ConfigError, WriteError
from bench.run.folder import (
    RunDir,
    append_rows,
    atomic_write_bytes,
    atomic_write_json,
    format_cell,
    move_to_previous,
    read_json,
    read_rows,
    read_status,
    remove_stale_temporaries,
    truncate_csv,
    write_status,
)

COLUMNS = ["step", "source", "fid"]


def test_atomic_write_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "file.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "file.json"
    atomic_write_json(path, {"a": 1})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(WriteError, match=rf"cannot write {path}: .*disk full"):  # a one-line user error
        atomic_write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]


def test_remove_stale_temporaries_only_removes_dot_tmp_files(tmp_path):
    (tmp_path / ".latest.pt.abc.tmp").write_bytes(b"partial")
    (tmp_path / "latest.pt").write_bytes(b"whole")
    remove_stale_temporaries(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]


def test_format_cell_gives_the_same_text_for_the_same_number():
    x = 0.1 + 0.2
    assert format_cell(x) == format_cell(np.float64(x)) == format_cell(torch.tensor(x, dtype=torch.float64))
    assert float(format_cell(x)) == x  # repr round-trips
    assert format_cell(np.int64(3)) == "3"
    assert format_cell(None) == ""
    assert format_cell(math.nan) == "nan" and format_cell(-math.inf) == "-inf"
    assert format_cell(True) == "True" and format_cell("eval:best") == "eval:best"


def test_append_rows_writes_header_once_in_column_order(tmp_path):
    path = tmp_path / "metrics.csv"
    append_rows(path, [{"step": 1, "source": "train", "fid": 12.5}], COLUMNS)
    append_rows(path, [{"fid": None, "step": 2, "source": "train"}], COLUMNS)
    with path.open(newline="") as fh:
        assert list(csv.reader(fh)) == [COLUMNS, ["1", "train", "12.5"], ["2", "train", ""]]


def test_append_rows_refuses_a_file_with_other_columns(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,other\n1,2\n")
    with pytest.raises(ConfigError, match=r"metrics.csv was written by another version of bench \(it lacks source, "
                                          r"fid and has other\): .*--force-restart"):
        append_rows(path, [{"step": 3, "source": "train", "fid": 1.0}], COLUMNS)


def test_append_rows_without_columns_widens_the_header(tmp_path):
    path = tmp_path / "losses.csv"
    append_rows(path, [{"step": 1, "loss/g": 0.5, "loss/d": 1.5}])
    append_rows(path, [{"step": 2, "loss/d": 1.0, "loss/g": 0.25, "loss/d_gp": 3.0}])
    assert path.read_text().splitlines() == [
        "step,loss/d,loss/g,loss/d_gp", "1,1.5,0.5,", "2,1.0,0.25,3.0"]


def test_truncate_drops_only_training_rows_after_the_step(tmp_path):
    path = tmp_path / "metrics.csv"
    rows = [{"step": s, "source": src, "fid": float(s)}
            for s, src in [(10, "train"), (20, "train"), (20, "eval:best"), (30, "train")]]
    append_rows(path, rows, COLUMNS)
    truncate_csv(path, 20)
    assert [(r["step"], r["source"]) for r in read_rows(path)] == [("10", "train"), ("20", "train"),
                                                                    ("20", "eval:best")]
    truncate_csv(path, 5)
    assert [(r["step"], r["source"]) for r in read_rows(path)] == [("20", "eval:best")]


def test_truncate_drops_a_torn_last_line_and_rows_of_files_without_source(tmp_path):
    path = tmp_path / "losses.csv"
    path.write_text("step,loss/d\n1,0.5\n2,0.25\n3,0.1")  # killed while writing step 3
    truncate_csv(path, 10)
    assert path.read_text() == "step,loss/d\n1,0.5\n2,0.25\n"
    truncate_csv(path, 1)
    assert path.read_text() == "step,loss/d\n1,0.5\n"


def test_truncate_leaves_an_untouched_file_alone(tmp_path):
    path = tmp_path / "losses.csv"
    path.write_text("step,loss/d\n1,0.5\n")
    before = path.stat().st_mtime_ns
    truncate_csv(path, 1)
    truncate_csv(tmp_path / "missing.csv", 1)
    assert path.stat().st_mtime_ns == before and not (tmp_path / "missing.csv").exists()


def test_status_round_trip(tmp_path):
    run = RunDir(tmp_path)
    assert read_status(run) is None
    write_status(run, "failed", 7, 10, error="non-finite loss loss/d = nan at step 8",
                 best={"fid": 3.5, "step": 5, "protocol": "standard", "extractor": "classifier"})
    status = read_status(run)
    assert status["state"] == "failed" and status["step"] == 7 and status["steps"] == 10
    assert status["error"].startswith("non-finite loss") and status["best"]["step"] == 5
    assert status["updated"].endswith("+00:00")


def test_read_json_names_the_broken_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="config.json is not valid JSON"):
        read_json(path)


def test_move_to_previous_keeps_everything(tmp_path):
    run = RunDir(tmp_path / "cell")
    assert move_to_previous(run) is None  # no folder yet
    (run.checkpoints).mkdir(parents=True)
    run.checkpoint("latest").write_bytes(b"weights")
    run.metrics.write_text("step\n1\n")
    first = move_to_previous(run)
    assert sorted(p.name for p in run.root.iterdir()) == ["_previous"]
    assert (first / "checkpoints" / "latest.pt").read_bytes() == b"weights"
    run.metrics.write_text("step\n2\n")
    second = move_to_previous(run)
    assert second != first and first.exists() and (second / "metrics.csv").read_text() == "step\n2\n"


def test_append_after_a_torn_line_starts_a_new_line(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,source,fid\n1,train,2.5\n2,tra")  # a writer killed mid-row
    append_rows(path, [{"step": 3, "source": "eval:best", "fid": 1.0}], COLUMNS)
    assert path.read_text() == "step,source,fid\n1,train,2.5\n3,eval:best,1.0\n"


def test_append_after_a_torn_header_writes_the_header(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,sou")  # killed while writing the header
    append_rows(path, [{"step": 1, "source": "train", "fid": 2.0}], COLUMNS)
    assert path.read_text() == "step,source,fid\n1,train,2.0\n"


def test_truncate_after_a_torn_header_empties_the_file(tmp_path):
    path = tmp_path / "losses.csv"
    path.write_text("step,lo")
    truncate_csv(path, 0)
    append_rows(path, [{"step": 1, "loss/d": 0.5}])
    assert path.read_text() == "step,loss/d\n1,0.5\n"
