"""The tuning protocol without training: search spaces checked when a method registers, the [tune] table checked when
a grid loads, the sampler (same trials for every method, a prefix that does not depend on the count), the ranking
(constraints before score: a collapsed trial never beats a healthy one), and the tuned grid (paper and tuned rows,
variants, claims that select the tuned rows)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from hostile_cli import bench, error_line

from bench.errors import ConfigError
from bench.grid import claim_selects, load_grid
from bench.methods import get_method, list_methods
from bench.methods.base import Method, register_method
from bench.methods.hyper import COUNT, option
from bench.methods.search import SHARED, Choice, LogUniform, SearchSpace
from bench.metrics.evaluator import METRICS_COLUMNS
from bench.search_grid import Objective
from bench.tune import draw_trial_grid
from bench.tune.output import tuned_grid_text, write_tuned_grid
from bench.tune.score import score_trials

SEARCH = """
description = "two methods to tune"
scale = "smoke"
protocols = ["standard"]

[[cells]]
dataset = "digits_lt"
method = "ecogan"

[[cells]]
dataset = "digits_lt"
method = "contragan"

[tune]
trials = 4
seeds = [100]
{extra}

[tune.objective]
minimize = "fid_half_a"
at_most = {{ collapsed_half_a = 0 }}

[[tune.variants]]
of = {{ method = "ecogan" }}
set = {{ g_cond = "scale" }}

[[claims]]
id = "eco-beats-2c"
text = "ECOGAN < 2C"
kind = "less"
better = {{ method = "ecogan" }}
worse = {{ method = "contragan" }}
"""


def search_grid(tmp_path: Path, extra: str = "", text: str = SEARCH) -> Path:
    path = tmp_path / "search.toml"
    path.write_text(text.format(extra=extra), encoding="utf-8")
    return path


# -- search spaces ---------------------------------------------------------------------------------------------
@dataclass
class _Hyper:
    lr_g: float = option(2e-4)
    n_dis: int = option(1, COUNT)
    width: int = option(8, COUNT)


def _register(name: str, space: SearchSpace, **attrs):
    cls = type(f"Space_{name}", (Method,), {"Hyper": _Hyper, "search_space": space, **attrs,
                                             "__annotations__": {"search_space": ClassVar}})
    return register_method(name)(cls)


@pytest.mark.parametrize(("space", "attrs", "words"), [
    (SearchSpace(shared=("lr_gg",)), {}, "'lr_gg' is not a shared key (did you mean 'lr_g'?)"),
    (SearchSpace(shared=("temperature",)), {}, "'temperature' is neither an option of"),
    (SearchSpace(own={"lr_g": LogUniform(1e-4, 1e-3, source="x")}), {}, "'lr_g' is a shared key"),
    (SearchSpace(own={"widht": Choice((4, 8), source="x")}), {}, "(did you mean 'width'?)"),
    (SearchSpace(own={"width": Choice((0, 8), source="x")}), {},
     "width = 0 ({0, 8}) is out of rule: expected an integer >= 1"),
    (SearchSpace(own={"width": Choice((4, 8))}), {}, "width has no source"),
    (SearchSpace(shared=("g_cond",)), {"class_input": "latent"}, "takes the class through its latent"),
    (SearchSpace(shared=("regularizer",)), {"d_has_adversarial_logit": False}, "needs a D with an adversarial"),
])
def test_a_bad_search_space_fails_when_the_method_registers_in_one_line(space, attrs, words):
    with pytest.raises(ConfigError) as err:
        _register("space_probe", space, **attrs)
    assert words in str(err.value) and "\n" not in str(err.value)
    assert "space_probe" not in list_methods()


def test_every_method_declares_a_space_with_sources_and_bench_list_methods_shows_it():
    for name in ("bagan", "ebgan", "contragan", "reacgan", "ecogan", "acgan", "projgan", "idagan"):
        dims = get_method(name).search_space.dimensions()
        assert {"lr_g", "lr_d", "n_dis"} <= set(dims) and all(d.source for d in dims.values()), name
        assert all(dims[k] is SHARED[k] for k in dims if k in SHARED), "shared keys take the shared range"
    out = bench("list", "methods").stdout  # columns as wide as the longest name (tests register other methods)
    assert "search spaces" in out
    assert re.search(r"\n  ecogan +lr_g, lr_d, n_dis, cond_lambda, temperature, g_cond, regularizer, augment\n", out)
    assert "pretrain_lr log-uniform [5e-05, 0.001] (the autoencoder's Adam rate" in out
    assert re.search(r"\n  lr_g +log-uniform \[5e-05, 0.001\] +Adam learning rates", out)


def test_a_method_module_with_a_bad_space_fails_bench_list_in_one_line(tmp_path, monkeypatch):
    (tmp_path / "badspace.py").write_text(
        "from bench.methods.base import register_method\n"
        "from bench.methods.ecogan import ECOGAN\n"
        "from bench.methods.search import SearchSpace\n"
        "@register_method('badspace')\n"
        "class Bad(ECOGAN):\n"
        "    search_space = SearchSpace(shared=('lr_gee',))\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BENCH_METHODS", "badspace")
    import importlib

    import bench.methods

    with pytest.raises(ConfigError) as err:
        importlib.reload(bench.methods)
    assert "badspace" in str(err.value) and "'lr_gee' is not a shared key (did you mean 'lr_g'?)" in str(err.value)
    monkeypatch.delenv("BENCH_METHODS")
    importlib.reload(bench.methods)


# -- the [tune] table ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("extra", "words"), [
    ('sampler = "sobel"', "sampler = 'sobel' is not one of sobol, random (did you mean 'sobol'?)"),
    ('trails = 3', "unknown key 'trails' (did you mean 'trials'?)"),
    ('keys = ["lr_gg"]', "no cell's method searches 'lr_gg' (did you mean 'lr_g'?)"),
    ('protocol = "paper"', "protocol = 'paper' is not one the grid evaluates"),
    ('sampler_seed = -1', "sampler_seed must be an integer >= 0"),
])
def test_a_bad_tune_table_fails_at_load_naming_the_key(tmp_path, extra, words):
    with pytest.raises(ConfigError) as err:
        load_grid(search_grid(tmp_path, extra))
    assert words in str(err.value) and "\n" not in str(err.value) and "search.toml" in str(err.value)


@pytest.mark.parametrize(("old", "new", "words"), [
    ('at_most = { collapsed_half_a = 0 }', 'at_least = { cond_acc = 0.5 }', "the objective must punish collapse"),
    ('minimize = "fid_half_a"', 'minimize = "fid"', "'fid' is measured with half B"),
    ('minimize = "fid_half_a"', 'minimize = "coverage_half_b"', "use 'coverage_half_a'"),
    ('minimize = "fid_half_a"', 'minimize = "fid_hafl_a"', "(did you mean 'fid_half_a'?)"),
    ('of = { method = "ecogan" }', 'of = { method = "reacgan" }', "selects 0 cells of the search grid"),
    ('set = { g_cond = "scale" }', 'set = { n_dis = 2 }', "'n_dis' is not an axis a variant changes"),
    ('seeds = [100]', 'seeds = [1, 1]', "seeds must be a list of distinct integers"),
    ('method = "contragan"\n', 'method = "contragan"\nmethod_options = { n_dis = 2 }\n', "sets n_dis = 2, a key"),
])
def test_a_bad_objective_variant_or_cell_fails_at_load(tmp_path, old, new, words):
    text = SEARCH.replace(old.replace("{", "{{").replace("}", "}}"), new.replace("{", "{{").replace("}", "}}"), 1)
    assert text != SEARCH
    with pytest.raises(ConfigError) as err:
        load_grid(search_grid(tmp_path, text=text))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_bench_run_refuses_a_search_grid_and_bench_tune_lists_its_trials(tmp_path):
    path = search_grid(tmp_path)
    line = error_line(bench("run", "--grid", path, "--results-root", tmp_path / "r"))
    assert "is a search grid" in line and "bench tune --grid" in line
    result = bench("tune", "--grid", path, "--dry-run", "--results-root", tmp_path / "r")
    assert result.exit_code == 0 and result.stdout.count("trial ") == 8


# -- sampler ---------------------------------------------------------------------------------------------------
def test_trials_share_draws_across_methods_and_more_trials_keep_the_first(tmp_path):
    path = search_grid(tmp_path)
    _, spec, found, _, trials = draw_trial_grid(str(path), trials=8)
    eco = [t.values for t in trials if t.entry.axes["method"] == "ecogan"]
    two_c = [t.values for t in trials if t.entry.axes["method"] == "contragan"]
    assert len(eco) == len(two_c) == 8 and eco == two_c  # the same space: the same trials
    assert len({json.dumps(v, sort_keys=True) for v in eco}) == 8
    assert sorted(v["n_dis"] for v in eco) == [1, 1, 2, 2, 3, 3, 5, 5], "Sobol strata: every value twice"
    _, _, _, _, fewer = draw_trial_grid(str(path), trials=3)
    assert [t.values for t in fewer if t.entry.axes["method"] == "ecogan"] == eco[:3]
    lo, hi = SHARED["lr_g"].low, SHARED["lr_g"].high
    assert all(lo <= v["lr_g"] <= hi for v in eco)



@pytest.mark.parametrize("bf16", ["1", "0"], ids=["bf16-cpu", "fp32-cpu"])
def test_a_trial_names_the_run_folders_its_cells_train_in(tmp_path, monkeypatch, bf16):
    """At a scale whose bf16 and channels_last are "auto", a cell's id (its run folder) gains -bf16-chlast on a CPU
    with bf16 units: the trials must name those folders, or every finished trial reads as unfinished (it did, on
    the first real tune of the demo search)."""
    monkeypatch.setenv("BENCH_CPU_BF16", bf16)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    _, _, _, trials_grid, trials = draw_trial_grid(str(search_grid(tmp_path)), trials=4, scale="cpu")
    ids = [c.id for c in trials_grid.cells("cpu")]
    assert sorted(cell for t in trials for cell in t.cells) == sorted(ids)
    assert any("bf16-chlast" in cell for cell in ids) == (bf16 == "1")

# -- ranking ---------------------------------------------------------------------------------------------------
def _fake_run(folder: Path, rows: list[dict], state: str = "done") -> None:
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(json.dumps({"state": state}))
    base = {c: "" for c in METRICS_COLUMNS} | {"source": "train", "protocol": "standard", "extractor": "random-cnn"}
    lines = [",".join(METRICS_COLUMNS)] + [",".join(str({**base, **r}[c]) for c in METRICS_COLUMNS) for r in rows]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def test_a_collapsed_trial_never_beats_a_healthy_one_and_the_tuned_grid_names_the_choice(tmp_path):
    path = search_grid(tmp_path)
    search, spec, found, trials_grid, trials = draw_trial_grid(str(path), trials=4, scale="smoke")
    results = tmp_path / "results"
    key = search.key("smoke")
    # trial 1: the best FID but collapsed on half A at every step; trial 2: healthy, worse FID; trial 3: healthy at
    # its first step only; trial 4: failed. Per method the same, with the scores shifted.
    for t in trials:
        shift = 0 if t.entry.axes["method"] == "ecogan" else 100
        rows = {1: [{"step": 10, "fid_half_a": 1 + shift, "collapsed_half_a": 1},
                    {"step": 20, "fid_half_a": 2 + shift, "collapsed_half_a": 1}],
                2: [{"step": 10, "fid_half_a": 30 + shift, "collapsed_half_a": 0},
                    {"step": 20, "fid_half_a": 20 + shift, "collapsed_half_a": 0}],
                3: [{"step": 10, "fid_half_a": 25 + shift, "collapsed_half_a": 0},
                    {"step": 20, "fid_half_a": 5 + shift, "collapsed_half_a": 1}],
                4: []}[t.number]
        _fake_run(results / key / t.cells[0], rows, state="failed" if t.number == 4 else "done")
    scored = score_trials(trials, spec, results, key)
    eco = {r.trial.number: r for r in scored if r.trial.entry.axes["method"] == "ecogan"}
    assert [eco[n].rank for n in (1, 2, 3, 4)] == [3, 1, 2, 4]
    assert eco[2].chosen and eco[2].steps == [20] and eco[3].steps == [10]  # each at its best healthy step
    assert eco[1].violations == 1 and eco[1].score == 1 and eco[4].state == "failed"

    text = tuned_grid_text(search, spec, found, scored, "bench tune --grid search.toml --trials 4 --seeds 1")
    tuned = write_tuned_grid(tmp_path / "tuned.toml", text)
    chosen = trial_options = eco[2].trial.values
    axes = [spec_cell.axes for spec_cell in tuned.specs]
    assert len(axes) == 5  # ecogan paper + tuned, contragan paper + tuned, the variant
    assert axes[0]["method_options"] == {} and axes[0]["g_cond"] is None
    assert axes[1]["method_options"] == {k: v for k, v in chosen.items() if k not in ("g_cond", "regularizer",
                                                                                        "augment")}
    assert axes[1]["g_cond"] == trial_options["g_cond"]
    assert axes[4]["g_cond"] == "scale" and axes[4]["method_options"] == axes[1]["method_options"]
    claim = tuned.claims[0]
    assert claim["better"]["options"] == axes[1]["method_options"]  # the claim names the tuned ecogan row
    assert claim["worse"]["options"] == axes[3]["method_options"]
    assert "trial 2/4" in text and math.isfinite(eco[2].score) and "none met the constraints" not in text
    # when no trial meets the constraints, the best one is chosen and the file and its label say what it breaks
    for r in scored:
        if r.trial.entry.axes["method"] == "ecogan" and r.trial.number == 2:
            r.values["collapsed_half_a"], r.violations = 1.0, 1.0
    text = tuned_grid_text(search, spec, found, scored, "bench tune --grid search.toml --trials 4 --seeds 1")
    assert "no trial met the constraints, this one breaks the fewest: collapsed_half_a <= 0" in text
    assert [s.label for s in write_tuned_grid(tmp_path / "tuned.toml", text).specs][1].startswith(
        "ecogan · digits_lt · best trial, none met the constraints (")



def test_a_claim_row_selects_the_tuned_cell_alone_beside_its_variants(tmp_path):
    """The search grid's claim names ECOGAN; in the tuned grid its row must select the tuned ECOGAN cell, not also the
    tuned ECOGAN with balanced sampling (a variant): the real demo's first tuned grid had a claim row that matched
    two cells, and the report could not test the claim."""
    variant = '[[tune.variants]]\nof = { method = "ecogan" }\nset = { sampling = "balanced" }\n'
    search, spec, found, _, trials = draw_trial_grid(str(search_grid(tmp_path, extra=variant)), trials=2,
                                                      scale="smoke")
    results = tmp_path / "results"
    for t in trials:
        _fake_run(results / search.key("smoke") / t.cells[0], [{"step": 10, "fid_half_a": t.number,
                                                                 "collapsed_half_a": 0}])
    scored = score_trials(trials, spec, results, search.key("smoke"))
    tuned = write_tuned_grid(tmp_path / "tuned.toml", tuned_grid_text(search, spec, found, scored, "bench tune"))
    cells = [c.axes for c in tuned.cells("smoke")]
    assert [c["sampling"] for c in cells if c["method"] == "ecogan"].count("balanced") == 1
    better = tuned.claims[0]["better"]
    assert better["sampling"] == "none"
    assert sum(claim_selects(better, axes) for axes in cells) == 1

def test_objective_counts_nan_as_a_broken_constraint():
    objective = Objective("fid_half_a", True, {"cond_acc": 0.5}, {"collapsed_half_a": 0})
    assert objective.violations({"fid_half_a": 3.0, "cond_acc": math.nan, "collapsed_half_a": 0}) == 1
    assert objective.score({"fid_half_a": math.nan}) == math.inf
    assert Objective("coverage_half_a", False).score({"coverage_half_a": 0.7}) == -0.7


@pytest.mark.slow
def test_every_trial_of_the_demo_search_builds_from_its_plan_and_takes_a_step():
    """The 40 trials of `bench tune --grid demo-search --trials 8` (hours on 2 cores) each build from their run plan
    and take a D step and a G step on a real-sized batch with finite losses, so that no drawn combination of options
    (n_dis, λ, τ, g_cond, LeCam, DiffAugment, pretraining, the autoencoder's rate) fails an hour into the tune."""
    import torch

    _, spec, found, trials_grid, _ = draw_trial_grid("demo-search", trials=8)
    cells = trials_grid.cells()
    assert len(cells) == 8 * len(found) * len(spec.seeds) == 40
    for cell in cells:
        plan = cell.plan
        size, classes = plan.config.image_size, 10
        data = {"num_classes": classes, "image_size": size, "channels": 1,
                "class_counts": [100 - 9 * c for c in range(classes)]}
        torch.manual_seed(0)
        method = get_method(plan.config.method)(plan.method_config(data), "cpu")
        x = torch.rand(plan.config.batch_size, 1, size, size) * 2 - 1
        y = torch.arange(plan.config.batch_size) % classes
        losses = {**method.d_step(x, y), **method.g_step()}
        assert all(torch.isfinite(torch.as_tensor(v)).all() for v in losses.values()), cell.id
        assert method.generate(method.sample_z(classes), torch.arange(classes)).shape == (classes, 1, size, size)
