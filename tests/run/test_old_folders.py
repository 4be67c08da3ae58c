"""Run folders an older bench wrote (metrics.csv without the collapse columns) are refused in one line before any
work, and gathered with a note that their verdict is unknown."""

from __future__ import annotations

import json
import shutil

import pytest

from bench.errors import ConfigError
from bench.results import gather
from bench.run.folder import RunDir, _rewrite, read_csv_header, read_rows
from bench.run.launch import train

OLD_METRICS = ["step", "source", "protocol", "extractor", "reference", "label_mix", "n_real", "n_fake", "fid"]


def make_old(run: RunDir) -> None:
    """Rewrite ``run``'s metrics.csv as a version without the collapse columns wrote it."""
    rows = [{k: r[k] for k in OLD_METRICS} for r in read_rows(run.metrics)]
    _rewrite(run.metrics, OLD_METRICS, rows)


def test_an_unfinished_old_folder_is_refused_before_any_work(reference_run, tmp_path):
    cfg, ref, _ = reference_run
    folder = tmp_path / "results" / "adhoc" / "old"
    shutil.copytree(ref.root, folder)
    run = RunDir(folder)
    make_old(run)
    status = json.loads(run.status.read_text())
    run.status.write_text(json.dumps(status | {"state": "pending"}))
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    with pytest.raises(ConfigError) as err:
        train(cfg, folder, progress=False)
    message = str(err.value)
    assert "\n" not in message and "written by another version of bench" in message and "lacks" in message
    assert "collapsed" in message and "--force-restart" in message
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before  # nothing touched


def test_gather_reads_an_old_folder_and_says_its_verdict_is_unknown(reference_run, tmp_path, capsys):
    _, ref, _ = reference_run
    root = tmp_path / "results"
    folder = root / "old-grid" / ref.root.name
    shutil.copytree(ref.root, folder)
    make_old(RunDir(folder))
    (root / "old-grid" / "grid.json").write_text(json.dumps({"grid": "old-grid", "cells": [{"id": ref.root.name}]}))
    out = gather("old-grid", root)
    assert read_csv_header(out) is not None and "fid" in out.read_text()
    note = capsys.readouterr().err
    assert "1 run(s) of old-grid were written before bench measured coverage, diversity and collapse" in note
