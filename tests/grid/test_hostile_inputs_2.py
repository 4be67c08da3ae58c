"""Issue 21: hostile inputs, round 2 (the grid, report and registry items). Each test runs the issue's
reproduction through the CLI (click's CliRunner and the stub train function, or a subprocess where an import must
happen afresh) and checks the one-line error or the fixed behaviour; ``hostile_cli.bench`` fails on any
traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_cli import bench, error_line

import bench.methods as bench_methods
import bench.report as report_module
from bench.errors import ConfigError
from bench.grid import make_cell_id
from bench.methods import list_methods
from bench.scheduler import run_grid

GRID_HEAD = 'description = "my grid"\nscale = "smoke"\n[axes]\ndataset = ["digits_lt"]\nmethod = ["ecogan", "bagan"]\n'


def write_grid(folder: Path, body: str = "", name: str = "mine.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(GRID_HEAD + body, encoding="utf-8")
    return path


# -- item 3: bench status sees the cells --seeds added; --seeds N --only seed=K works ------------------------
def test_item3_status_lists_every_cell_that_seeds_added(stub, stub_grid, results, monkeypatch):
    monkeypatch.setenv("BENCH_STUB_FAIL", "digits_lt-ecogan-none-s2")
    summary = run_grid(stub_grid, results_root=results, executor="inline", overrides={"seed": [0, 1, 2]})  # --seeds 3
    assert summary.exit_code == 1  # the seed-2 ecogan cell failed
    status = bench("status", "--grid", stub_grid, "--results-root", results)
    assert status.exit_code == 0
    assert "6 cells: 5 done, 1 failed" in status.stdout, status.stdout
    assert re.search(r"^digits_lt-ecogan-none-s2\s+failed\s+2/4\s.*stub failure at step 2", status.stdout, re.M)
    manifest = json.loads((results / "stubgrid" / "grid.json").read_text())
    assert {c["id"] for c in manifest["cells"]} == {ln.split()[0] for ln in status.stdout.splitlines()[2:]}


def test_item3_seeds_with_only_a_seed_selects_that_seed(stub, stub_grid, results):
    listing = bench("run", "--grid", stub_grid, "--seeds", "3", "--only", "seed=2", "--dry-run", "--no-estimate",
                    "--results-root", results)
    assert listing.exit_code == 0, listing.output
    assert re.findall(r"^(digits_lt\S+)", listing.stdout, re.M) == ["digits_lt-ecogan-none-s2",
                                                                    "digits_lt-reacgan-none-s2"]
    one = bench("run", "--grid", stub_grid, "--seeds", "3", "--only", "seed=0,method=ecogan", "--dry-run",
                "--no-estimate", "--results-root", results)
    assert re.findall(r"^(digits_lt\S+)", one.stdout, re.M) == ["digits_lt-ecogan-none-s0"]  # not all three seeds
    refused = bench("run", "--grid", stub_grid, "--seeds", "2", "--only", "seed=2", "--dry-run", "--results-root",
                    results)
    assert refused.exit_code == 2 and "seed = '2' is not in grid 'stubgrid'" in error_line(refused)
    summary = run_grid(stub_grid, results_root=results, executor="inline", overrides={"seed": [0, 1, 2]},
                       only="seed=2")
    assert [r.cell for r in summary.results] == ["digits_lt-ecogan-none-s2", "digits_lt-reacgan-none-s2"]


# -- item 4: malformed [[claims]] are refused when the grid loads -------------------------------------------
CLAIM = '[[claims]]\nid = "c1"\ntext = "ECOGAN beats BAGAN"\n'


@pytest.mark.parametrize(("body", "expected"), [
    ('kind = "less"\nmetric = "fdi_best"\nbetter = { method = "ecogan" }\nworse = { method = "bagan" }\n',
     "metric = 'fdi_best' is not a per-run number of the report (did you mean 'fid_best'?)"),
    ('kind = "tail"\nmatch = "ecogan"\n', "match must be a table of axis values, e.g. match = { method = \"ecogan\" }"),
    ('kind = "less"\nbetter = { method = "ecogn" }\nworse = { method = "bagan" }\n',
     "better { method = \"ecogn\" } selects no cell: no cell has method = 'ecogn' (did you mean 'ecogan'?)"),
    ('kind = "order"\norder = [{ method = "ecogan" }, { method = "bagan", sampling = "balanced" }]\n',
     "order { method = \"bagan\", sampling = \"balanced\" } selects no cell: no cell has sampling = 'balanced'"),
    ('kind = "tail"\nmatch = { method = "ecogan", seed = 1 }\n', "match selects by seed"),
    ('kind = "slope"\nmetric = "fid_best"\nimproving = [{ method = "ecogan" }]\nstalls = [{ method = "bagan" }]\n',
     "'metric' does not apply to a slope claim"),
], ids=["misspelt-metric", "match-string", "no-cell", "no-cell-combination", "seed", "metric-on-slope"])
def test_item4_a_malformed_claim_is_refused_when_the_grid_loads(stub, results, tmp_path, body, expected):
    grid = write_grid(tmp_path, CLAIM + body)
    for command in (("run", "--grid", grid, "--dry-run"), ("run", "--grid", grid)):
        result = bench(*command, "--results-root", results)
        assert result.exit_code == 2
        line = error_line(result)
        assert str(grid) in line and "[[claims]] #1" in line and expected in line, line
    assert not results.exists()  # refused before anything was written


def test_item4_report_of_an_older_grid_json_with_a_bad_claim_is_one_line(stub, results, tmp_path):
    grid = write_grid(tmp_path, CLAIM + 'kind = "less"\nbetter = { method = "ecogan" }\nworse = { method = "bagan" }\n')
    assert run_grid(grid, results_root=results, executor="inline").exit_code == 0
    assert bench("gather", "--grid", grid, "--results-root", results).exit_code == 0
    manifest = results / "mine" / "grid.json"
    saved = json.loads(manifest.read_text())
    saved["claims"][0]["metric"] = "fdi_best"  # as an older bench wrote it, unchecked
    manifest.write_text(json.dumps(saved))
    result = bench("report", "--grid", "mine", "--results-root", results, "--reports-root", tmp_path / "rep")
    assert result.exit_code == 2
    line = error_line(result)
    assert str(manifest) in line and "claim #1 (c1)" in line and "(did you mean 'fid_best'?)" in line, line
    saved["claims"][0].pop("metric")
    manifest.write_text(json.dumps(saved))
    good = bench("report", "--grid", "mine", "--results-root", results, "--reports-root", tmp_path / "rep")
    assert good.exit_code == 0, good.output
    assert (tmp_path / "rep" / "mine" / "verdicts-standard-classifier.csv").is_file()


# -- item 10: a legal cell whose id would be 305 characters runs, with every file name bounded ---------------
def test_item10_a_long_cell_id_is_bounded_and_the_grid_runs(stub, results, tmp_path, monkeypatch):
    options = {"lr_g": 0.00012345678901234567, "lr_d": 0.00023456789012345678, "adam_eps": 1.2345678901234567e-08,
               "gp_weight": 10.123456789012345, "cond_lambda": 1.1234567890123457, "temperature": 0.51234567890123456,
               "ema_decay": 0.99912345678901234, "ema_start": 1234567890123, "n_dis": 2,
               "betas": [0.51234567890123456, 0.91234567890123456]}
    long_axes = {"dataset": "digits_lt", "method": "ecogan", "method_options": options}
    with monkeypatch.context() as patch:
        patch.setattr("bench.config.MAX_ID_LENGTH", 10**6)
        unbounded = make_cell_id(long_axes)
    assert len(unbounded) > 255  # the id of main 672acd3: longer than a file name may be
    cell_id = make_cell_id(long_axes)
    assert len(cell_id) == 120, cell_id
    assert re.fullmatch(r"digits_lt-ecogan-none-s0-adam_eps1\.\S+-[0-9a-f]{8}", cell_id), cell_id
    assert make_cell_id(long_axes) == cell_id  # stable
    assert make_cell_id({**long_axes, "method_options": {**options, "n_dis": 3}}) != cell_id
    lines = [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    grid = tmp_path / "long.toml"
    grid.write_text('description = "a cell with ten options"\nscale = "smoke"\n[[cells]]\ndataset = "digits_lt"\n'
                    'method = "ecogan"\n[[cells]]\ndataset = "digits_lt"\nmethod = "ecogan"\n'
                    f"method_options = {{ {', '.join(lines)} }}\n", encoding="utf-8")
    summary = run_grid(grid, results_root=results, executor="inline")  # main 672acd3: "File name too long"
    assert [(r.cell, r.state) for r in summary.results] == [("digits_lt-ecogan-none-s0", "done"), (cell_id, "done")]
    assert bench("status", "--grid", grid, "--results-root", results).exit_code == 0
    assert json.loads((results / "long" / cell_id / "status.json").read_text())["state"] == "done"
    assert bench("gather", "--grid", grid, "--results-root", results).exit_code == 0
    assert bench("report", "--grid", grid, "--results-root", results, "--reports-root", tmp_path / "rep").exit_code == 0


# -- item 9: a broken BENCH_METHODS module is one line naming the module, its file:line and the error ---------
BROKEN_MODULES = {
    "syntax_gan": ("x = (\n", 1, "SyntaxError"),
    "name_gan": ("import math\n\nvalue = undefined_name + math.pi\n", 3, "NameError: name 'undefined_name' is not "
                                                                          "defined"),
    "raising_gan": ("\nraise RuntimeError('no licence server')\n", 2, "RuntimeError: no licence server"),
    "twice_gan": ("from bench.methods import Method, register_method\n\n\n@register_method('ecogan')\n"
                  "class Mine(Method):\n    pass\n", 4,
                  "method 'ecogan' is already registered by bench.methods.ecogan"),
    "spaced_gan": ("from bench.methods import Method, register_method\n\n\n@register_method('my gan')\n"
                   "class Mine(Method):\n    pass\n", 4, "method name 'my gan' must be a non-empty lower-case string "
                                                         "without spaces"),
}


@pytest.mark.parametrize("module", list(BROKEN_MODULES))
def test_item9_a_broken_bench_methods_module_is_one_line(tmp_path, monkeypatch, module):
    source, line_number, expected = BROKEN_MODULES[module]
    (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("BENCH_METHODS", module)
    before = list_methods()
    with pytest.raises(ConfigError) as err:
        bench_methods._import_all()  # what importing bench.methods runs in every process (here: again)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"BENCH_METHODS module {module!r} failed at "
                                                f"{tmp_path / module}.py:{line_number}: "), line
    assert expected in line, line
    assert list_methods() == before and module not in sys.modules


def test_item9_the_cli_shows_a_broken_module_in_one_line(tmp_path):
    (tmp_path / "name_gan.py").write_text(BROKEN_MODULES["name_gan"][0], encoding="utf-8")
    env = os.environ | {"BENCH_METHODS": "name_gan", "PYTHONPATH": os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "bench.cli", "list", "methods"], env=env, capture_output=True,
                          text=True, timeout=300)  # a new process: bench.methods is imported afresh
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [f"Error: BENCH_METHODS module 'name_gan' failed at "
                                                f"{tmp_path / 'name_gan.py'}:3: NameError: name 'undefined_name' is "
                                                f"not defined"]


# -- also bad: every command that takes --grid takes the grid file's path -----------------------------------
def test_report_takes_the_grid_file_path_that_bench_run_took(stub, results, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = write_grid(tmp_path / "path")
    relative = Path("path") / "mine.toml"
    assert run_grid(str(relative), results_root=results, executor="inline").exit_code == 0  # bench run --grid
    for verb in ("gather", "status"):
        assert bench(verb, "--grid", relative, "--results-root", results).exit_code == 0
    report = bench("report", "--grid", relative, "--html", "--results-root", results, "--reports-root", "rep")
    assert report.exit_code == 0, report.output
    assert report.stdout.strip() == f"wrote {Path('rep') / 'mine' / 'index.html'}"
    # another scale of the same file: --scale as for bench run, gather and status
    assert run_grid(grid, results_root=results, scale="cpu", executor="inline", overrides={"steps": 2}).exit_code == 0
    assert bench("gather", "--grid", grid, "--scale", "cpu", "--results-root", results).exit_code == 0
    cpu = bench("report", "--grid", grid, "--scale", "cpu", "--results-root", results, "--reports-root", "rep")
    assert cpu.exit_code == 0 and cpu.stdout.strip() == f"wrote {Path('rep') / 'mine-cpu'}", cpu.output
    missing = bench("report", "--grid", grid, "--scale", "paper", "--results-root", results, "--reports-root", "rep")
    assert missing.exit_code == 2
    assert f"run `bench run --grid {grid} --scale paper" in error_line(missing)


# -- minor: a killed bench report leaves the previous report whole ----------------------------------------
def test_a_report_killed_midway_leaves_the_previous_report_whole(stub, stub_grid, results, tmp_path, monkeypatch):
    assert run_grid(stub_grid, results_root=results, executor="inline", only="seed=0").exit_code == 0
    assert bench("gather", "--grid", stub_grid, "--results-root", results).exit_code == 0
    reports = tmp_path / "rep"
    args = ("report", "--grid", "stubgrid", "--html", "--results-root", results, "--reports-root", reports)
    assert bench(*args).exit_code == 0
    out = reports / "stubgrid"
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert any(p.suffix == ".png" for p in before) and Path("index.html") in before

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C (or a kill) after the tables and figures of the new render are written

    with monkeypatch.context() as patch:
        patch.setattr(report_module, "collect_samples", killed)
        assert bench(*args).exit_code == 130
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # every figure, table and the page as they were
    assert sorted(p.name for p in reports.iterdir()) == ["stubgrid"]  # no temporary folder or index.html.tmp

    dead = reports / ".stubgrid.render-999999999-abcd"  # what a SIGKILLed render leaves (no such process)
    (dead / "figures").mkdir(parents=True)
    (dead / "index.html.tmp").write_text("half")
    assert bench(*args).exit_code == 0
    assert sorted(p.name for p in reports.iterdir()) == ["stubgrid"]
    assert {p.relative_to(out) for p in out.rglob("*") if p.is_file()} == set(before)
