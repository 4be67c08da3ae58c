"""The report never ranks a collapsed evaluation above a healthy one, and says where collapse and stereotypes are."""

from __future__ import annotations

from pathlib import Path

from report_fixture import CellSpec, axes, write_results

from bench.report import render_report


def md_rows(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    header = [h.strip() for h in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]]


def cells() -> list[CellSpec]:
    d = "digits_lt"
    return [
        # its lowest FID (the curve's dip) is at a collapsed step: the best step must be another one
        CellSpec("ecogan-s0", "ECOGAN", axes(d, "ecogan"), steps=(100, 200, 300, 400), collapsed_steps=(200, 300)),
        # every evaluation collapsed, and accuracy above the judge's 0.75: stereotypes
        CellSpec("reacgan-s0", "D2D-CE", axes(d, "reacgan"), collapsed_steps=(100, 200, 300, 400), cond_acc=0.97),
        CellSpec("bagan-s0", "BAGAN", axes(d, "bagan"), collapsed_steps=()),
    ]


def rendered(tmp_path: Path):
    fixture = write_results(tmp_path / "results", "demo", cells(), scale="cpu", protocols=("standard",),
                            extractor="random-cnn")
    html = render_report("demo", results_root=tmp_path / "results", reports_root=tmp_path / "reports", html=True)
    return fixture, html


def test_best_step_is_the_lowest_fid_among_healthy_evaluations(tmp_path):
    fixture, html = rendered(tmp_path)
    rows = {r["Cell"].split(" ⚠")[0]: r for r in md_rows(html.parent / "table-standard-random-cnn.md")}
    written = fixture.rows["ecogan-s0"]
    healthy = [r for r in written if r["collapsed"] == 0]
    best = min(healthy, key=lambda r: r["fid"])
    assert min(written, key=lambda r: r["fid"])["collapsed"] == 1  # the fixture's dip is collapsed: a real test
    ecogan = rows["ECOGAN"]
    assert ecogan["Best step"] == str(best["step"]) and ecogan["FID↓"].startswith(f"{best['fid']:.2f}")
    assert ecogan["Collapse"] == "no" and ecogan["Coverage↑"] == "0.600" and ecogan["Diversity↑"] == "0.90"
    assert rows["BAGAN"]["Collapse"] == "no"


def test_a_run_collapsed_at_every_evaluation_is_marked_in_tables_and_listed_on_the_page(tmp_path):
    fixture, html = rendered(tmp_path)
    table = md_rows(html.parent / "table-standard-random-cnn.md")
    (reacgan,) = [r for r in table if r["Cell"].startswith("D2D-CE")]
    assert reacgan["Cell"].endswith("⚠") and reacgan["Collapse"] == "COLLAPSED"
    written = fixture.rows["reacgan-s0"]
    assert reacgan["FID↓"].startswith(f"{min(r['fid'] for r in written):.2f}")  # none healthy: the lowest FID
    assert reacgan["Cond. acc.↑"] == "0.970 (> judge 0.75)"
    assert not [r for r in table if r["Cell"].startswith("ECOGAN") and r["Cell"].endswith("⚠")]
    page = html.read_text()
    assert 'id="collapsed-runs"' in page and "reacgan-s0" in page.split('id="collapsed-runs"')[1].split("</div>")[0]
    assert "ecogan-s0" not in page.split('id="collapsed-runs"')[1].split("</div>")[0]
    assert 'id="stereotypes"' in page and "0.970 &gt; judge on real images 0.750" in page
    caption = (html.parent / "table-standard-random-cnn.md").read_text().splitlines()[0]
    assert "not collapsed" in caption and "diversity < 0.5" in caption


def test_conditioning_figure_has_a_diversity_panel(tmp_path):
    _, html = rendered(tmp_path)
    figure = html.parent / "figures" / "conditioning-digits_lt-standard-random-cnn.png"
    assert figure.exists()
    assert "intra-class diversity ratio" in html.read_text()
