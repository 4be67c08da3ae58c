"""bench.run.launch.train on a generated folder dataset: the run folder, exact resume, refusals, failures."""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from bench.errors import ConfigError
from bench.methods import get_method
from bench.methods.hyper import POSITIVE, option
from bench.metrics import METRICS_COLUMNS, PER_CLASS_COLUMNS
from bench.plan import make_plan
from bench.run.batches import ShuffledBatches
from bench.run.checkpoint import load_checkpoint
from bench.run.folder import RunDir, read_rows
from bench.run.launch import train

from .conftest import TRAIN_COUNTS, assert_same_run, assert_same_state
from .loop_methods import Died


def test_run_folder_holds_every_file(reference_run):
    cfg, run, outcome = reference_run
    files = sorted(str(p.relative_to(run.root)) for p in run.root.rglob("*") if p.is_file())
    assert files == ["checkpoints/best.pt", "checkpoints/latest.pt", "config.json", "losses.csv", "metrics.csv",
                     "per_class.csv", "samples/step-3.png", "samples/step-6.png", "speed.json", "status.json"]
    saved = json.loads(run.config.read_text())
    assert saved["hash"] == cfg.hash and saved["config"] == json.loads(json.dumps(cfg.config.to_dict()))
    # every resolved hyperparameter, not only the options the config names (n_dis)
    hyper = saved["hyper"]
    assert hyper["n_dis"] == 2 and hyper["lr_g"] == 2e-4 and hyper["betas"] == [0.5, 0.9]
    assert hyper["latent_dim"] == 16  # the tiny backbone's, from its recipe
    assert set(hyper) == {f.name for f in dataclasses.fields(get_method(cfg.config.method).Hyper)}
    assert set(saved["versions"]) == {"torch", "torchvision", "torch-fidelity", "python", "bench"}
    assert saved["versions"]["torch"] == torch.__version__
    assert "git_commit" in saved
    assert saved["data"] == {"num_classes": 3, "class_names": ["cls0", "cls1", "cls2"],
                             "class_counts": list(TRAIN_COUNTS), "channels": 1, "image_size": 16}
    recipe = saved["recipe"]  # what the run actually trained, for readers and the report
    assert recipe["steps"] == cfg.config.steps and recipe["d_updates"] == cfg.config.steps * recipe["n_dis"]
    assert recipe["g_cond"] == "scale" and recipe["backbone"] and recipe["adv_loss"]
    assert recipe["hyper"]["lr_g"] > 0 and "gp_weight" in recipe
    status = json.loads(run.status.read_text())
    assert status["state"] == "done" and status["step"] == status["steps"] == 6 and status["error"] is None
    metrics = read_rows(run.metrics)
    assert list(metrics[0]) == METRICS_COLUMNS and list(read_rows(run.per_class)[0]) == PER_CLASS_COLUMNS
    assert [(r["step"], r["source"], r["protocol"], r["extractor"]) for r in metrics] == [
        ("3", "train", "standard", "random-cnn"), ("6", "train", "standard", "random-cnn")]
    fids = [float(r["fid"]) for r in metrics]
    collapsed = [r["collapsed"] == "1" for r in metrics]
    best = min(range(2), key=lambda i: (collapsed[i], fids[i]))  # a healthy evaluation first, then the lower FID
    best_step = [3, 6][best]
    assert status["best"] == {"fid": fids[best], "step": best_step, "protocol": "standard", "extractor": "random-cnn",
                              "collapsed": collapsed[best]}
    assert outcome.best_fid == fids[best]
    assert load_checkpoint(run.checkpoint("best")).step == best_step
    assert load_checkpoint(run.checkpoint("latest")).step == 6
    assert [(r["step"], r["class"]) for r in read_rows(run.per_class)] == [
        (s, str(c)) for s in ("3", "6") for c in range(3)]
    losses = read_rows(run.losses)
    assert [r["step"] for r in losses] == [str(s) for s in range(1, 7)]  # a row every max(1, 6 // 500) steps
    assert {"loss/d", "loss/g"} <= set(losses[0]) and all(np.isfinite(float(v)) for v in losses[-1].values())


def test_sample_grid_has_one_labelled_row_per_class(reference_run):
    _, run, _ = reference_run
    picture = np.asarray(Image.open(run.sample_grid(6)).convert("L"))
    tiles_from = picture.shape[1] - 8 * (16 + 2) - 2  # label margin width; 8 columns of 16 px tiles + 2 px pads
    label_rows = (picture[:, :tiles_from] < 128).any(axis=1)
    runs_of_text = int(label_rows[0]) + int(np.sum(label_rows[1:] & ~label_rows[:-1]))
    assert runs_of_text == 3


def test_finished_run_is_skipped_and_untouched(reference_run):
    cfg, run, outcome = reference_run
    before = {p: p.stat().st_mtime_ns for p in run.root.rglob("*") if p.is_file()}
    again = train(cfg, run.root, progress=False)
    assert (again.status, again.step, again.best_fid) == ("skipped", 6, outcome.best_fid)
    same_but_runtime = train(make_plan(cfg.config.to_dict() | {"device": "auto", "data_root": "/elsewhere"}),
                             run.root, progress=False)
    assert same_but_runtime.status == "skipped"
    assert {p: p.stat().st_mtime_ns for p in run.root.rglob("*") if p.is_file()} == before


def test_changed_config_is_refused_with_the_keys(reference_run, make_cfg, tmp_path):
    _, ref, _ = reference_run
    run_dir = tmp_path / "cell"
    shutil.copytree(ref.root, run_dir)
    with pytest.raises(ConfigError, match=r"another config \(hyper.n_dis: 2 -> 1; "
                                          r"method_options: \{'n_dis': 2\} -> \{'n_dis': 1\}; "
                                          r"steps: 6 -> 10\); refusing to resume: use --force-restart"):
        train(make_cfg(steps=10, method_options={"n_dis": 1}), run_dir, progress=False)
    assert (run_dir / "metrics.csv").read_bytes() == ref.metrics.read_bytes()


def test_a_changed_hyper_default_is_refused_naming_the_option(reference_run, make_cfg, tmp_path, monkeypatch):
    """The run folder was trained with lr_d 2e-4; a code change of that default alone (no config key changes)
    makes the same config refuse to resume, and the message names the option."""
    cfg, ref, _ = reference_run
    run_dir = tmp_path / "cell"
    shutil.copytree(ref.root, run_dir)
    method = get_method(cfg.config.method)
    changed = dataclasses.make_dataclass("Hyper", [("lr_d", float, option(1e-4, POSITIVE))], bases=(method.Hyper,))
    monkeypatch.setattr(method, "Hyper", changed)
    with pytest.raises(ConfigError, match=r"another config \(hyper.lr_d: 0.0002 -> 0.0001\); refusing to resume"):
        train(make_cfg(), run_dir, progress=False)
    assert (run_dir / "metrics.csv").read_bytes() == ref.metrics.read_bytes()


def test_force_restart_moves_old_files_to_previous(reference_run, make_cfg, tmp_path):
    _, ref, _ = reference_run
    run_dir = tmp_path / "cell"
    shutil.copytree(ref.root, run_dir)
    outcome = train(make_cfg(steps=3), run_dir, force_restart=True, progress=False)
    assert outcome.status == "done" and outcome.step == 3
    (previous,) = (run_dir / "_previous").iterdir()
    assert (previous / "metrics.csv").read_bytes() == ref.metrics.read_bytes()
    assert (previous / "checkpoints" / "latest.pt").exists()
    assert [r["step"] for r in read_rows(run_dir / "metrics.csv")] == ["3"]
    assert json.loads((run_dir / "config.json").read_text())["config"]["steps"] == 3


@pytest.mark.parametrize("die_at", [2, 6])
def test_run_dying_mid_way_resumes_to_identical_results(reference_run, make_cfg, tmp_path, monkeypatch, die_at):
    """Dying at step 2 (before any checkpoint) or 6 (after checkpoint 4, with losses row 5 written, and before
    step 6's rows) and starting again gives the same bytes and weights."""
    _, ref, _ = reference_run
    run = RunDir(tmp_path / "cell")
    monkeypatch.setenv("LOOP_TEST_DIE_AT", str(die_at))
    with pytest.raises(Died):
        train(make_cfg(), run.root, progress=False)
    assert json.loads(run.status.read_text())["state"] == "running"
    if die_at == 6:
        assert load_checkpoint(run.checkpoint("latest")).step == 4
        assert [r["step"] for r in read_rows(run.losses)][-1] == "5"  # a row past the checkpoint, to be dropped
    monkeypatch.delenv("LOOP_TEST_DIE_AT")
    assert train(make_cfg(), run.root, progress=False).status == "done"
    assert_same_run(ref, run)


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_ctrl_c_checkpoints_the_last_step_and_resumes_exactly(reference_run, make_cfg, tmp_path, monkeypatch,
                                                              signal_name):
    """Ctrl-C (or SIGTERM) in the middle of step 5 stops at its end, checkpoints step 5, marks the run pending."""
    _, ref, _ = reference_run
    run = RunDir(tmp_path / "cell")
    monkeypatch.setenv("LOOP_TEST_SIGNAL_AT", "5")  # between checkpoints 4 and 6
    monkeypatch.setenv("LOOP_TEST_SIGNAL", signal_name)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        train(make_cfg(), run.root, progress=False)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    status = json.loads(run.status.read_text())
    assert status["state"] == "pending" and status["error"] == "interrupted at step 5; run again to resume"
    assert load_checkpoint(run.checkpoint("latest")).step == 5
    monkeypatch.delenv("LOOP_TEST_SIGNAL_AT")
    assert train(make_cfg(), run.root, progress=False).status == "done"
    assert_same_run(ref, run)


def test_ctrl_c_during_the_last_step_finishes_the_run_then_stops(reference_run, make_cfg, tmp_path, monkeypatch):
    _, ref, _ = reference_run
    run = RunDir(tmp_path / "cell")
    monkeypatch.setenv("LOOP_TEST_SIGNAL_AT", "6")
    with pytest.raises(KeyboardInterrupt):
        train(make_cfg(), run.root, progress=False)
    status = json.loads(run.status.read_text())
    assert status["state"] == "done" and status["error"] is None
    assert_same_run(ref, run)


def test_eval_every_does_not_change_the_trajectory(reference_run, make_cfg, tmp_path):
    _, ref, _ = reference_run
    run = RunDir(tmp_path / "cell")
    train(make_cfg(eval_every=2), run.root, progress=False)  # evaluations at 2, 4, 6 instead of 3, 6
    assert_same_state(load_checkpoint(ref.checkpoint("latest")).method,
                      load_checkpoint(run.checkpoint("latest")).method)
    assert run.losses.read_bytes() == ref.losses.read_bytes()


def test_non_finite_loss_fails_the_run(make_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("LOOP_TEST_NAN_AT", "3")
    run = RunDir(tmp_path / "cell")
    outcome = train(make_cfg(), run.root, progress=False)
    assert outcome.status == "failed" and outcome.step == 2
    assert outcome.error == "non-finite loss loss/g = nan at step 3"
    status = json.loads(run.status.read_text())
    assert status["state"] == "failed" and status["error"] == outcome.error and status["step"] == 2
    log = run.error_log.read_text()
    assert "Traceback" in log and "RunFailed: non-finite loss loss/g = nan at step 3" in log


def test_missing_dataset_is_recorded_as_failed(make_cfg, tmp_path, capsys):
    run = RunDir(tmp_path / "cell")
    outcome = train(make_cfg(dataset=f"folder:{tmp_path / 'nowhere'}"), run.root, progress=False)
    assert outcome.status == "failed" and outcome.step == 0
    assert outcome.error.startswith(f"dataset folder not found: {tmp_path / 'nowhere'}")
    assert "\n" not in outcome.error
    status = json.loads(run.status.read_text())
    assert status["state"] == "failed" and status["error"] == outcome.error
    assert "DataNotFoundError" in run.error_log.read_text()
    assert not run.config.exists()
    assert "failed at step 0: dataset folder not found" in capsys.readouterr().err


def test_pretraining_runs_once_and_resume_skips_it(make_cfg, tmp_path, monkeypatch):
    log = tmp_path / "pretrain.log"
    monkeypatch.setenv("LOOP_TEST_PRETRAIN_LOG", str(log))
    cfg = make_cfg(method="loop_ebgan", steps=2, eval_every=2, ckpt_every=2, method_options={})
    reference = RunDir(tmp_path / "reference")
    train(cfg, reference.root, progress=False)
    assert log.read_text() == "pretrain\n"
    run = RunDir(tmp_path / "cell")
    monkeypatch.setenv("LOOP_TEST_DIE_AT", "2")
    with pytest.raises(Died):
        train(cfg, run.root, progress=False)
    assert load_checkpoint(run.checkpoint("latest")).step == 0  # saved right after pretraining
    monkeypatch.delenv("LOOP_TEST_DIE_AT")
    train(cfg, run.root, progress=False)
    assert log.read_text() == "pretrain\n" * 2  # the reference run's and the dying run's; not the resumed one's
    assert_same_run(reference, run)


def test_shuffled_batches_cover_the_set_each_epoch_in_a_new_order():
    images = torch.arange(10, dtype=torch.uint8).reshape(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    labels = torch.arange(10)
    loader = ShuffledBatches(images, labels, batch_size=4, seed=1)
    assert len(loader) == 3
    epochs = [torch.cat([y for _, y in loader]) for _ in range(2)]
    assert all(sorted(e.tolist()) == list(range(10)) for e in epochs)
    assert not torch.equal(epochs[0], epochs[1])
    x, y = next(iter(loader))
    assert torch.allclose(x[:, 0, 0, 0], y.float() / 127.5 - 1)
    assert [len(y) for _, y in ShuffledBatches(images, labels, batch_size=64, seed=1)] == [10]


@pytest.mark.parametrize(("n", "batch_size"), [(10, 4), (9, 4), (13, 4), (8, 4), (5, 4), (3, 2), (2, 8), (1, 4),
                                               (37, 5)])
def test_one_pass_yields_every_index_once_and_no_batch_of_one(n, batch_size):
    """The last batch holds the remainder; a remainder of one joins the previous batch (BatchNorm needs two)."""
    images = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
    loader = ShuffledBatches(images, torch.arange(n), batch_size=batch_size, seed=3)
    for _ in range(2):
        batches = [y for _, y in loader]
        assert sorted(torch.cat(batches).tolist()) == list(range(n))
        sizes = [len(y) for y in batches]
        assert len(sizes) == len(loader)
        assert all(s >= 2 for s in sizes) or n == 1
        assert all(s == min(batch_size, n) for s in sizes[:-2])
        # expected sizes from the rule: full batches, then the remainder (or a batch of b + 1 when it is one)
        b = min(batch_size, n)
        full, rest = divmod(n, b)
        expected = ([b] * full + [rest]) if rest > 1 else ([b] * (full - 1) + [b + rest])
        assert sizes == expected


def test_failure_before_resuming_keeps_the_checkpointed_step(make_cfg, folder_dataset, tmp_path, monkeypatch):
    """Data gone between attempts: the run is marked failed at the step (and best) it had reached."""
    dataset = shutil.copytree(folder_dataset, tmp_path / "images")
    cfg = make_cfg(dataset=f"folder:{dataset}")
    run = RunDir(tmp_path / "cell")
    monkeypatch.setenv("LOOP_TEST_DIE_AT", "5")
    with pytest.raises(Died):
        train(cfg, run.root, progress=False)
    before = json.loads(run.status.read_text())
    assert before["step"] == 4 and before["best"]["step"] == 3
    shutil.rmtree(dataset)
    outcome = train(cfg, run.root, progress=False)
    status = json.loads(run.status.read_text())
    assert (outcome.status, outcome.step, outcome.best_fid) == ("failed", 4, before["best"]["fid"])
    assert status["state"] == "failed" and status["step"] == 4 and status["best"] == before["best"]
    assert status["error"].startswith("dataset folder not found")
