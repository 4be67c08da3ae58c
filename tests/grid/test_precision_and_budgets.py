"""The cpu and lab scales' fast path (bf16 + channels_last on CPUs with bf16 units), shown in cell ids and kept
apart from fp32; the pretraining budget in images; the lab grids."""

from __future__ import annotations

import pytest

from bench import hardware
from bench.config import AUTO_KEYS, ID_SUFFIXES, OPTIONS, SCALES, hashed_view, make_cell_id, without_id_suffixes
from bench.errors import ConfigError
from bench.grid import load_grid
from bench.plan import make_plan
from bench.run.phases import PretrainBudget, batch_sizes, pretrain_budget

CELL = {"dataset": "digits_lt", "method": "ecogan"}


@pytest.fixture
def bf16_cpu(monkeypatch):
    monkeypatch.setenv(hardware.CPU_BF16_ENV, "1")


def resolve(cell, scale, overrides=None):
    """The resolved config of ``cell``'s run plan."""
    return make_plan(cell, scale, overrides=overrides).config


def test_the_option_table_declares_which_options_take_auto_and_name_the_cell():
    assert AUTO_KEYS == ("bf16", "channels_last")
    assert ID_SUFFIXES == (("bf16", "bf16"), ("channels_last", "chlast"))
    assert all(OPTIONS[name].rule.expected == "true, false or auto" for name in AUTO_KEYS)


def test_a_cpu_with_bf16_units_gets_bf16_and_channels_last_at_the_cpu_and_lab_scales(bf16_cpu):
    for scale in ("cpu", "lab"):
        plan = make_plan(CELL, scale, overrides={"device": "cpu"})
        assert (plan.config.bf16, plan.config.channels_last) == (True, True), scale
        fp32 = make_plan(CELL, scale, overrides={"device": "cpu", "bf16": False, "channels_last": False})
        assert (fp32.config.bf16, fp32.config.channels_last) == (False, False)
        assert fp32.hash != plan.hash  # never the same run folder's config
        assert plan.to_json()["config"]["bf16"] is True  # config.json holds the resolved value, never "auto"
    for scale in ("paper", "smoke"):  # their own defaults: fp32
        cfg = resolve(CELL, scale, overrides={"device": "cpu"})
        assert (cfg.bf16, cfg.channels_last) == (False, False), scale
    on_gpu = resolve(CELL, "lab", overrides={"device": "cuda"})
    assert (on_gpu.bf16, on_gpu.channels_last) == (False, False)  # the CPU's fast path only
    assert resolve(CELL, "paper", overrides={"device": "cpu", "bf16": "auto"}).bf16  # auto at any scale, asked for


def test_a_cpu_without_bf16_units_stays_fp32(monkeypatch):
    monkeypatch.setenv(hardware.CPU_BF16_ENV, "0")
    cfg = resolve(CELL, "lab", overrides={"device": "cpu"})
    assert (cfg.bf16, cfg.channels_last) == (False, False)
    monkeypatch.delenv(hardware.CPU_BF16_ENV)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"sse2", "avx2"}))
    assert not hardware.cpu_has_bf16() and hardware.cpu_bf16_units() == []
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16", "avx512_bf16"}))
    assert hardware.cpu_has_bf16() and hardware.cpu_bf16_units() == ["avx512_bf16", "amx_bf16"]


def test_a_bad_precision_value_is_one_line():
    with pytest.raises(ConfigError, match="bf16 must be true, false or auto, got 'fast'"):
        resolve(CELL, "cpu", overrides={"bf16": "fast"})


def test_cell_ids_show_the_precision_and_fp32_keeps_the_plain_id(bf16_cpu):
    grid = load_grid("table3-lab")
    fast = grid.cells(overrides={"device": "cpu"})
    plain = grid.cells(overrides={"device": "cpu", "bf16": False, "channels_last": False})
    assert all(c.id.endswith("-bf16-chlast") for c in fast)
    assert [without_id_suffixes(c.id) for c in fast] == [c.id for c in plain]
    assert make_cell_id(plain[0].axes, grid.settings.get("backbone"), plain[0].config) == plain[0].id
    one = fast[3].id
    assert [c.id for c in grid.cells(only=f"id={one}", overrides={"device": "cpu"})] == [one]  # either form
    assert [c.id for c in grid.cells(only=f"id={without_id_suffixes(one)}", overrides={"device": "cpu"})] == [one]


def test_lab_grids_run_the_lab_scale_on_cifar():
    table3, table1 = load_grid("table3-lab"), load_grid("table1-lab")
    assert {c.config.dataset for c in table3.cells()} == {"cifar10_lt"}
    assert {c.config.dataset for c in table1.cells()} == {"cifar10", "cifar10_lt"}
    for cell in table3.cells() + table1.cells():
        cfg = cell.config
        assert (cfg.scale, cfg.image_size, cfg.batch_size) == ("lab", 32, 64)
        assert cfg.pretrain_images == SCALES["lab"]["pretrain_images"]
        assert cfg.steps * cell.plan.n_dis >= SCALES["lab"]["d_updates"]
    methods = [(c.config.method, c.config.g_cond, c.config.sampling) for c in table3.cells()]
    assert ("ecogan", None, "none") in methods and ("ecogan", "concat", "balanced") in methods  # the paper's G too
    assert sorted(m for m, _, _ in methods) == ["bagan", "ebgan", "ebgan", "ecogan", "ecogan", "ecogan"]


def test_pretraining_budget_in_images():
    # digits_lt at the cpu scale: all of BAGAN's 150 epochs fit under 96,000 images
    assert pretrain_budget(150, 534, 32, max_images=96_000) == PretrainBudget(150, 17)
    assert make_plan({"dataset": "digits_lt", "method": "bagan"}, "cpu").budget.pretrain_epochs == 150
    # CIFAR10_LT at the lab scale: 64,000 images = 6 whole epochs of 9,500
    budget = pretrain_budget(150, 9_500, 64, max_images=64_000)
    assert (budget.epochs, budget.last_batches, budget.batches) == (6, None, 6 * 149)
    assert budget.describe(9_500, 64) == "6 epochs of 9,500 images = 57,000 images, 894 batches"
    # a set larger than the budget: one epoch cut to the budget's batches
    big = pretrain_budget(30, 100_000, 64, max_images=64_000)
    assert (big.epochs, big.last_batches, big.batches) == (1, 1000, 1000)
    assert pretrain_budget(30, 9_500, 64) == PretrainBudget(30, 149)  # the paper scale: the method's epochs
    plan = make_plan({"dataset": "digits_lt", "method": "ebgan"}, "lab", overrides={"pretrain_epochs": 2})
    assert plan.budget.pretrain_epochs == 2  # the plan carries pretrain_epochs over the method's
    assert pretrain_budget(2, 9_500, 64, max_images=64_000).epochs == 2
    unpretrained = make_plan({"dataset": "digits_lt", "method": "ebgan", "method_options": {"pretrained": False}})
    assert unpretrained.budget.pretrain_epochs is None  # no stage
    assert pretrain_budget(None, 9_500, 64, max_images=64_000).batches == 0
    assert batch_sizes(17, 8) == [8, 9] and batch_sizes(5, 8) == [5] and sum(batch_sizes(9_500, 64)) == 9_500


def test_the_pretraining_images_key_leaves_older_hashes_alone():
    cfg = resolve(CELL, "smoke")
    assert cfg.pretrain_images is None and "pretrain_images" not in hashed_view(cfg.to_dict())
    assert "pretrain_images" in hashed_view(resolve(CELL, "lab").to_dict())
