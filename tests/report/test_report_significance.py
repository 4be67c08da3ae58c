"""Seeds, significance and verdicts end to end: 3 seeds x 2 methods with a known shift in FID are told apart,
the same without the shift are not, and the grid's claims get the verdicts those numbers support."""

from __future__ import annotations

import csv

import pytest
from report_fixture import CellSpec, axes, write_results
from scipy import stats

from bench.report import render_report
from bench.report.stats import ranks_with_ties, t_halfwidth, welch

CLAIMS = [{"id": "eco-beats-bagan", "text": "ECOGAN < BAGAN", "kind": "less", "better": {"method": "ecogan"},
           "worse": {"method": "bagan"}, "paper": "Table 3"},
          {"id": "bagan-beats-eco", "text": "BAGAN < ECOGAN", "kind": "less", "better": {"method": "bagan"},
           "worse": {"method": "ecogan"}},
          {"id": "tail", "text": "per-class FID rises toward the tail", "kind": "tail"}]


def render(tmp_path, shift: float):
    cells = [CellSpec(f"{m}-s{seed}", f"{m} seed {seed}", axes("digits_lt", m, seed=seed),
                      fid_base=40.0 + (shift if m == "bagan" else 0.0))
             for m in ("ecogan", "bagan") for seed in range(3)]
    fixture = write_results(tmp_path / "results", "demo", cells, scale="cpu", protocols=("standard",), claims=CLAIMS)
    html = render_report("demo", results_root=tmp_path / "results", reports_root=tmp_path / "reports")
    return fixture, html


def csv_rows(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


def best_fids(fixture, method):
    return [min(r["fid"] for r in fixture.rows[f"{method}-s{seed}"]) for seed in range(3)]


def test_a_known_shift_over_three_seeds_is_significant(tmp_path):
    fixture, html = render(tmp_path, shift=20.0)
    (pair,) = csv_rows(html.parent / "significance-standard-classifier.csv")
    eco, bagan = best_fids(fixture, "ecogan"), best_fids(fixture, "bagan")
    expected = stats.ttest_ind(eco, bagan, equal_var=False).pvalue
    assert float(pair["p"]) == pytest.approx(expected) and float(pair["p"]) < 0.05
    assert pair["significant"] == "True" and pair["verdict"] == "a lower"
    assert (int(pair["n_a"]), int(pair["n_b"])) == (3, 3)
    page = html.read_text()
    assert "A &lt; B" in page
    verdicts = {r["claim"]: r["verdict"] for r in csv_rows(html.parent / "verdicts-standard-classifier.csv")}
    assert verdicts["eco-beats-bagan"] == "holds" and verdicts["bagan-beats-eco"] == "fails"
    assert verdicts["tail"] == "holds"  # the fixture's per-class FID grows as 300 / count
    ranks = {r["cell"]: r["rank"] for r in csv_rows(html.parent / "ranking-standard-classifier.csv")}
    assert sorted(ranks.values()) == ["1", "2"]


def test_no_shift_is_inconclusive_and_marked(tmp_path):
    fixture, html = render(tmp_path, shift=0.0)
    (pair,) = csv_rows(html.parent / "significance-standard-classifier.csv")
    assert float(pair["p"]) >= 0.05 and pair["significant"] == "False"
    page = html.read_text()
    assert "inconclusive (p ≥ 0.05)" in page and "n.s." in page
    verdicts = {r["claim"]: r["verdict"] for r in csv_rows(html.parent / "verdicts-standard-classifier.csv")}
    assert verdicts["eco-beats-bagan"] == verdicts["bagan-beats-eco"] == "inconclusive"
    ranking = csv_rows(html.parent / "ranking-standard-classifier.csv")
    assert [r["rank"] for r in ranking] == ["1", "1"]  # a tie: they cannot be told apart
    table = (html.parent / "table-standard-classifier.md").read_text()
    eco = best_fids(fixture, "ecogan")
    mean = sum(eco) / 3
    half = stats.t.ppf(0.975, 2) * stats.tstd(eco) / 3**0.5
    assert f"{mean:.2f} ± {half:.2f}" in table  # the t-interval over the three seeds


def test_stats_against_scipy_and_by_hand():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.5]
    c = welch(a, b)
    assert c.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert c.diff == pytest.approx(2.0 - 4.1666666667)
    assert t_halfwidth(a) == pytest.approx(stats.t.ppf(0.975, 2) * 1.0 / 3**0.5)
    assert welch([1.0], b).verdict.startswith("inconclusive")
    assert welch([1.0, 1.0], [2.0, 2.0]).verdict == "inconclusive (no spread)"
    assert ranks_with_ties({"x": [1.0, 1.1, 0.9], "y": [1.05, 0.95, 1.0], "z": [9.0, 9.1, 8.9]}) == {
        "x": 1, "y": 1, "z": 3}
