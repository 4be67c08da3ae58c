"""bench.speed: a run's speed record (<run>/speed.json): phases timed exclusively, training rates, memory, adding
up over a resume on the same machine, and never in the CSVs."""

from __future__ import annotations

import json
import math

import pytest
import torch

from bench import speed
from bench.run.folder import RunDir
from bench.run.launch import train


def test_a_run_records_its_machine_phases_rates_and_memory(reference_run):
    plan, run, _ = reference_run
    cfg = plan.config
    record = json.loads((run.root / "speed.json").read_text())
    assert set(record) == {"device", "dtype", "threads", "phases", "train", "peak_rss_mb", "cuda_peak_mb", "attempts"}
    assert record["device"].startswith("cpu: ") and record["dtype"] == "float32"
    assert record["threads"] == torch.get_num_threads() and record["cuda_peak_mb"] is None
    assert record["peak_rss_mb"] > 50 and record["attempts"] == 1
    phases = record["phases"]
    assert set(phases) == {"data", "judge", "reference", "pretraining", "training", "evaluation"}
    assert all(phases[k] > 0 for k in ("data", "reference", "training", "evaluation"))
    assert phases["pretraining"] == 0  # loop_ecogan has no pretraining stage
    train_rates = record["train"]
    assert train_rates["iterations"] == cfg.steps == 6 and train_rates["seconds"] == phases["training"]
    assert train_rates["batch_size"] == cfg.batch_size and train_rates["d_steps_per_iteration"] == 2
    assert math.isclose(train_rates["s_per_iteration"], phases["training"] / 6, rel_tol=1e-3)
    assert math.isclose(train_rates["images_per_s"], 6 * 2 * cfg.batch_size / phases["training"], rel_tol=1e-3)
    header = run.metrics.read_text().splitlines()[0]
    assert "second" not in header and "speed" not in header  # CSVs stay byte-identical across resumes


def test_a_resume_adds_to_the_record_of_the_interrupted_attempt(make_cfg, tmp_path, monkeypatch):
    run = RunDir(tmp_path / "cell")
    monkeypatch.setenv("LOOP_TEST_SIGNAL_AT", "5")  # Ctrl-C during step 5: checkpoint at 5
    with pytest.raises(KeyboardInterrupt):
        train(make_cfg(), run.root, progress=False)
    first = json.loads((run.root / "speed.json").read_text())
    assert first["train"]["iterations"] == 5 and first["attempts"] == 1
    monkeypatch.delenv("LOOP_TEST_SIGNAL_AT")
    assert train(make_cfg(), run.root, progress=False).status == "done"
    both = json.loads((run.root / "speed.json").read_text())
    assert both["train"]["iterations"] == 6 and both["attempts"] == 2
    assert all(both["phases"][k] >= first["phases"][k] for k in speed.PHASES)
    assert both["phases"]["data"] > first["phases"]["data"]  # the resume loaded the data again


def test_a_resume_on_another_machine_starts_a_new_record(make_cfg, tmp_path, monkeypatch):
    run = RunDir(tmp_path / "cell")
    monkeypatch.setenv("LOOP_TEST_SIGNAL_AT", "5")
    with pytest.raises(KeyboardInterrupt):
        train(make_cfg(), run.root, progress=False)
    record = json.loads((run.root / "speed.json").read_text())
    (run.root / "speed.json").write_text(json.dumps(record | {"device": "cuda: another GPU"}))
    monkeypatch.delenv("LOOP_TEST_SIGNAL_AT")
    train(make_cfg(), run.root, progress=False)
    again = json.loads((run.root / "speed.json").read_text())
    assert again["attempts"] == 1 and again["train"]["iterations"] == 1 and again["device"].startswith("cpu: ")


def test_nested_phases_are_counted_once(monkeypatch):
    """Evaluation that trains the judge and computes reference features inside it: each second counts once."""
    now = [0.0]
    monkeypatch.setattr(speed.time, "perf_counter", lambda: now[0])
    clock = speed.PhaseClock()
    with speed.recording(clock), speed.phase("training"):
        now[0] += 10
        with speed.phase("evaluation"):
            now[0] += 2
            with speed.phase("judge"):
                now[0] += 30
            now[0] += 1
            with speed.phase("reference"):
                now[0] += 4
        now[0] += 5
    assert clock.seconds == {"data": 0, "judge": 30, "reference": 4, "pretraining": 0, "training": 15,
                             "evaluation": 3}
    with speed.phase("training"):  # no run recording: nothing is counted
        now[0] += 100
    assert clock.seconds["training"] == 15


def test_an_unreadable_record_is_ignored(tmp_path):
    (tmp_path / "speed.json").write_text("{torn")
    assert speed.read_record(tmp_path) is None
