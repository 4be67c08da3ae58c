"""The final measurement (``final_fakes``): after its last step a run measures its last state and its best
checkpoint again on more fakes (sources final:last, final:best) under the protocols that take their fake count from
the config; monitoring uses ``eval_fakes``; a restart replaces an interrupted final measurement exactly."""

from __future__ import annotations

import json

from bench.config import hashed_view
from bench.plan import make_plan
from bench.run.checkpoint import load_checkpoint
from bench.run.folder import RunDir, read_rows
from bench.run.launch import train


def test_the_best_and_last_checkpoints_are_measured_again_on_final_fakes(make_cfg, tmp_path):
    run = RunDir(tmp_path / "cell")
    cfg = make_cfg(protocols=["standard", "paper"], eval_fakes=10, final_fakes=30)
    assert train(cfg, run.root, progress=False).status == "done"
    rows = read_rows(run.metrics)
    train_rows = [r for r in rows if r["source"] == "train"]
    paper_real = train_rows[1]["n_real"]  # the paper protocol keeps one fake per reference image
    assert {(r["protocol"], r["n_fake"]) for r in train_rows} == {("standard", "10"), ("paper", paper_real)}
    final = [(r["source"], r["protocol"], r["step"], r["n_fake"]) for r in rows if r["source"].startswith("final:")]
    best_step = load_checkpoint(run.checkpoint("best")).step
    assert final == [("final:last", "standard", "6", "30"), ("final:best", "standard", str(best_step), "30")]
    assert rows[-2:] == [r for r in rows if r["source"].startswith("final:")]  # written last
    last_monitored = [r for r in train_rows if r["protocol"] == "standard"][-1]
    assert rows[-2]["fid"] != last_monitored["fid"]  # 30 fakes, not the 10 of monitoring
    per_class = read_rows(run.per_class)
    assert {r["n_fake"] for r in per_class if r["source"] == "final:last"} == {"10"}  # 30 fakes over 3 classes
    assert json.loads(run.status.read_text())["state"] == "done"


def test_a_restart_replaces_an_interrupted_final_measurement(make_cfg, tmp_path):
    cfg = make_cfg(eval_fakes=10, final_fakes=30)
    whole, torn = RunDir(tmp_path / "whole"), RunDir(tmp_path / "torn")
    train(cfg, whole.root, progress=False)
    train(cfg, torn.root, progress=False)
    metrics = torn.metrics.read_text().splitlines()
    torn.metrics.write_text("\n".join(metrics[:-1]) + "\n")  # killed after final:last, before final:best
    status = json.loads(torn.status.read_text())
    torn.status.write_text(json.dumps({**status, "state": "pending"}))
    assert train(cfg, torn.root, progress=False).status == "done"
    for name in ("metrics.csv", "per_class.csv", "losses.csv"):
        assert (torn.root / name).read_bytes() == (whole.root / name).read_bytes(), name


def test_the_paper_scale_monitors_on_10000_fakes_and_measures_the_headline_on_50000():
    cfg = make_plan({"dataset": "cifar10", "method": "reacgan"}, scale="paper").config
    assert (cfg.eval_fakes, cfg.final_fakes) == (10000, 50000)
    changed = make_plan({"dataset": "cifar10", "method": "reacgan"}, scale="paper",
                        overrides={"eval_fakes": 5000, "final_fakes": 20000}).config
    assert (changed.eval_fakes, changed.final_fakes) == (5000, 20000)
    cpu = make_plan({"dataset": "digits_lt", "method": "ecogan"}, scale="cpu").config
    assert cpu.final_fakes is None and "final_fakes" not in hashed_view(cpu.to_dict())
