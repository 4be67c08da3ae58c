"""Shared report fixtures: a table3 results tree rendered once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from report_fixture import Fixture, table3_cells, write_results

from bench.report import render_report

TABLE3_CLAIMS = [
    {"id": "balanced-sampling", "text": "ECOGAN + balanced sampling < ECOGAN in FID on every LT dataset",
     "kind": "less", "better": {"method": "ecogan", "sampling": "balanced"},
     "worse": {"method": "ecogan", "sampling": "none"},
     "paper": "Table 3"},
    {"id": "tail-fid", "text": "per-class FID rises toward the tail", "kind": "tail"},
]


@dataclass
class Rendered:
    fixture: Fixture
    html: Path  # reports/<key>/index.html
    out: Path  # reports/<key>


@pytest.fixture(scope="session")
def table3_report(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The table3 subset (key table3-cpu, scale cpu, paper + standard protocols) rendered with html=True."""
    root = tmp_path_factory.mktemp("table3")
    fixture = write_results(root / "results", "table3", table3_cells(), key="table3-cpu", scale="cpu",
                            description="Table 3 subset for tests", claims=TABLE3_CLAIMS)
    html = render_report("table3", results_root=root / "results", reports_root=root / "reports", html=True)
    return Rendered(fixture=fixture, html=html, out=html.parent)
