"""Every phase of a run shows its progress: in a worker's progress file (what the scheduler's live lines show), and
as lines on a stderr that is a log file."""

from __future__ import annotations

import io
import time

from bench import progress
from bench.run.folder import RunDir
from bench.run.launch import train


def test_every_phase_reaches_the_workers_progress_file(make_cfg, tmp_path, monkeypatch):
    lines: list[str] = []
    monkeypatch.setattr(progress.ProgressFile, "flush", lambda self: lines.append(self.line) if self.line else None)
    monkeypatch.setenv(progress.PROGRESS_FILE_ENV, str(tmp_path / "progress.txt"))
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "fresh-cache"))  # the judge trains here
    cfg = make_cfg(method="loop_ebgan", steps=2, eval_every=2, ckpt_every=2, method_options={}, pretrain_epochs=2)
    run = RunDir(tmp_path / "cell")
    assert train(cfg, run.root, progress=False).status == "done"
    cell = run.root.name
    phases = {"decode": "decode", "judge": "judge", "reference": "reference features", "pretraining": "pretrain",
              "training": "train", "evaluation": "evaluate step 2"}
    for phase, words in phases.items():
        assert any(line.startswith(f"{cell} {words}") for line in lines), phase
    pretraining = [line for line in lines if line.startswith(f"{cell} pretrain")]
    assert any("epoch 2/2" in line and "ae " in line for line in pretraining)  # epoch and loss
    assert any("<" in line for line in pretraining)  # tqdm's elapsed<remaining: the ETA


def test_log_lines_come_at_most_every_period_and_the_last_at_the_end(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    stream = io.StringIO()
    log = progress.LogLines(stream, every=5.0)
    for second in range(12):
        clock[0] = float(second)
        log.write(f"\rpretrain: {second}/12")
    log.write("\rpretrain: 12/12\n")  # the bar closes
    assert stream.getvalue().splitlines() == ["pretrain: 0/12", "pretrain: 5/12", "pretrain: 10/12",
                                              "pretrain: 12/12"]


def test_bars_go_to_stderr_lines_when_stderr_is_a_file(monkeypatch, capsys):
    with progress.shown(True, prefix="cell"):
        bar = progress.bar(3, "judge cifar10_lt", unit="batch")
        for _ in range(3):
            bar.update(1)
        bar.close()
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("cell judge cifar10_lt: 100% 3/3")


def test_a_bar_waiting_on_a_long_unit_still_writes_lines_to_a_log_file(monkeypatch, capsys):
    # one unit of work (an evaluation's protocol) lasting 5 log periods: the heartbeat keeps the log going (a line
    # changes when its elapsed seconds do)
    monkeypatch.setenv(progress.LOG_EVERY_ENV, "0.5")
    with progress.shown(True, prefix="cell"):
        outer = progress.bar(10, "train")
        inner = progress.bar(3, "evaluate step 5", unit="part", leave=False)  # nested: tqdm moves the cursor
        time.sleep(2.5)
        inner.update(3)
        inner.close()
        outer.close()
    lines = capsys.readouterr().err.splitlines()
    waiting = [line for line in lines if line.startswith("cell evaluate step 5:   0% 0/3")]
    assert len(waiting) >= 3, lines  # the first at once, then the redraws at 00:01 and 00:02 while the unit ran
    assert not any("\x1b" in line or not line.startswith("cell ") for line in lines), lines
