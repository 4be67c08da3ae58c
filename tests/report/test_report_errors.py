"""Every error path of ``bench report``: no results, ungathered runs, ambiguous grid keys, malformed files; and the
reasons given for missing cells."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_fixture import CellSpec, axes, write_results

from bench.cli import main
from bench.errors import BenchError, ConfigError, DataNotFoundError
from bench.report import load_results, render_report
from bench.report.load import missing_counts


def small_grid(root: Path, **kwargs) -> None:
    cells = [CellSpec("ecogan-s0", "ECOGAN seed 0", axes("digits_lt", "ecogan"), steps=(2, 4))]
    write_results(root, "demo", cells, scale="smoke", protocols=("standard",), num_classes=3, **kwargs)


def test_no_results_says_what_to_run(tmp_path):
    with pytest.raises(BenchError) as err:
        render_report("table3", results_root=tmp_path / "results", reports_root=tmp_path / "reports")
    root = tmp_path / "results"  # not the default root, so the advice names it (it must work when typed)
    assert str(err.value) == (f"no results for grid table3 in {root}: run `bench run --grid table3 --results-root "
                              f"{root}` then `bench gather --grid table3 --results-root {root}`")
    assert not (tmp_path / "reports").exists()


def test_cli_without_results_prints_one_line_and_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["report", "--grid", "demo", "--results-root", str(tmp_path),
                                       "--reports-root", str(tmp_path / "reports")])
    assert result.exit_code == 2
    assert (f"Error: no results for grid demo in {tmp_path}: run `bench run --grid demo --results-root {tmp_path}`"
            in result.output)
    assert "Traceback" not in result.output


def test_cli_renders_and_names_the_page(tmp_path):
    small_grid(tmp_path / "results")
    result = CliRunner().invoke(main, ["report", "--grid", "demo", "--html", "--results-root",
                                       str(tmp_path / "results"), "--reports-root", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'reports' / 'demo' / 'index.html'}" in result.output


def test_run_folders_without_gathered_csv_say_run_gather(tmp_path):
    small_grid(tmp_path / "results", write_csv_file=False)
    with pytest.raises(DataNotFoundError, match=r"demo\.csv is missing\): run `bench gather --grid demo --results-"):
        load_results("demo", tmp_path / "results")


def test_header_only_csv_is_no_results(tmp_path):
    small_grid(tmp_path / "results")
    csv_path = tmp_path / "results" / "demo.csv"
    csv_path.write_text(csv_path.read_text().splitlines()[0] + "\n")
    with pytest.raises(BenchError, match="no results for grid demo"):
        load_results("demo", tmp_path / "results")


def test_grid_name_with_several_keys_is_ambiguous(tmp_path):
    for key in ("demo-cpu", "demo-smoke"):
        cells = [CellSpec("c", "c", axes("digits_lt", "ecogan"), steps=(2,))]
        write_results(tmp_path, "demo", cells, key=key, protocols=("standard",), num_classes=2)
    with pytest.raises(ConfigError, match="grid 'demo' has results under several keys .*: demo-cpu, demo-smoke"):
        load_results("demo", tmp_path)
    assert load_results("demo-smoke", tmp_path).key == "demo-smoke"


def test_grid_name_resolves_to_its_only_key(tmp_path):
    cells = [CellSpec("c", "c", axes("digits_lt", "ecogan"), steps=(2,))]
    write_results(tmp_path, "demo", cells, key="demo-cpu", protocols=("standard",), num_classes=2)
    data = load_results("demo", tmp_path)
    assert (data.grid, data.key, data.scale) == ("demo", "demo-cpu", "cpu")


def test_malformed_grid_json_names_the_file(tmp_path):
    small_grid(tmp_path)
    (tmp_path / "demo" / "grid.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"grid\.json: not valid JSON"):
        load_results("demo", tmp_path)


def test_grid_json_cell_without_id_names_the_file(tmp_path):
    small_grid(tmp_path)
    path = tmp_path / "demo" / "grid.json"
    grid = json.loads(path.read_text())
    del grid["cells"][0]["id"]
    path.write_text(json.dumps(grid))
    with pytest.raises(ConfigError, match=r"grid\.json: cell 0 has no 'id'"):
        load_results("demo", tmp_path)


def test_tidy_csv_without_a_column_names_file_and_column(tmp_path):
    small_grid(tmp_path)
    path = tmp_path / "demo.csv"
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c for c in rows[0] if c != "protocol"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ConfigError, match=r"demo\.csv: missing column\(s\) protocol; rebuild it with `bench gather`"):
        load_results("demo", tmp_path)


def test_tidy_csv_with_a_bad_step_names_the_row(tmp_path):
    small_grid(tmp_path)
    path = tmp_path / "demo.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("step")] = "soon"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"demo\.csv: non-numeric step in row 4"):
        load_results("demo", tmp_path)


def test_per_class_csv_without_a_column_names_the_file(tmp_path):
    small_grid(tmp_path)
    path = tmp_path / "demo" / "ecogan-s0" / "per_class.csv"
    path.write_text("step,source\n2,train\n")
    with pytest.raises(ConfigError, match=r"per_class\.csv: missing column\(s\) protocol"):
        load_results("demo", tmp_path)


def test_missing_cells_get_their_reason(tmp_path):
    d = "digits_lt"
    cells = [CellSpec("done", "done", axes(d, "ecogan"), steps=(2, 4)),
             CellSpec("absent", "absent", axes(d, "bagan"), run_folder=False),
             CellSpec("failed", "failed", axes(d, "ebgan"), state="failed", metrics=False, error="loss is NaN"),
             CellSpec("running", "running", axes(d, "contragan"), state="running", metrics=False),
             CellSpec("ungathered", "ungathered", axes(d, "reacgan"), steps=(2,), gathered=False)]
    write_results(tmp_path, "demo", cells, protocols=("standard",), num_classes=3)
    reasons = {cell: reason for cell, _, reason in load_results("demo", tmp_path).missing}
    assert reasons == {"absent": "no run folder", "failed": "failed: loss is NaN",
                       "running": "no metrics yet (state running, step 20 of 400)",
                       "ungathered": f"metrics not gathered yet: run `bench gather --grid demo --results-root "
                                     f"{tmp_path}`"}
    counts = missing_counts(load_results("demo", tmp_path).missing)
    assert counts == "1 never run, 1 failed, 1 unfinished, 1 not gathered"
