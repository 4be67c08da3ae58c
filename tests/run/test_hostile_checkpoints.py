"""Issue 21, items 7 and 8 and the memory check of ``bench sample``: checkpoints that do not belong to the run
folder they sit in. Another run's checkpoint is refused naming both config hashes (``--allow-foreign-checkpoint``
uses it anyway), also on resume; a checkpoint of other networks or a corrupt one is one line naming the file, the
networks and the first mismatch; a sample grid too large for the memory is refused before any work."""

from __future__ import annotations

import json
import re
import shutil
import sys

import pytest
import torch
from hostile_cli import bench, error_line

import bench.run.posthoc as posthoc
from bench.run.checkpoint import load_checkpoint, save_checkpoint
from bench.run.folder import RunDir
from bench.run.launch import train
from bench.run.posthoc import open_run
from bench.run.setup import build_method

EVAL = ("eval", "--protocol", "standard", "--extractor", "classifier", "--device", "cpu")


@pytest.fixture
def run_copy(reference_run, tmp_path) -> RunDir:
    _, ref, _ = reference_run
    return RunDir(shutil.copytree(ref.root, tmp_path / "cell"))


@pytest.fixture(scope="module")
def other_run(tmp_path_factory, folder_dataset, bench_cache) -> RunDir:
    """A second run on the same data and networks, with another seed: its checkpoints fit, but are not ours."""
    from .conftest import small_cfg

    run = RunDir(tmp_path_factory.mktemp("other") / "cell")
    assert train(small_cfg(folder_dataset, seed=1), run.root, progress=False).status == "done"
    return run


def sample_args(run: RunDir, out) -> tuple:
    return ("sample", run.root, "--per-class", "2", "--out", out, "--device", "cpu")


# -- item 7: another run's checkpoint ------------------------------------------------------------------------
def test_item7_another_runs_checkpoint_is_refused_naming_both_hashes(run_copy, other_run, tmp_path):
    shutil.copy(other_run.checkpoint("best"), run_copy.checkpoint("best"))
    ours, theirs = (json.loads(r.config.read_text())["hash"] for r in (run_copy, other_run))
    assert ours != theirs
    metrics = run_copy.metrics.read_bytes()
    for args in ((*EVAL[:1], run_copy.root, *EVAL[1:]), sample_args(run_copy, tmp_path / "g.png")):
        result = bench(*args)
        assert result.exit_code == 2
        line = error_line(result)
        assert str(run_copy.checkpoint("best")) in line and str(run_copy.config) in line, line
        assert f"(hash {theirs})" in line and f"(hash {ours})" in line and "--allow-foreign-checkpoint" in line, line
    assert run_copy.metrics.read_bytes() == metrics  # main 672acd3 appended the foreign FID here
    assert not (tmp_path / "g.png").exists()
    forced = bench(*EVAL[:1], run_copy.root, *EVAL[1:], "--allow-foreign-checkpoint")
    assert forced.exit_code == 0 and "note: " in forced.stderr and theirs in forced.stderr
    assert run_copy.metrics.read_bytes().startswith(metrics) and run_copy.metrics.read_bytes() != metrics


def test_item7_resume_from_another_runs_checkpoint_is_refused(reference_run, run_copy, other_run):
    cfg, _, _ = reference_run
    status = json.loads(run_copy.status.read_text())
    run_copy.status.write_text(json.dumps({**status, "state": "pending", "step": 4}))  # as a killed run's
    shutil.copy(other_run.checkpoint("latest"), run_copy.checkpoint("latest"))
    outcome = train(cfg, run_copy.root, progress=False)
    assert outcome.status == "failed"
    assert "was written by a run of another config" in outcome.error and "--force-restart" in outcome.error
    assert "\n" not in outcome.error
    saved = json.loads(run_copy.status.read_text())
    assert saved["state"] == "failed" and saved["best"] == status["best"]  # not the other run's best FID


# -- item 8: checkpoints of other networks, or corrupt ---------------------------------------------------------
def other_method_state(run: RunDir, folder_dataset) -> dict:
    """The state dict of BAGAN's networks on this run's data: another method's checkpoint."""
    from .conftest import small_cfg

    _, data = open_run(run.root)
    cfg = small_cfg(folder_dataset, method="bagan", method_options={})
    return build_method(cfg, data, torch.device("cpu")).state_dict()


def wrong_shape(state: dict) -> dict:
    key = next(k for k in state["D"] if state["D"][k].dim() > 1)
    state["D"][key] = torch.zeros(3, 3)
    return state


@pytest.mark.parametrize(("corrupt", "expected"), [
    ("other_method", r"this run's loop_ecogan networks \(G, D, opt_g, opt_d\): G\.\S+ is missing \(\d+ key\(s\) "
                     r"missing, \d+ extra\)"),
    ("wrong_shape", r"this run's loop_ecogan networks \(G, D, opt_g, opt_d\): D\.\S+ has shape \(3, 3\) in the file, "
                    r"\(\d+(, \d+)*\) in this run's networks"),
    ("optimizer_shape", r"networks \(G, D, opt_g, opt_d\): opt_d's exp_avg of parameter 0 has shape \(2,\) in the "
                        r"file"),
    ("step", r"is not a checkpoint bench wrote: its 'step' is 'abc', not a non-negative integer"),
    ("no_G", r"networks \(G, D, opt_g, opt_d\): it holds no G state dict \(it holds D, opt_g, opt_d, extra\)"),
], ids=["other-method", "wrong-shape", "optimizer-shape", "non-integer-step", "no-G"])
def test_item8_a_checkpoint_that_does_not_fit_is_one_line(run_copy, folder_dataset, tmp_path, corrupt, expected):
    path = run_copy.checkpoint("best")
    ckpt = load_checkpoint(path)
    if corrupt == "other_method":
        ckpt.method = other_method_state(run_copy, folder_dataset)
    elif corrupt == "wrong_shape":
        ckpt.method = wrong_shape(ckpt.method)
    elif corrupt == "optimizer_shape":
        ckpt.method["opt_d"]["state"][0]["exp_avg"] = torch.zeros(2)
    elif corrupt == "no_G":
        del ckpt.method["G"]
    save_checkpoint(ckpt, path)
    if corrupt == "step":
        raw = torch.load(path, weights_only=True)
        torch.save({**raw, "step": "abc"}, path)
    for args in ((*EVAL[:1], run_copy.root, *EVAL[1:]), sample_args(run_copy, tmp_path / "g.png")):
        result = bench(*args)
        assert result.exit_code == 2
        line = error_line(result)
        assert line.startswith(f"Error: {path} ") and re.search(expected, line), line


def test_item8_resume_from_a_checkpoint_of_other_networks_fails_in_one_line(reference_run, run_copy):
    cfg, _, _ = reference_run
    status = json.loads(run_copy.status.read_text())
    run_copy.status.write_text(json.dumps({**status, "state": "pending", "step": 4}))
    latest = load_checkpoint(run_copy.checkpoint("latest"))
    latest.method = wrong_shape(latest.method)
    save_checkpoint(latest, run_copy.checkpoint("latest"))
    outcome = train(cfg, run_copy.root, progress=False)
    assert outcome.status == "failed" and "does not fit this run's loop_ecogan networks" in outcome.error


# -- minor: bench sample checks the memory a grid needs first ----------------------------------------------------
def test_sample_refuses_a_grid_larger_than_the_memory_before_any_work(run_copy, tmp_path, monkeypatch):
    # a machine with 10 MiB free (sizes stay small: without the check, the command must not exhaust real memory)
    monkeypatch.setattr(posthoc, "available_memory_bytes", lambda: 10 * 2**20, raising=False)
    built = []
    monkeypatch.setattr(posthoc, "build_method", lambda *a, **k: built.append(a) or build_method(*a, **k))
    out = tmp_path / "grid.png"
    big = bench("sample", run_copy.root, "--per-class", "300", "--out", out, "--device", "cpu")
    assert big.exit_code == 2  # main 672acd3 wrote it (and --per-class 100000 was killed at 23 GB, without a word)
    line = error_line(big)
    assert ("--per-class 300: a grid of 3 classes x 300 samples of 16x16 pixels would take about 38.8 MiB of memory, "
            "and 10.0 MiB are available: use a smaller --per-class") in line, line
    many = bench("sample", run_copy.root, "--class", "1", "--n", "5000", "--out-dir", tmp_path / "imgs", "--device",
                 "cpu")
    assert many.exit_code == 2 and "--n 5000: 5000 images of 16x16 pixels" in error_line(many)
    assert not out.exists() and not (tmp_path / "imgs").exists() and not built  # refused before loading anything
    assert bench(*sample_args(run_copy, out)).exit_code == 0 and out.exists()  # 3 x 2 images fit


def test_sample_reads_the_memory_available():
    available = posthoc.available_memory_bytes()
    assert available is None or available > 0
    if sys.platform == "linux":
        assert available is not None
