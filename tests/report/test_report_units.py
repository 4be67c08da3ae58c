"""The report's building blocks on hand-made inputs: best/last selection, formatting, LaTeX escaping, labels."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from report_fixture import CellSpec, axes, write_results

from bench.report import render_report
from bench.report.samples import nearest_step
from bench.report.summary import best_and_last, eval_points, group_label, with_final_measurements
from bench.report.tables import fmt, fmt_diff, latex_escape, sample_sizes


def tidy(rows: list[tuple]) -> pd.DataFrame:
    """Tidy rows from (cell, protocol, source, step, metric, value) tuples."""
    frame = pd.DataFrame(rows, columns=["cell", "protocol", "source", "step", "metric", "value"])
    return frame.assign(extractor="classifier", reference="ref", label_mix="mix")


def test_best_is_min_fid_with_is_at_that_step_and_last_is_the_highest_step():
    frame = tidy([("a", "paper", "train", 10, "fid", 50.0), ("a", "paper", "train", 10, "is_mean", 2.0),
                  ("a", "paper", "train", 20, "fid", 30.0), ("a", "paper", "train", 20, "is_mean", 2.5),
                  ("a", "paper", "train", 30, "fid", 40.0), ("a", "paper", "train", 30, "is_mean", 3.5)])
    row = best_and_last(eval_points(frame)).iloc[0]
    assert (row["best_step"], row["fid_best"], row["is_best"]) == (20, 30.0, 2.5)  # not IS's own max (3.5)
    assert (row["last_step"], row["fid_last"], row["is_last"]) == (30, 40.0, 3.5)
    assert row["best_source"] == "train"


def test_ties_pick_the_earliest_step_and_a_repeated_evaluation_keeps_its_last_value():
    frame = tidy([("a", "paper", "train", 10, "fid", 30.0), ("a", "paper", "train", 20, "fid", 30.0),
                  ("a", "paper", "train", 30, "fid", 99.0), ("a", "paper", "train", 30, "fid", 10.0)])
    row = best_and_last(eval_points(frame)).iloc[0]
    assert (row["best_step"], row["fid_best"]) == (30, 10.0)
    frame = frame.iloc[:3]
    assert best_and_last(eval_points(frame)).iloc[0]["best_step"] == 10


def test_posthoc_evaluations_stand_in_only_for_protocols_without_training_evaluations():
    frame = tidy([("a", "paper", "train", 10, "fid", 50.0), ("a", "paper", "train", 20, "fid", 40.0),
                  ("a", "paper", "eval:best", 20, "fid", 1.0),
                  ("a", "standard", "eval:best", 20, "fid", 60.0), ("a", "standard", "eval:latest", 40, "fid", 70.0)])
    result = best_and_last(eval_points(frame)).set_index("protocol")
    assert (result.loc["paper", "fid_best"], result.loc["paper", "best_source"]) == (40.0, "train")
    assert (result.loc["standard", "best_step"], result.loc["standard", "fid_best"]) == (20, 60.0)
    assert (result.loc["standard", "last_step"], result.loc["standard", "fid_last"]) == (40, 70.0)
    assert result.loc["standard", "best_source"] == "eval:best"


def test_a_final_measurement_gives_the_headline_best_and_last_values_at_the_monitored_best_step():
    frame = tidy([("a", "standard", "train", 10, "fid", 50.0), ("a", "standard", "train", 10, "n_fake", 100),
                  ("a", "standard", "train", 20, "fid", 30.0), ("a", "standard", "train", 20, "n_fake", 100),
                  ("a", "standard", "train", 20, "kid_mean", 0.5),
                  ("a", "standard", "train", 30, "fid", 40.0), ("a", "standard", "train", 30, "n_fake", 100),
                  ("a", "standard", "final:last", 30, "fid", 38.0), ("a", "standard", "final:last", 30, "n_fake", 500),
                  ("a", "standard", "final:best", 20, "fid", 28.0), ("a", "standard", "final:best", 20, "n_fake", 500),
                  ("a", "standard", "final:best", 20, "kid_mean", float("nan")),
                  ("b", "standard", "train", 10, "fid", 70.0), ("b", "standard", "train", 10, "n_fake", 100)])
    points = eval_points(frame)
    rows = with_final_measurements(best_and_last(points), points).set_index("cell")
    a, b = rows.loc["a"], rows.loc["b"]
    assert (a["best_step"], a["fid_best"], a["n_fake"], a["best_source"]) == (20, 28.0, 500, "final:best")
    assert pd.isna(a["kid_mean"])  # the final row's own values, NaN included: nothing mixed from monitoring
    assert (a["last_step"], a["fid_last"]) == (30, 38.0)
    assert (b["fid_best"], b["n_fake"], b["best_source"]) == (70.0, 100, "train")  # no final measurement


def test_captions_state_the_headline_and_the_monitoring_sample_sizes():
    from types import SimpleNamespace

    frame = tidy([("a", "standard", "train", 10, "n_fake", 10000.0),
                  ("a", "standard", "final:best", 10, "n_fake", 50000.0),
                  ("a", "paper", "train", 10, "n_fake", 9500.0)])
    data = SimpleNamespace(tidy=frame)
    assert sample_sizes(data, "paper", "classifier") == "per evaluation"
    text = sample_sizes(data, "standard", "classifier")
    assert "headline measurement" in text and "used 10000 generated images" in text and "final_fakes" in text


def test_number_formats():
    assert fmt(12.345) == "12.35" and fmt(12.345, 0.5) == "12.35 ± 0.50" and fmt(float("nan")) == "–"
    assert fmt(1.23456, digits=3) == "1.235" and fmt(3.0, float("nan")) == "3.00"
    assert fmt_diff(1.5) == "+1.50" and fmt_diff(-0.25) == "-0.25" and fmt_diff(None) == "–"


def test_latex_escape_handles_specials_then_unicode():
    assert latex_escape("FashionMNIST_LT 50% & #1") == r"FashionMNIST\_LT 50\% \& \#1"
    assert latex_escape("4.2 ± 0.1, ΔFID↓") == r"4.2 $\pm$ 0.1, $\Delta$FID$\downarrow$"
    assert latex_escape("a{b}~c^d\\") == r"a\{b\}\textasciitilde{}c\textasciicircum{}d\textbackslash{}"


def test_nearest_step_prefers_the_earlier_on_a_tie():
    assert nearest_step([100, 200, 300], 200) == 200
    assert nearest_step([100, 200, 300], 150) == 100
    assert nearest_step([100, 200, 300], 260) == 300


def test_group_label_names_method_and_varying_axes():
    row = pd.Series({"method": "reacgan", "dataset": "cifar10_lt", "sampling": "balanced", "quirks": "fixed",
                     "backbone": "biggan32", "options": '{"pretrained":false}'})
    assert group_label(row, []) == "D2D-CE"
    assert group_label(row, ["dataset", "sampling", "quirks", "backbone", "options"]) == (
        "D2D-CE · CIFAR10_LT · sampling balanced · quirks fixed · biggan32 · pretrained=false")


@pytest.mark.parametrize("html", [False, True])
def test_rerender_drops_figures_that_no_longer_apply(tmp_path, html):
    cells = [CellSpec("a", "a", axes("digits_lt", "ecogan"), steps=(2, 4))]
    write_results(tmp_path / "results", "demo", cells, protocols=("paper", "standard"), num_classes=3)
    render_report("demo", results_root=tmp_path / "results", reports_root=tmp_path / "reports", html=html)
    figures = tmp_path / "reports" / "demo" / "figures"
    assert any("-paper-" in p.name for p in figures.glob("*.png"))
    shutil.rmtree(tmp_path / "results")
    write_results(tmp_path / "results", "demo", cells, protocols=("standard",), num_classes=3)
    render_report("demo", results_root=tmp_path / "results", reports_root=tmp_path / "reports", html=html)
    assert not any("-paper-" in p.name for p in figures.glob("*.png"))
    assert (tmp_path / "reports" / "demo" / "index.html").exists() == html


def test_a_gathered_csv_alone_still_renders_the_tables(tmp_path):
    cells = [CellSpec("a", "a", axes("digits_lt", "ecogan"), steps=(2, 4)),
             CellSpec("b", "b", axes("digits_lt", "bagan"), steps=(2, 4))]
    write_results(tmp_path / "results", "demo", cells, protocols=("standard",), num_classes=3)
    shutil.rmtree(tmp_path / "results" / "demo")  # no grid.json, no run folders: cells come from the CSV
    out = render_report("demo", results_root=tmp_path / "results", reports_root=tmp_path / "reports", html=False)
    table = (out / "table-standard-classifier.md").read_text()
    assert "| ECOGAN |" in table and "| BAGAN |" in table and "Scale cpu: numbers not comparable" in table
    assert not (out / "samples").exists() or not any((out / "samples").iterdir())
