"""Issue 21, the items the run plan answers (2, 5, 6, 12 and the minor config/CLI ones): each row runs the command a
hostile user typed through the CLI (click's CliRunner, the stub train function unless the row needs the real one) and
checks one clear line or the fixed behaviour, with no Python traceback. Every test here fails on main 672acd3."""

from __future__ import annotations

import json

import pytest
from gridstub import STUB_IDS, attempts
from hostile_cli import bench, error_line

from bench.grid import load_grid
from bench.scheduler import run_grid

SMOKE_RUN = ("run", "--dataset", "digits_lt", "--method", "ecogan", "--scale", "smoke")
CELL = "digits_lt-ecogan-none-s0"


# -- item 2: a seed list on a single run -------------------------------------------------------------
def test_item2_a_seed_list_on_a_single_run_is_one_line(stub, results):
    result = bench(*SMOKE_RUN, "--set", "seed=[0,1]", "--results-root", results)
    assert result.exit_code == 2 and "a single run takes one seed" in error_line(result)
    assert "--seeds" in error_line(result) and not results.exists()


# -- item 5: boolean keys take true/false only, integer keys refuse booleans ---------------------------
@pytest.mark.parametrize(("setting", "message"), [
    ("bf16=False", "bf16 must be true, false or auto, got 'False'"),
    ("channels_last=no", "channels_last must be true, false or auto, got 'no'"),
    ("compile=1", "compile must be true or false, got 1"),
    ("tensorboard=yes", "tensorboard must be true or false, got 'yes'"),
    ("nproc=true", "nproc must be a positive integer, got True"),
])
def test_item5_booleans_and_integers_are_checked(stub, results, setting, message):
    result = bench(*SMOKE_RUN, "--set", setting, "--results-root", results)
    assert result.exit_code == 2 and message in error_line(result)
    assert not results.exists()  # refused before anything was written


# -- item 6: the backbone a cell is named after is the one it trains ----------------------------------------
def test_item6_set_backbone_wins_over_the_scale_preset(stub, results):
    bench(*SMOKE_RUN, "--set", "backbone=dcgan64", "--results-root", results)
    run = results / "adhoc-smoke" / f"{CELL}-dcgan64"
    assert json.loads((run / "config.json").read_text())["config"]["backbone"] == "dcgan64"


def test_item6_a_backbone_the_scale_cannot_train_is_refused_in_one_line(stub, results):
    result = bench("run", "--dataset", "digits_lt", "--method", "ecogan", "--scale", "cpu", "--set",
                   "backbone=biggan32", "--results-root", results)
    assert result.exit_code == 2
    assert "backbone 'biggan32' does not support image_size 16; it supports 32" in error_line(result)
    assert not results.exists()


def test_item6_the_dcgan64_cells_of_ltgan_at_smoke_train_dcgan64():
    named = [cell for cell in load_grid("ltgan").cells("smoke") if "-dcgan64" in cell.id]
    assert named and all(cell.config.backbone == "dcgan64" for cell in named)
    others = [cell for cell in load_grid("ltgan").cells("smoke") if "-dcgan64" not in cell.id]
    assert all(cell.config.backbone == "tiny" for cell in others)  # the preset's network, not named in their ids


# -- item 12: --dry-run on a single run, and the grid-only options ------------------------------------------
def test_item12_dry_run_on_a_single_run_prints_the_resolved_cell_and_stops(stub, results):
    result = bench(*SMOKE_RUN, "--dry-run", "--results-root", results)
    assert result.exit_code == 0
    out = result.stdout
    assert f"cell {CELL}" in out and f"{results}/adhoc-smoke/{CELL}" in out
    assert "4 steps of 5 D + 1 G (20 D updates)" in out and "backbone tiny" in out and "config hash" in out
    assert not results.exists()  # nothing trained, nothing written


@pytest.mark.parametrize("option", [("--only", "method=ecogan"), ("--workers", "2"), ("--retry-failed",),
                                    ("--cells-per-gpu", "2")])
def test_item12_grid_only_options_on_a_single_run_are_refused(stub, results, option):
    result = bench(*SMOKE_RUN, *option, "--results-root", results)
    assert result.exit_code == 2 and f"{option[0]} goes with --grid" in error_line(result)
    assert not results.exists()


# -- minor: what the build refuses, the dry run refuses ----------------------------------------------------
def test_minor_dry_run_refuses_a_g_cond_the_build_refuses(stub, results):
    result = bench("run", "--grid", "demo", "--dry-run", "--set", "g_cond=cbn", "--results-root", results)
    assert result.exit_code == 2
    line = error_line(result)
    assert "cell digits_lt-bagan-none-s0-g_cbn" in line and "g_cond = 'cbn' does not apply" in line
    result = bench("run", "--grid", "table1", "--dry-run", "--set", "g_cond=concat", "--results-root", results)
    assert result.exit_code == 2 and "unknown g_cond for backbone 'biggan32' 'concat'; known: cbn" in error_line(result)


def test_minor_cells_per_gpu_without_a_gpu_says_so(stub, stub_grid, results, capsys):
    summary = run_grid(stub_grid, results_root=results, executor="local", cells_per_gpu=2, overrides={"device": "cpu"})
    assert summary.exit_code == 0
    assert "--cells-per-gpu 2 packs cells on GPUs, and the cells run on the CPU" in capsys.readouterr().err


def test_minor_a_bf16_run_does_not_go_into_the_fp32_runs_folder(stub, results):
    assert bench(*SMOKE_RUN, "--results-root", results).exit_code == 0
    run = results / "adhoc-smoke" / CELL
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = bench(*SMOKE_RUN, "--set", "bf16=true", "--results-root", results)
    assert result.exit_code == 0, result.output  # its own folder: the cell id names the precision (-bf16)
    assert json.loads((results / "adhoc-smoke" / f"{CELL}-bf16" / "config.json").read_text())["config"]["bf16"]
    assert attempts(run) == 1
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # the fp32 run is untouched


def test_minor_a_finished_cell_of_an_older_bench_is_kept_not_failed(stub, stub_grid, results, monkeypatch, capsys):
    """A folder an older bench finished (no 'hyper' in config.json, the options added since absent, another hash) is
    not reported failed with a diff of keys that stay out of the hash at their defaults; it is kept. The real train
    function would refuse it, so the stub is not used here."""
    run_grid(stub_grid, results_root=results, executor="inline")
    monkeypatch.delenv("BENCH_TRAIN_FN")
    for cell in STUB_IDS:
        path = results / "stubgrid" / cell / "config.json"
        saved = json.loads(path.read_text())
        old = {k: v for k, v in saved["config"].items()
               if k not in ("augment", "regularizer", "bootstrap", "compile", "nproc", "g_cond")}
        path.write_text(json.dumps({"config": old, "hash": "0123456789abcdef"}))
    summary = run_grid(stub_grid, results_root=results, executor="inline")
    assert summary.exit_code == 0 and {r.state for r in summary.results} == {"skipped"}
    table = capsys.readouterr().out
    for key in ("augment", "regularizer", "bootstrap", "compile", "nproc"):
        assert key not in table
    assert "older bench" in table


def test_minor_an_empty_protocol_list_is_one_line_and_leaves_no_folder(stub, results):
    result = bench(*SMOKE_RUN, "--set", "protocols=[]", "--results-root", results)
    assert result.exit_code == 2 and "protocols must be a non-empty list" in error_line(result)
    assert not results.exists()


def test_minor_one_evaluation_sample_is_refused(stub, results):
    result = bench(*SMOKE_RUN, "--set", "num_eval_samples=1", "--results-root", results)
    assert result.exit_code == 2 and "num_eval_samples must be an integer >= 2" in error_line(result)
    assert not results.exists()
