"""The shipped grid files and the grid file schema (bench.grid)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from bench.config import SCALES
from bench.errors import ConfigError
from bench.grid import GRIDS_DIR, describe_grids, list_grids, load_grid, make_cell_id
from bench.methods import get_method

SHIPPED = {"table1": 7, "table3": 14, "width": 5, "quirks": 4, "smoke": 5, "demo": 11, "demo-search": 5,
           "conditioning": 12, "ltgan": 48, "table3-lab": 6, "table1-lab": 6}

# The paper's third table (upstream README §3), transcribed: method, dataset, pretrained, sampling, best step
# as printed, FID, IS.
TABLE3 = [
    ("bagan", "fashion_mnist_lt", None, None, 64000, 92.61, 2.81),
    ("ebgan", "fashion_mnist_lt", True, None, 120000, 27.40, 2.43),
    ("ebgan", "fashion_mnist_lt", False, None, 150000, 30.10, 2.38),
    ("ecogan", "fashion_mnist_lt", None, False, 126000, 32.91, 2.91),
    ("ecogan", "fashion_mnist_lt", None, True, 120000, 20.02, 2.63),
    ("bagan", "cifar10_lt", None, None, 76000, 125.77, 2.14),
    ("ebgan", "cifar10_lt", True, None, 144000, 60.11, 2.36),
    ("ebgan", "cifar10_lt", False, None, 150000, 68.90, 2.29),
    ("ecogan", "cifar10_lt", None, False, 144000, 51.71, 2.83),
    ("ecogan", "cifar10_lt", None, True, 138000, 43.79, 2.74),
    ("ebgan", "places_lt", False, None, 150000, 136.92, 2.57),
    ("ebgan", "places_lt", True, None, 144000, 144.04, 2.46),
    ("ecogan", "places_lt", None, False, 105000, 91.55, 3.02),
    ("ecogan", "places_lt", None, True, 75000, 95.43, 3.01),
]
# Lightning steps of ECOGAN/EBGAN count batches: 5 D + 1 G per iteration.
BATCHES_PER_ITERATION = 5 + 1


def write(tmp_path: Path, text: str, name: str = "g.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = 'description = "t"\nscale = "smoke"\n[axes]\ndataset = ["digits_lt"]\nmethod = ["ecogan"]\n'


# Grids at a scale where some cell cannot be built: the run plan refuses them when the grid expands (as --dry-run
# does), naming the cell and why, instead of the cell failing at build time.
REFUSED = {
    ("demo", "paper"): "cell digits_lt-contragan-none-s0-g_scale-cond_lambda0.74-lr_d0.0003-lr_g0.00021-n_dis2-"
                       "temperature0.9: unknown g_cond for backbone 'biggan32' 'scale'",
    ("conditioning", "paper"): "cell digits_lt-contragan-none-s0-g_scale: unknown g_cond for backbone 'biggan32'",
    ("table1-lab", "paper"): "cell cifar10-contragan-none-s0-g_concat-cond_lambda5.0-n_dis1: unknown g_cond for "
                             "backbone 'biggan32' 'concat'",
    **{(grid, scale): f"cell cifar10_lt-{method}-none-s0-div{div}: option div = {div} applies to backbone 'biggan32' "
                      f"only \\(backbone is '{'tiny' if scale == 'smoke' else 'dcgan64'}'\\); the {scale} scale's "
                      f"preset replaced the grid's backbone biggan32 by {'tiny' if scale == 'smoke' else 'dcgan64'}"
       for grid, method, div in (("table1", "contragan", 4), ("width", "reacgan", 2))
       for scale in ("cpu", "lab", "smoke")},
}


def test_every_shipped_grid_loads_with_its_cell_count():
    assert sorted(list_grids()) == sorted(SHIPPED)
    for name, count in SHIPPED.items():
        cells = load_grid(name).cells()
        assert len(cells) == count, name
        assert len({c.id for c in cells}) == count, name
        grid = load_grid(name)
        for scale in SCALES:
            if (name, scale) in REFUSED:
                with pytest.raises(ConfigError, match=REFUSED[name, scale]):
                    grid.cells(scale)
                continue
            # ids ignore the scale, but for the dataset a grid's [scale_datasets] swaps in at that scale
            swap = grid.scale_datasets.get(scale)
            expected = [c.id if swap is None else c.id.replace(c.axes["dataset"], swap, 1) for c in cells]
            assert [c.id for c in grid.cells(scale)] == expected


def test_a_grid_network_the_preset_replaced_is_kept_by_set_with_the_same_ids():
    grid = load_grid("table1")
    cells = grid.cells("smoke", overrides={"backbone": "biggan32", "image_size": 32})
    assert [c.id for c in cells] == [c.id for c in grid.cells()]  # the settings' network: not in the id
    assert {c.plan.backbone for c in cells} == {"biggan32"} and {c.config.image_size for c in cells} == {32}


def test_shipped_grids_name_registered_datasets_methods_backbones_and_options():
    from bench.datasets import list_datasets
    from bench.methods import get_method
    from bench.methods.backbones import list_backbones

    for name in SHIPPED:
        for cell in load_grid(name).cells():
            cfg = cell.config
            assert cfg.dataset in list_datasets() and cfg.backbone in (None, *list_backbones()), cell.id
            get_method(cfg.method).resolve_hyper(cfg.method_options, cell.plan.backbone)  # a bad option: ConfigError


def test_describe_grids_lists_names_counts_scales():
    text = describe_grids()
    for name, count in SHIPPED.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(name + " "))
        assert f" {count} " in line and load_grid(name).scale in line


def test_table3_rows_and_paper_numbers():
    cells = load_grid("table3").cells()
    got = []
    for c in cells:
        options = c.axes["method_options"]
        pretrained = None if c.config.method != "ebgan" else options.get("pretrained", True)
        sampling = None if c.config.method != "ecogan" else c.config.sampling == "balanced"
        got.append((c.config.method, c.config.dataset, pretrained, sampling, c.paper["best_step"],
                    c.paper["fid"], c.paper["is"]))
    assert got == TABLE3
    for c in cells:
        assert c.config.image_size == 64 and c.config.batch_size == 128 and c.config.backbone == "dcgan64"
        assert c.config.protocols == ["paper", "standard"]
        if c.config.method == "bagan":  # BAGAN's steps are iterations: 100k, evaluated every 2,000
            assert c.paper["step_unit"] == "iterations" and c.paper["best_iteration"] == c.paper["best_step"]
            assert (c.config.steps, c.config.eval_every) == (100_000, 2000)
        else:  # 150k Lightning batches; evaluated every 6,000 batches (2 GPUs) or 3,000 (Places_LT, 4 GPUs)
            assert c.paper["step_unit"] == "batches"
            assert c.paper["best_iteration"] * BATCHES_PER_ITERATION == c.paper["best_step"]
            assert c.config.steps == 150_000 // BATCHES_PER_ITERATION
            per_eval = 3000 if c.config.dataset == "places_lt" else 6000
            assert c.config.eval_every == per_eval // BATCHES_PER_ITERATION
            assert c.paper["best_iteration"] % c.config.eval_every == 0  # the best step is an evaluation step


def test_table1_width_and_quirks_grids():
    table1 = {(c.config.dataset, c.config.method): c for c in load_grid("table1").cells()}
    expected = {("cifar10", "contragan"): (6.63, 9.22, 1), ("cifar10", "reacgan"): (4.71, 9.76, 1),
                ("cifar10", "ecogan"): (4.88, 9.77, 1), ("cifar10_lt", "contragan"): (29.04, 6.15, 4),
                ("cifar10_lt", "reacgan"): (42.65, 5.74, 4), ("cifar10_lt", "ecogan"): (25.53, 6.56, 4)}
    assert set(table1) == set(expected) | {("cifar10", "projgan")}  # + StudioGAN's BigGAN, the gate's control
    for key, (fid, is_, div) in expected.items():
        c = table1[key]
        assert (c.paper["fid"], c.paper["is"], c.config.method_options) == (fid, is_, {"div": div})
        assert (c.config.backbone, c.config.steps, c.config.batch_size, c.config.image_size,
                c.config.eval_every) == ("biggan32", 100_000, 64, 32, 2000)
    studiogan = {key: (c.external["model"], c.external.get("fid"), c.external.get("ifid"), c.external["gate"])
                 for key, c in table1.items() if c.external}
    assert studiogan == {("cifar10", "contragan"): ("ContraGAN", 6.01, 119.6, True),
                         ("cifar10", "reacgan"): ("ReACGAN", 3.87, 15.2, True),
                         ("cifar10", "projgan"): ("BigGAN", 4.16, None, False)}
    assert {c.external["protocol"] for c in table1.values() if c.external} == {"studiogan"}
    assert load_grid("table1").protocols == ["paper", "standard", "studiogan"]
    width = load_grid("width").cells()
    assert [(c.config.method_options["div"], c.paper["fid"], c.paper["best_step"]) for c in width] == [
        (1, 38.60, 4000), (2, 40.29, 4000), (3, 44.66, 4000), (4, 42.65, 6000), (5, 49.09, 6000)]
    assert {c.config.dataset for c in width} == {"cifar10_lt"} and {c.config.method for c in width} == {"reacgan"}
    quirks = {(c.config.method, c.config.quirks): c.paper for c in load_grid("quirks").cells()}
    assert set(quirks) == {(m, q) for m in ("ecogan", "ebgan") for q in ("paper", "fixed")}
    assert quirks["ecogan", "paper"]["fid"] == 51.71 and quirks["ebgan", "paper"]["fid"] == 60.11
    assert quirks["ecogan", "fixed"] is None and quirks["ebgan", "fixed"] is None


def test_smoke_and_demo_grids():
    smoke = load_grid("smoke").cells()
    assert [c.config.method for c in smoke] == ["bagan", "ebgan", "contragan", "reacgan", "ecogan"]
    assert all(c.config.scale == "smoke" and c.config.backbone == "tiny" and c.config.dataset == "digits_lt"
               and c.config.method_options == {} for c in smoke)


TUNED_DEMO = "Written by `bench tune --grid demo-search --trials 8 --seeds 1`" in (GRIDS_DIR / "demo.toml").read_text()


@pytest.mark.skipif(not TUNED_DEMO, reason="bench/grids/demo.toml is still the hand-picked demo: issue 23 replaces it "
                                           "by what `bench tune --grid demo-search --trials 8` writes")
def test_demo_is_what_the_tuner_chose():
    """The demo as `bench tune --grid demo-search --trials 8` writes it: per method its paper's recipe (the search
    grid's cell as written) and the chosen recipe, then ECOGAN's tuned recipe with balanced sampling and with the
    paper's conditioning."""
    from bench.methods.search import AXIS_KEYS

    demo, search = load_grid("demo").cells(), load_grid("demo-search").cells()
    methods = ["bagan", "ebgan", "contragan", "reacgan", "ecogan"]
    assert [c.config.method for c in demo][:10] == [m for m in methods for _ in (0, 1)]
    assert {c.config.method for c in demo[10:]} == {"ecogan"}
    assert all(c.config.scale == "cpu" and c.config.extractor == "random-cnn" for c in demo)
    for paper, tuned, written in zip(demo[0:10:2], demo[1:10:2], search, strict=True):
        assert paper.id == written.id and paper.config.method_options == {} and paper.config.g_cond is None
        dims = get_method(tuned.config.method).search_space.dimensions()
        chosen = {**tuned.config.method_options, **{k: getattr(tuned.config, k) for k in AXIS_KEYS if k in dims}}
        assert set(chosen) == set(dims) and tuned.config.quirks == paper.config.quirks
        for key, value in chosen.items():  # every chosen value lies in its range, and the id names the options
            dim = dims[key]
            assert value in dim.values if hasattr(dim, "values") else dim.low <= value <= dim.high, key
        assert all(k in tuned.id for k in tuned.config.method_options)
    # the variants: balanced sampling, and the paper's conditioning unless the tuned ECOGAN already has it (then the
    # tuned cell is that row, and the file says so)
    tuned_eco, variants = demo[9], demo[10:]
    assert variants[0].config.sampling == "balanced" and variants[0].config.g_cond == tuned_eco.config.g_cond
    scale = variants[1] if tuned_eco.config.g_cond != "scale" else tuned_eco
    assert len(variants) == (2 if tuned_eco.config.g_cond != "scale" else 1)
    assert scale.config.g_cond == "scale" and scale.config.sampling == "none"
    assert {c.config.method_options == tuned_eco.config.method_options for c in variants} == {True}
    # fair budget: every cell gets the same number of D updates, whatever its n_dis
    assert {c.config.steps * get_method(c.config.method).d_steps_per_iteration(c.config.method_options)
            for c in demo} == {SCALES["cpu"]["d_updates"]}


def test_cell_ids_are_readable_and_stable():
    ids = {c.id for name in SHIPPED for c in load_grid(name).cells()}
    for expected in ("cifar10_lt-ecogan-balanced-s0", "cifar10_lt-ebgan-none-s0-pretrained_false",
                     "cifar10_lt-reacgan-none-s0-div4", "cifar10_lt-ecogan-none-s0-quirks_fixed",
                     "digits_lt-bagan-none-s0", "places_lt-ecogan-balanced-s0"):
        assert expected in ids
    axes = {"dataset": "x", "method": "m", "sampling": "none", "seed": 3, "quirks": "fixed", "backbone": "tiny",
            "method_options": {"b": True, "a": 2}}
    assert make_cell_id(axes) == "x-m-none-s3-tiny-a2-b_true-quirks_fixed"
    assert make_cell_id(axes, default_backbone="tiny") == "x-m-none-s3-a2-b_true-quirks_fixed"
    # a folder: its name and a hash of its absolute path (issue 11: "Ünïcode set" and "Ønøcode set" collided)
    assert re.fullmatch(r"folder_my_imgs_[0-9a-f]{8}-m-.*", make_cell_id({**axes, "dataset": "folder:/data/my imgs"}))


def test_grid_key_and_budget_per_scale():
    grid = load_grid("table3")
    assert grid.key() == "table3" and grid.key("paper") == "table3" and grid.key("cpu") == "table3-cpu"
    cpu = grid.cells("cpu")
    assert {c.config.grid for c in cpu} == {"table3-cpu"}
    for key in ("batch_size", "image_size"):  # the grid's budget is for scale paper only
        assert {getattr(c.config, key) for c in cpu} == {SCALES["cpu"][key]}
    for c in cpu:  # the scale's budget is in D updates: steps = d_updates / n_dis, evaluated `evaluations` times
        n_dis = get_method(c.config.method).d_steps_per_iteration(c.config.method_options)
        assert c.config.steps == math.ceil(SCALES["cpu"]["d_updates"] / n_dis)
        assert c.config.eval_every == c.config.steps // SCALES["cpu"]["evaluations"]
    assert {c.config.backbone for c in grid.cells("smoke")} == {"tiny"}  # the smoke preset's network wins


def test_only_filter():
    grid = load_grid("table3")
    cells = grid.cells(only="method=ecogan,dataset=cifar10_lt")
    assert [c.id for c in cells] == ["cifar10_lt-ecogan-none-s0", "cifar10_lt-ecogan-balanced-s0"]
    assert len(grid.cells(only="method=bagan,method=ebgan")) == 2 + 6
    assert [c.id for c in grid.cells(only="id=places_lt-ecogan-none-s0")] == ["places_lt-ecogan-none-s0"]


@pytest.mark.parametrize(("only", "named", "suggested"), [
    ("methd=ecogan", "'methd'", "'method'"),
    ("method=ecogn", "'ecogn'", "'ecogan'"),
    ("dataset=cifar10lt", "'cifar10lt'", "'cifar10_lt'"),
    ("method", "'method'", "key=value"),
])
def test_only_errors_name_the_key_or_value(only, named, suggested):
    with pytest.raises(ConfigError) as err:
        load_grid("table3").cells(only=only)
    assert named in str(err.value) and suggested in str(err.value)


def test_overrides():
    grid = load_grid("smoke")
    with pytest.raises(ConfigError, match=r"'stepz'.*'steps'"):
        grid.cells(overrides={"stepz": 3})
    with pytest.raises(ConfigError, match="--scale"):
        grid.cells(overrides={"scale": "cpu"})
    assert {c.config.steps for c in grid.cells(overrides={"steps": 7})} == {7}
    seeded = grid.cells(overrides={"seed": 2})
    assert all(c.id.endswith("-s2") and c.config.seed == 2 for c in seeded)
    table3 = load_grid("table3").cells(overrides={"sampling": "balanced"})
    assert len(table3) == 14 - 3  # the two ECOGAN rows per dataset become one
    assert all(c.paper is None for c in table3 if c.id.startswith("cifar10_lt-bagan"))
    opts = grid.cells(overrides={"method_options.pretrained": False}, only="method=ebgan")
    assert [c.id for c in opts] == ["digits_lt-ebgan-none-s0-pretrained_false"]


def test_method_options_override_must_be_a_table():
    with pytest.raises(ConfigError, match="method_options must be a JSON object"):
        load_grid("smoke").cells(overrides={"method_options": 3})
    assert {c.id for c in load_grid("smoke").cells(overrides={"method_options": {"n_dis": 2}}, only="method=ecogan")} \
        == {"digits_lt-ecogan-none-s0-n_dis2"}
    with pytest.raises(ConfigError, match="div = 2 applies to backbone 'biggan32' only"):  # what the build refuses
        load_grid("smoke").cells(overrides={"method_options": {"div": 2}}, only="method=ecogan")


def test_unknown_grid_name():
    with pytest.raises(ConfigError, match=r"'tabel3'.*'table3'"):
        load_grid("tabel3")
    with pytest.raises(ConfigError, match="does not exist"):
        load_grid("/nonexistent/grid.toml")


@pytest.mark.parametrize(("text", "pattern"), [
    (MINIMAL + "[axis]\n", r"unknown key 'axis'.*'axes'"),
    (MINIMAL.replace("method =", "metod ="), r"\[axes\]: unknown key 'metod'.*'method'"),
    (MINIMAL + "[budget]\nstep = 3\n", r"\[budget\]: unknown key 'step'.*'steps'"),
    (MINIMAL + "[budget]\nsteps = -3\n", "steps must be a positive integer"),
    (MINIMAL + "[settings]\nextractr = 'classifier'\n", r"unknown key 'extractr'.*'extractor'"),
    (MINIMAL + "[settings]\nsteps = 5\n", r"'steps' is a budget key; put it under \[budget\]"),
    (MINIMAL + "[settings]\nmethod = 'x'\n", "'method' cannot be a setting"),
    (MINIMAL + "[[cells]]\ndataset = 'digits_lt'\nmethod = 'bagan'\nsampling = 'balance'\n",
     r"sampling = 'balance'.*'balanced'"),
    (MINIMAL + "[[cells]]\ndataset = 'digits_lt'\nmethod = 'bagan'\nseeds = 1\n",
     r"\[\[cells\]\] #1: unknown key 'seeds'.*'seed'"),
    (MINIMAL + "[[cells]]\nmethod = 'bagan'\n", r"'dataset' is required"),
    (MINIMAL + "[[cells]]\ndataset = 'digits_lt'\nmethod = 'ecogan'\n", "two cells have the id"),
    (MINIMAL + "[[cells]]\ndataset = 'digits_lt'\nmethod = 'bagan'\npaper = {fidd = 1.0}\n",
     r"unknown key 'fidd'.*'fid'"),
    (MINIMAL + "[[cells]]\ndataset = 'digits_lt'\nmethod = 'bagan'\npaper = {best_step = 60, step_unit = 'batches'}\n",
     "best_iteration is required"),
    (MINIMAL + "[[paper]]\nmatch = {method = 'bagan'}\nfid = 1.0\n", "selects no cell"),
    (MINIMAL + "[[paper]]\nmatch = {methd = 'ecogan'}\nfid = 1.0\n", r"unknown key 'methd'.*'method'"),
    (MINIMAL.replace('"smoke"', '"smok"'), r"scale = 'smok'.*'smoke'"),
    ("protocols = ['standrd']\n" + MINIMAL, r"'standrd'.*'standard'"),
    ('scale = "smoke"\n[axes]\ndataset = ["digits_lt"]\nmethod = ["ecogan"]\n', "'description'"),
    ('description = "t"\n', "no cells"),
    (MINIMAL + "[axes\n", "invalid TOML"),
    (MINIMAL.replace('dataset = ["digits_lt"]', 'dataset = "digits_lt"'), "dataset must be a non-empty list"),
    (MINIMAL + "[settings]\nchannels = 2\n", "channels must be 1 or 3"),
    (MINIMAL + "seed = [-1]\n", "seed must be a non-negative integer"),
    (MINIMAL + "backbone = ['']\n", "backbone must be a name"),
    (MINIMAL + "method_options = ['div4']\n", "method_options must be a table"),
    ('settings = 3\n' + MINIMAL, "'settings' must be a table"),
    ('cells = 3\n' + MINIMAL, "'cells' must be an array of tables"),
    (MINIMAL + "[[paper]]\nmatch = {method = 'ecogan'}\nfid = 1.0\n[[paper]]\nmatch = {dataset = 'digits_lt'}\n"
     "fid = 2.0\n", "already has paper numbers"),
    (MINIMAL + "[[paper]]\nmatch = {method = 'ecogan'}\nfid = 'low'\n", "fid must be a number"),
    (MINIMAL + "[[paper]]\nmatch = {method = 'ecogan'}\nbest_step = 6\nstep_unit = 'epochs'\n",
     "step_unit must be one of iterations, batches"),
    (MINIMAL + "[[paper]]\nmatch = {method = 'ecogan'}\nbest_step = 6\nstep_unit = 'iterations'\n"
     "best_iteration = 1\n", "best_iteration must equal best_step"),
    (MINIMAL + "[[paper]]\nmatch = {method = 'ecogan'}\nselection = 'best'\n", "selection must be one of"),
    (MINIMAL + "[[paper]]\nfid = 1.0\n", "needs match"),
])
def test_bad_grid_files_name_file_and_key(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as err:
        load_grid(path)
    assert str(path) in str(err.value)


def test_the_table1_dry_run_shows_studiogans_numbers_beside_the_papers(tmp_path):
    from click.testing import CliRunner

    from bench.cli import main

    result = CliRunner().invoke(main, ["run", "--grid", "table1", "--dry-run", "--no-estimate", "--results-root",
                                       str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("cifar10")}
    assert "FID 4.71  IS 9.76" in lines["cifar10-reacgan-none-s0-div1"]
    assert "StudioGAN ReACGAN: FID 3.87, iFID 15.20 (gate)" in lines["cifar10-reacgan-none-s0-div1"]
    assert "FID 6.63" in lines["cifar10-contragan-none-s0-div1"]
    assert "StudioGAN ContraGAN: FID 6.01, iFID 119.60 (gate)" in lines["cifar10-contragan-none-s0-div1"]
    assert "StudioGAN BigGAN: FID 4.16" in lines["cifar10-projgan-none-s0-div1"]
    assert "gate: a reproduction counts only if 2C · balance and D2D-CE · balance land within the seed noise" in \
        result.output
    assert "10000 fakes per evaluation, the best and last measured again on 50000" in result.output


def test_external_numbers_are_checked(tmp_path):
    grid = tmp_path / "mine.toml"
    grid.write_text('description = "x"\n[[cells]]\ndataset = "digits_lt"\nmethod = "ecogan"\n'
                    'external = { harness = "StudioGAN", model = "X", fid = "low", protocol = "standart" }\n')
    with pytest.raises(ConfigError, match=r"external: fid must be a number, got 'low'"):
        load_grid(str(grid))
    grid.write_text(grid.read_text().replace('fid = "low", ', ""))
    with pytest.raises(ConfigError, match=r"protocol = 'standart' is not one of .*did you mean 'standard'"):
        load_grid(str(grid))
