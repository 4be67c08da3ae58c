"""Gathering run folders into the tidy CSV, and the status table (bench.results)."""

from __future__ import annotations

import csv
import json
import os
import socket

import pytest
from gridstub import STUB_IDS

from bench.errors import DataNotFoundError
from bench.results import COLUMNS, gather, grid_status
from bench.scheduler import run_grid

METRIC_COLUMNS = ["n_real", "n_fake", "fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall",
                  "ifid_mean", "fid_head", "fid_tail", "cond_acc"]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_gather_one_row_per_run_step_protocol_metric(stub, stub_grid, results):
    run_grid(stub_grid, results_root=results, executor="inline")
    path = gather(stub_grid, results_root=results)
    assert path == results / "stubgrid.csv"
    with open(path, encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == list(COLUMNS)
    rows = read_csv(path)
    # expected rows, counted from each run's metrics.csv: one per non-empty metric cell
    expected = set()
    for cell in STUB_IDS:
        for m in read_csv(results / "stubgrid" / cell / "metrics.csv"):
            expected |= {(cell, m["step"], m["source"], m["protocol"], k, m[k]) for k in METRIC_COLUMNS if m[k]}
    got = [(r["cell"], r["step"], r["source"], r["protocol"], r["metric"], r["value"]) for r in rows]
    assert len(got) == len(set(got)) and set(got) == expected
    assert not any(r["protocol"] == "paper" and r["metric"] == "kid_mean" for r in rows)  # empty cells left out
    first = next(r for r in rows if r["cell"] == "digits_lt-reacgan-none-s1")
    assert (first["grid"], first["dataset"], first["method"], first["sampling"], first["seed"], first["quirks"],
            first["scale"], first["backbone"], first["options"]) == (
        "stubgrid", "digits_lt", "reacgan", "none", "1", "paper", "smoke", "tiny", "{}")
    assert first["label"] == "reacgan · digits_lt · seed 1"
    assert rows == sorted(rows, key=lambda r: (r["cell"], int(r["step"]), r["source"], r["protocol"]))
    assert not [p for p in results.iterdir() if p.name.endswith(".tmp")]


def test_gather_options_column_and_key_lookup(stub, results):
    run_grid("smoke", results_root=results, executor="inline", only="method=ebgan", scale="cpu",
             overrides={"method_options.pretrained": False, "steps": 2, "eval_every": 1})
    for path in (gather("smoke-cpu", results_root=results), gather("smoke", results_root=results, scale="cpu")):
        assert path == results / "smoke-cpu.csv"
        rows = read_csv(path)
        assert {r["cell"] for r in rows} == {"digits_lt-ebgan-none-s0-pretrained_false"}
        assert {r["options"] for r in rows} == {json.dumps({"pretrained": False})}
        assert {r["scale"] for r in rows} == {"cpu"} and {r["step"] for r in rows} == {"1", "2"}


def test_gather_without_results_says_what_exists(stub, stub_grid, results):
    run_grid(stub_grid, results_root=results, executor="inline", scale="cpu", overrides={"steps": 1})
    with pytest.raises(DataNotFoundError, match="stubgrid-cpu"):
        gather(stub_grid, results_root=results)
    with pytest.raises(DataNotFoundError, match="bench run --grid smoke"):
        gather("smoke", results_root=results)


def test_grid_status_states(stub, stub_grid, results, monkeypatch):
    monkeypatch.setenv("BENCH_STUB_FAIL", STUB_IDS[1])
    run_grid(stub_grid, results_root=results, executor="inline", only="seed=0,seed=1,method=ecogan")
    lock = results / "stubgrid" / ".locks" / f"{STUB_IDS[2]}.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "start": None, "job": None,
                                "time": "t", "token": "t"}))
    text = grid_status(stub_grid, results_root=results)
    lines = {ln.split()[0]: ln for ln in text.splitlines()[2:]}
    assert text.splitlines()[0].startswith("grid stubgrid")
    assert "1 done" in text and "1 failed" in text and "1 running" in text and "1 not started" in text
    assert " done " in lines[STUB_IDS[0]] and "4/4" in lines[STUB_IDS[0]] and "(standard, classifier)" in \
        lines[STUB_IDS[0]]
    assert " failed " in lines[STUB_IDS[1]] and "2/4" in lines[STUB_IDS[1]] and "stub failure at step 2" in \
        lines[STUB_IDS[1]]
    assert " running " in lines[STUB_IDS[2]] and " not started " in lines[STUB_IDS[3]]
