"""The report on a tidy CSV built by the real ``bench gather`` (bench.results.gather) from the fixture's run folders:
the tables must be the same as from the fixture's own CSV, so that the fixture stands for what gather writes."""

from __future__ import annotations

import shutil

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
                            for protocol in ("paper", "standard")] + ["details-standard-classifier.md"])
    for name in names:
        assert (outs["gathered"] / name).read_text() == (outs["own"] / name).read_text()
    assert sorted(p.name for p in (outs["gathered"] / "figures").iterdir()) == sorted(
        p.name for p in (outs["own"] / "figures").iterdir())
