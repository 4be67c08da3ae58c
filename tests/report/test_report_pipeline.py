"""The report on a tidy CSV built by the real ``bench gather`` (bench.results.gather) from the fixture's run folders:
the tables must be the same as from the fixture's own CSV, so that the fixture stands for what gather writes."""

from __future__ import annotations

import json
import shutil

import pandas as pd
from report_fixture import table3_cells, write_results

from bench.report import render_report
from bench.results import gather


def test_tables_from_bench_gather_match_the_fixture_csv(tmp_path):
    write_results(tmp_path / "own", "table3", table3_cells(), key="table3-cpu", scale="cpu")
    shutil.copytree(tmp_path / "own", tmp_path / "gathered")
    (tmp_path / "gathered" / "table3-cpu.csv").unlink()
    gather("table3-cpu", results_root=tmp_path / "gathered")
    outs = {name: render_report("table3-cpu", results_root=tmp_path / name, reports_root=tmp_path / f"r-{name}",
                                html=False) for name in ("own", "gathered")}
    names = sorted(p.name for p in outs["own"].glob("*.md"))
    assert names == sorted([f"{kind}-{protocol}-classifier.md" for kind in ("table3", "significance", "ranking",
                                                                              "heldout")
                            for protocol in ("paper", "standard")] + ["details-standard-classifier.md",
                                                                      "speed-table3-cpu.md"])
    for name in names:
        assert (outs["gathered"] / name).read_text() == (outs["own"] / name).read_text()
    assert sorted(p.name for p in (outs["gathered"] / "figures").iterdir()) == sorted(
        p.name for p in (outs["own"] / "figures").iterdir())


def test_gather_collects_each_runs_speed_record_and_the_report_shows_it_cells_by_phases(tmp_path):
    write_results(tmp_path, "table3", table3_cells(), key="table3-cpu", scale="cpu", write_csv_file=False)
    gather("table3-cpu", results_root=tmp_path)
    speed = pd.read_csv(tmp_path / "table3-cpu-speed.csv")
    runs = sorted(p.parent.name for p in (tmp_path / "table3-cpu").glob("*/speed.json"))
    assert sorted(speed["cell"]) == runs and len(runs) > 3
    first = json.loads((tmp_path / "table3-cpu" / runs[0] / "speed.json").read_text())
    row = speed[speed["cell"] == runs[0]].iloc[0]
    assert row["seconds_training"] == first["phases"]["training"] and row["device"] == first["device"]
    assert row["iterations"] == first["train"]["iterations"] and pd.isna(row["cuda_peak_mb"])
    out = render_report("table3-cpu", results_root=tmp_path, reports_root=tmp_path / "reports", html=False)
    table = (out / "speed-table3-cpu.md").read_text()
    header = table.splitlines()[2]
    for phase in ("Data s", "Judge s", "Reference feat. s", "Pretraining s", "Training s", "Evaluation s", "Total s"):
        assert phase in header
    assert len([line for line in table.splitlines() if line.startswith("| ")]) == len(runs) + 1
    assert "cpu: Test CPU" in table and "float32 · 2" in table
    (tmp_path / "table3-cpu" / runs[0] / "speed.json").unlink()  # runs from before the record: no row
    for path in (tmp_path / "table3-cpu").glob("*/speed.json"):
        path.unlink()
    gather("table3-cpu", results_root=tmp_path)
    assert not (tmp_path / "table3-cpu-speed.csv").exists()
