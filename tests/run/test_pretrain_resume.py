"""Pretraining is resumable like training: a run killed (SIGKILL) or interrupted (Ctrl-C) during its pretraining
stage loses at most the epoch under way, and ends with the files of a run that never stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.run.checkpoint import load_checkpoint
from bench.run.folder import RunDir
from bench.run.launch import train

from .conftest import TRAIN_COUNTS, assert_same_run
from .test_kill_resume import RUNNER, TESTS_DIR

EPOCHS = 4
BATCHES_PER_EPOCH = 3  # 21 images in batches of 8 (smoke scale): 8, 8, 5


def pretrain_cfg(make_cfg, method: str):
    """Two training steps after EPOCHS pretraining epochs (BAGAN with its encoder trained, quirks fixed)."""
    keys = {"quirks": "fixed"} if method == "loop_bagan" else {}
    return make_cfg(method=method, steps=2, eval_every=2, ckpt_every=2, method_options={},
                    pretrain_epochs=EPOCHS, **keys)


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory, folder_dataset, bench_cache):
    """One uninterrupted run per method, to compare the resumed ones with."""
    from .conftest import small_cfg

    runs = {}
    for method in ("loop_bagan", "loop_ebgan"):
        keys = {"quirks": "fixed"} if method == "loop_bagan" else {}
        cfg = small_cfg(folder_dataset, method=method, steps=2, eval_every=2, ckpt_every=2, method_options={},
                        pretrain_epochs=EPOCHS, **keys)
        run = RunDir(tmp_path_factory.mktemp("reference") / method)
        assert train(cfg, run.root, progress=False).status == "done"
        runs[method] = (cfg, run)
    return runs


def pretrain_epochs_saved(run: RunDir) -> int | None:
    """The pretraining epochs the latest checkpoint holds (None: none, or pretraining is over)."""
    try:
        pretrain = load_checkpoint(run.checkpoint("latest")).pretrain
    except Exception:  # not written yet
        return None
    return pretrain["epoch"] if pretrain is not None else None


def test_the_pretraining_budget_is_what_runs(reference_runs):
    _, run = reference_runs["loop_bagan"]
    assert sum(TRAIN_COUNTS) == 21
    recipe = json.loads(run.config.read_text())["recipe"]
    assert recipe["pretrain"] == f"{EPOCHS} epochs of 21 images = 84 images, 12 batches"
    assert load_checkpoint(run.checkpoint("latest")).pretrain is None  # over: later checkpoints do not carry it
    speed = json.loads(run.speed.read_text())
    assert speed["phases"]["pretraining"] > 0


def test_sigkilled_pretraining_resumes_from_its_last_epoch(reference_runs, tmp_path):
    cfg, reference = reference_runs["loop_bagan"]
    run = RunDir(tmp_path / "cell")
    batches = tmp_path / "batches.log"
    env = os.environ | {"BENCH_METHODS": "run.loop_methods", "LOOP_TEST_PRETRAIN_DELAY": "0.25",
                        "LOOP_TEST_PRETRAIN_BATCH_LOG": str(batches),
                        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(cfg.to_json()), str(run.root)], env=env)
    try:
        deadline = time.monotonic() + 120
        while (pretrain_epochs_saved(run) or 0) < 2:  # two epochs checkpointed
            assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before it could be killed"
            assert time.monotonic() < deadline, "no pretraining checkpoint of epoch 2 within 120 s"
            time.sleep(0.02)
        time.sleep(0.3)  # into epoch 3
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert pretrain_epochs_saved(run) == 2
    killed_batches = len(batches.read_text().splitlines())
    assert 2 * BATCHES_PER_EPOCH <= killed_batches < 3 * BATCHES_PER_EPOCH + 1  # it was inside epoch 3

    os.environ["LOOP_TEST_PRETRAIN_BATCH_LOG"] = str(batches)
    try:
        outcome = train(cfg, run.root, progress=False)
    finally:
        os.environ.pop("LOOP_TEST_PRETRAIN_BATCH_LOG")
    assert outcome.status == "done" and outcome.step == cfg.config.steps
    resumed_batches = len(batches.read_text().splitlines()) - killed_batches
    assert resumed_batches == (EPOCHS - 2) * BATCHES_PER_EPOCH  # epochs 3 and 4 again, not 1 and 2
    assert_same_run(reference, run)


def test_ctrl_c_during_pretraining_resumes_from_its_last_epoch(reference_runs, tmp_path, monkeypatch):
    cfg, reference = reference_runs["loop_ebgan"]
    run = RunDir(tmp_path / "cell")
    batches = tmp_path / "batches.log"
    monkeypatch.setenv("LOOP_TEST_PRETRAIN_BATCH_LOG", str(batches))

    def interrupt_in_epoch_2(self, x, y):  # Ctrl-C after the first batch of epoch 2
        losses = original(self, x, y)
        if len(batches.read_text().splitlines()) == BATCHES_PER_EPOCH + 1:
            os.kill(os.getpid(), signal.SIGINT)
        return losses

    from .loop_methods import LoopEBGAN

    original = LoopEBGAN.pretrain_step
    monkeypatch.setattr(LoopEBGAN, "pretrain_step", interrupt_in_epoch_2)
    # Ctrl-C as in a fresh `bench run`: Python's own SIGINT handler, whatever an earlier test in this process left
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg, run.root, progress=False)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the run put the handler back
    finally:
        signal.signal(signal.SIGINT, previous)
    status = json.loads(run.status.read_text())
    assert status["state"] == "pending" and status["step"] == 0
    assert pretrain_epochs_saved(run) == 1
    monkeypatch.setattr(LoopEBGAN, "pretrain_step", original)
    outcome = train(cfg, run.root, progress=False)
    assert outcome.status == "done"
    assert len(batches.read_text().splitlines()) == (BATCHES_PER_EPOCH + 1) + (EPOCHS - 1) * BATCHES_PER_EPOCH
    assert_same_run(reference, run)
    assert Path(run.speed).exists()
