"""Issue 11, row 12: a run records the CPU thread count it trained with (it moves float sums, so FID differs
between --workers 1 and 2), and a resume with another count says that it is not bit-exact."""

from __future__ import annotations

import json

import torch

from bench.run.folder import RunDir
from bench.run.launch import train


def test_config_json_records_the_thread_count(reference_run):
    _, run, _ = reference_run
    assert json.loads(run.config.read_text())["threads"] == torch.get_num_threads()


def test_resuming_with_another_thread_count_says_so(make_cfg, tmp_path, capsys):
    run = RunDir(tmp_path / "cell")
    cfg = make_cfg(steps=2, eval_every=2, ckpt_every=1)
    assert train(cfg, run.root, progress=False).status == "done"
    saved = json.loads(run.config.read_text())
    saved["threads"] = torch.get_num_threads() + 3
    run.config.write_text(json.dumps(saved))
    status = json.loads(run.status.read_text())
    run.status.write_text(json.dumps({**status, "state": "pending"}))
    train(cfg, run.root, progress=False)
    err = capsys.readouterr().err
    assert f"started with {saved['threads']} CPU threads and resumes with {torch.get_num_threads()}" in err
    assert "not be bit for bit" in err
