"""bench.report.render_report on small results trees: tables (CSV, Markdown, LaTeX), figures, samples and the page.

Expected numbers are computed here from the rows the fixture wrote, with plain Python (min, statistics), not
with the report's pandas code.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_fixture import CellSpec, axes, paper, write_results
from scipy.stats import t as student_t

from bench.report import render_report

PROTOCOLS = ("paper", "standard")
DATASETS = ("fashion_mnist_lt", "cifar10_lt")


def t_interval(values: list[float]) -> float:
    """Half-width of the 95% t-interval of the mean: t(0.975, n - 1) * s / sqrt(n)."""
    return float(student_t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / len(values) ** 0.5


def md_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a Markdown pipe table as dicts keyed by header."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    header = [h.strip() for h in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]]


def best_of(rows: list[dict], protocol: str) -> dict:
    """The metrics row with the lowest FID under ``protocol`` (earliest step on a tie)."""
    mine = [r for r in rows if r["protocol"] == protocol]
    return min(mine, key=lambda r: (r["fid"], r["step"]))


def last_of(rows: list[dict], protocol: str) -> dict:
    return max((r for r in rows if r["protocol"] == protocol), key=lambda r: r["step"])


def find_row(rows: list[dict[str, str]], **match: str) -> dict[str, str]:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_table3_single_seed_rows_hold_measured_paper_and_difference(table3_report, protocol):
    rows = md_rows(table3_report.out / f"table3-{protocol}-classifier.md")
    written = table3_report.fixture.rows
    # paper best steps: BAGAN counts iterations; the others Lightning batches, 6 to an iteration
    cases = [("bagan-fmnist-s0", "BAGAN", "FashionMNIST_LT", "FALSE", "TRUE", 92.61, 2.81, "64000"),
             ("ebgan-fmnist-pre-s0", "EBGAN", "FashionMNIST_LT", "FALSE", "TRUE", 27.40, 2.43, "20000"),
             ("ecogan-fmnist-s0", "ECOGAN", "FashionMNIST_LT", "FALSE", "-", 32.91, 2.91, "21000"),
             ("ecogan-cifar-bal-s0", "ECOGAN", "CIFAR10_LT", "TRUE", "-", 43.79, 2.74, "23000")]
    for cell, model, data, sampling, pre, paper_fid, paper_is, paper_step in cases:
        row = find_row(rows, Model=model, Data=data, Sampling=sampling)
        best, last = best_of(written[cell], protocol), last_of(written[cell], protocol)
        assert row["FID↓"] == f"{best['fid']:.2f} [{best['fid_lo']:.2f}, {best['fid_hi']:.2f}]"  # one seed: bootstrap
        assert row["IS↑"] == f"{best['is_mean']:.2f}"
        assert row["Best step"] == str(best["step"])
        assert row["FID↓ paper"] == f"{paper_fid:.2f}"
        assert row["IS↑ paper"] == f"{paper_is:.2f}"
        assert row["ΔFID"] == f"{best['fid'] - paper_fid:+.2f}"
        assert row["ΔIS"] == f"{best['is_mean'] - paper_is:+.2f}"
        assert row["Best step paper"] == paper_step
        assert row["FID↓ last"] == f"{last['fid']:.2f}"
        assert row["Last step"] == str(last["step"])
        assert row["Pre-trained"] == pre
        assert row["Seeds"] == "1"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_table3_two_seeds_give_mean_and_t_interval(table3_report, protocol):
    rows = md_rows(table3_report.out / f"table3-{protocol}-classifier.md")
    row = find_row(rows, Model="ECOGAN", Data="FashionMNIST_LT", Sampling="TRUE")
    bests = [best_of(table3_report.fixture.rows[c], protocol) for c in ("ecogan-fmnist-bal-s0", "ecogan-fmnist-bal-s1")]
    fids, iss = [b["fid"] for b in bests], [b["is_mean"] for b in bests]
    assert row["FID↓"] == f"{statistics.mean(fids):.2f} ± {t_interval(fids):.2f}"
    assert row["IS↑"] == f"{statistics.mean(iss):.2f} ± {t_interval(iss):.2f}"
    assert row["ΔFID"] == f"{statistics.mean(fids) - 20.02:+.2f}"
    assert row["Seeds"] == "2"


def test_table3_csv_keeps_numbers_and_only_measured_cells(table3_report):
    with (table3_report.out / "table3-paper-classifier.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5  # 7 cells with results, two seeds pooled; the missing two have no row
    by_paper = {float(r["paper_fid"]): r for r in rows}
    assert set(by_paper) == {92.61, 27.40, 32.91, 20.02, 43.79}
    best = best_of(table3_report.fixture.rows["bagan-fmnist-s0"], "paper")
    assert float(by_paper[92.61]["fid_best_mean"]) == pytest.approx(best["fid"])
    assert float(by_paper[92.61]["fid_diff"]) == pytest.approx(best["fid"] - 92.61)
    assert {r["protocol"] for r in rows} == {"paper"} and {r["extractor"] for r in rows} == {"classifier"}
    for paper_of_missing in ("30.10", "125.77"):
        assert paper_of_missing not in (table3_report.out / "table3-paper-classifier.md").read_text()


def test_captions_name_protocol_extractor_and_how_best_is_picked(table3_report):
    for protocol, reference in (("paper", "train-lt"), ("standard", "test-balanced")):
        for ext in ("md", "tex"):
            text = (table3_report.out / f"table3-{protocol}-classifier.{ext}").read_text()
            assert f"Protocol {protocol}, features classifier, reference {reference}" in text
            assert "lowest FID" in text and "picked on the evaluation set itself" in text
    page = table3_report.html.read_text()
    captions = re.findall(r"<caption>(.*?)</caption>", page, flags=re.S)
    # table3 x 2 protocols + the standard protocol's details, then per protocol: significance, ranking, held-out,
    # verdicts; then what each cell cost (seconds on a machine, no metric: it names no protocol)
    assert len(captions) == 3 + 4 * 2 + 1
    speed = [c for c in captions if c.startswith("<b>What each cell cost")]
    assert len(speed) == 1 and "Wall-clock seconds of each phase" in speed[0]
    assert all("features classifier" in c for c in captions if c not in speed)
    assert any("Protocol paper," in c for c in captions) and any("Protocol standard," in c for c in captions)


def test_latex_is_booktabs_and_escaped(table3_report):
    tex = (table3_report.out / "table3-standard-classifier.tex").read_text()
    for command in ("\\begin{tabular}", "\\toprule", "\\midrule", "\\bottomrule", "\\caption{", "\\label{tab:"):
        assert command in tex
    assert "FashionMNIST\\_LT" in tex and "FashionMNIST_LT" not in tex.replace("FashionMNIST\\_LT", "")
    assert "$\\pm$" in tex and "$\\Delta$FID" in tex and "±" not in tex
    body = tex.split("\\midrule")[1].split("\\bottomrule")[0].strip().splitlines()
    assert len(body) == 5 and all(line.endswith("\\\\") and line.count(" & ") == 19 for line in body)


def test_details_table_holds_the_standard_metrics_at_the_best_step(table3_report):
    rows = md_rows(table3_report.out / "details-standard-classifier.md")
    best = best_of(table3_report.fixture.rows["bagan-fmnist-s0"], "standard")
    row = find_row(rows, Cell="BAGAN · FashionMNIST_LT · sampling none")
    # one seed: head and tail FID carry their bootstrap intervals
    assert row["Tail FID↓"] == f"{best['fid_tail']:.2f} [{best['fid_tail_lo']:.2f}, {best['fid_tail_hi']:.2f}]"
    assert row["Head FID↓"] == f"{best['fid_head']:.2f} [{best['fid_head_lo']:.2f}, {best['fid_head_hi']:.2f}]"
    assert row["Cond. accuracy↑"] == f"{best['cond_acc']:.3f}"
    assert not (table3_report.out / "details-paper-classifier.md").exists()  # paper protocol: FID and IS only


def test_every_figure_is_written(table3_report):
    figures = table3_report.out / "figures"
    expected = {f"{kind}-{d}-{p}-classifier.png"
                for kind in ("curves", "minority") for d in DATASETS for p in PROTOCOLS}
    expected |= {f"{kind}-{d}-standard-classifier.png" for kind in ("headtail", "conditioning") for d in DATASETS}
    expected |= {f"classes-{d}.png" for d in DATASETS}
    tail_views = {f"tail-{c}.png" for c in ("bagan-fmnist-s0", "ebgan-fmnist-pre-s0", "ecogan-fmnist-s0",
                                            "ecogan-fmnist-bal-s0", "ecogan-cifar-bal-s0")}
    assert {p.name for p in figures.glob("*.png")} == expected | tail_views
    for name in expected:
        with Image.open(figures / name) as image:
            assert image.width > 300 and image.height > 200


def test_samples_are_the_last_and_best_grids(table3_report):
    samples = table3_report.out / "samples"
    for cell, rows in table3_report.fixture.rows.items():
        if not rows:
            continue
        steps = {last_of(rows, "paper")["step"]} | {best_of(rows, p)["step"] for p in PROTOCOLS}
        assert {p.name for p in samples.glob(f"{cell}-step-*.png")} == {f"{cell}-step-{s}.png" for s in steps}


def test_page_is_self_contained_with_header_notice_and_missing_cells(table3_report):
    page = table3_report.html.read_text()
    assert "numbers not comparable to the paper's" in page
    assert "table3-cpu" in page and "<code>cpu</code>" in page
    assert "torch <code>2.14.1</code>" in page and "0123abc" in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)  # nothing fetched from a network
    missing = page.split('id="missing-cells"')[1].split("</section>")[0]
    assert "ebgan-fmnist-nopre-s0" in missing and "no run folder" in missing
    assert "bagan-cifar-s0" in missing and "no metrics yet (state running" in missing
    sources = re.findall(r'<img src="([^"]*)"', page)
    n_samples = sum(len({last_of(r, "paper")["step"]} | {best_of(r, p)["step"] for p in PROTOCOLS})
                    for r in table3_report.fixture.rows.values() if r)
    assert len(sources) == len(list((table3_report.out / "figures").glob("*.png"))) + n_samples
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            image.verify()
    with (table3_report.out / "missing-cells.csv").open() as handle:
        assert [r["cell"] for r in csv.DictReader(handle)] == ["ebgan-fmnist-nopre-s0", "bagan-cifar-s0"]


def test_page_says_which_recipe_each_cell_ran_and_when_the_judge_is_weak(table3_report):
    page = table3_report.html.read_text()
    recipes = page.split('id="table-recipes"')[1].split("</table>")[0]
    runs_with_folders = [c for c, rows in table3_report.fixture.rows.items()]
    assert all(f"<td class=\"l\">{cell}</td>" in recipes for cell in runs_with_folders)
    assert "<td class=\"l\">bce</td>" in recipes and "<td class=\"l\">scale</td>" in recipes
    # the fixture's judge scores 0.75 on real images: below 0.8, the page says what that does to the numbers
    assert 'id="weak-judge-' in page and "0.75 of real images" in page
    assert 'id="conditioning"' in page and "Does G follow its labels?" not in page.split('id="conditioning"')[0]


def demo_cells() -> list[CellSpec]:
    """A generic 6-cell grid: three methods, ECOGAN with two samplings and two seeds, one of them still running."""
    d = "digits_lt"
    return [CellSpec(f"{m}-{s}-s{seed}", f"{m} {s} seed {seed}", axes(d, m, s, seed),
                     state="running" if (s, seed) == ("balanced", 1) else "done")
            for m, s, seed in [("bagan", "none", 0), ("ebgan", "none", 0), ("ecogan", "none", 0),
                               ("ecogan", "none", 1), ("ecogan", "balanced", 0), ("ecogan", "balanced", 1)]]


def test_generic_grid_has_one_row_per_cell_and_no_paper_columns(tmp_path):
    fixture = write_results(tmp_path / "results", "demo", demo_cells(), scale="smoke", protocols=("standard",))
    out = render_report("demo", results_root=tmp_path / "results", reports_root=tmp_path / "reports", html=False)
    assert out == tmp_path / "reports" / "demo" and not (out / "index.html").exists()
    rows = md_rows(out / "table-standard-classifier.md")
    assert [r["Cell"] for r in rows] == ["BAGAN · sampling none", "EBGAN · sampling none", "ECOGAN · sampling none",
                                         "ECOGAN · sampling balanced"]
    assert not any("paper" in header for header in rows[0])
    fids = [best_of(fixture.rows[c], "standard")["fid"] for c in ("ecogan-balanced-s0", "ecogan-balanced-s1")]
    assert rows[3]["FID↓"] == f"{statistics.mean(fids):.2f} ± {t_interval(fids):.2f}"
    assert [r["Seeds"] for r in rows] == ["1", "1", "2", "2 (1 unfinished)"]
    text = (out / "table-standard-classifier.md").read_text()
    assert "Scale smoke: numbers not comparable to the paper's." in text
    assert "Rows with unfinished seeds: their last step is the latest evaluation so far." in text
    assert "Δ" not in text  # no paper numbers in this grid
    assert not (out / "missing-cells.csv").exists()
    tail_views = {f"tail-{c}.png" for c in ("bagan-none-s0", "ebgan-none-s0", "ecogan-none-s0", "ecogan-balanced-s0")}
    assert {p.name for p in (out / "figures").glob("*.png")} == {
        f"{k}-digits_lt-standard-classifier.png" for k in ("curves", "conditioning", "minority", "headtail")} | {
        "classes-digits_lt.png"} | tail_views  # one tail view per group of seeds


def table1_cells() -> list[CellSpec]:
    """Table 1 as the grid writes it: balanced rows are the paper's last step, imbalanced its min-FID step."""
    rows = [("contragan", "cifar10", 6.63, 9.22, 100000), ("reacgan", "cifar10", 4.71, 9.76, 100000),
            ("ecogan", "cifar10", 4.88, 9.77, 100000), ("contragan", "cifar10_lt", 29.04, 6.15, 42000),
            ("reacgan", "cifar10_lt", 42.65, 5.74, 6000), ("ecogan", "cifar10_lt", 25.53, 6.56, 96000)]
    return [CellSpec(f"{m}-{d}", f"{m} {d}", axes(d, m, div=1 if d == "cifar10" else 4),
                     paper(f, i, s, "iterations", "last" if d == "cifar10" else "min_fid",
                           "value before the collapse" if (m, d) == ("reacgan", "cifar10_lt") else None))
            for m, d, f, i, s in rows]


def test_table1_layout_compares_balanced_rows_at_the_last_step(tmp_path):
    fixture = write_results(tmp_path / "results", "table1", table1_cells(), scale="paper",
                            protocols=("paper",), extractor="torchvision-inception")
    html = render_report("table1", results_root=tmp_path / "results", reports_root=tmp_path / "reports")
    rows = md_rows(html.parent / "table1-paper-torchvision-inception.md")
    assert [(r["Method"], r["Data"]) for r in rows] == [
        ("2C", "balance"), ("D2D-CE", "balance"), ("ECOGAN", "balance"),
        ("2C", "imbalance"), ("D2D-CE", "imbalance"), ("ECOGAN", "imbalance")]
    balanced, imbalanced = rows[1], rows[5]
    last = last_of(fixture.rows["reacgan-cifar10"], "paper")
    best = best_of(fixture.rows["ecogan-cifar10_lt"], "paper")
    assert balanced["FID↓ paper"] == "4.71" and balanced["ΔFID"] == f"{last['fid'] - 4.71:+.2f}"
    assert imbalanced["FID↓ paper"] == "25.53" and imbalanced["ΔFID"] == f"{best['fid'] - 25.53:+.2f}"
    text = (html.parent / "table1-paper-torchvision-inception.md").read_text()
    assert "Where the paper reports its last step rather than its min-FID step" in text
    assert "Paper notes: D2D-CE · CIFAR10_LT · div=4: value before the collapse." in text
    page = html.read_text()
    assert "numbers not comparable" not in page and "features torchvision-inception" in page
    assert 'id="missing-cells"' not in page


def test_width_study_figure_for_a_grid_varying_div(tmp_path):
    cells = [CellSpec(f"div{k}-s{s}", f"div {k}", axes("cifar10_lt", "reacgan", seed=s, div=k))
             for k in range(1, 6) for s in range(2)]
    write_results(tmp_path / "results", "width", cells, scale="cpu", protocols=("standard",))
    out = render_report("width", results_root=tmp_path / "results", reports_root=tmp_path / "reports")
    figure = out.parent / "figures" / "width-cifar10_lt-standard-classifier.png"
    with Image.open(figure) as image:
        assert image.width > 900 and image.height > 200
    assert 'id="width"' in out.read_text() and "figures/width-cifar10_lt-standard-classifier.png" in out.read_text()


def test_the_external_gate_states_studiogans_numbers_and_a_verdict_per_cell(tmp_path):
    """2C far above StudioGAN's ContraGAN FID over 3 seeds (outside), D2D-CE near ReACGAN's; BigGAN one seed."""
    published = {"contragan": ("ContraGAN", 6.01, 119.6, True, 60.0), "reacgan": ("ReACGAN", 3.87, 15.2, True, 3.0),
                 "projgan": ("BigGAN", 4.16, None, False, 3.0)}
    cells = []
    for method, (model, fid, ifid, gate, base) in published.items():
        external = {"harness": "StudioGAN", "model": model, "fid": fid, "protocol": "studiogan", "gate": gate}
        external |= {"ifid": ifid} if ifid else {}
        for seed in range(1 if method == "projgan" else 3):
            cells.append(CellSpec(f"{method}-s{seed}", f"{method}", axes("cifar10", method, seed=seed, div=1),
                                  external=external, fid_base=base + seed))
    fixture = write_results(tmp_path / "results", "table1", cells, scale="paper", protocols=("paper", "studiogan"),
                            extractor="inception-v3-compat")
    out = render_report("table1", results_root=tmp_path / "results", reports_root=tmp_path / "reports", html=False)
    rows = {r["Cell"]: r for r in md_rows(out / "gate-table1.md")}
    assert set(rows) == {"contragan", "reacgan", "projgan"}
    assert rows["contragan"]["Published by"] == "StudioGAN ContraGAN" and rows["contragan"]["Protocol"] == "studiogan"
    assert rows["contragan"]["FID published"] == "6.01" and rows["contragan"]["FID verdict"] == "outside"
    assert rows["projgan"]["FID verdict"] == "inconclusive (one seed)" and rows["projgan"]["iFID published"] == "–"
    best = np.array([best_of(fixture.rows[f"reacgan-s{s}"], "studiogan")["fid"] for s in range(3)])
    spread = student_t.ppf(0.975, 2) * best.std(ddof=1) * np.sqrt(1 + 1 / 3)  # one more run's 95% prediction interval
    assert rows["reacgan"]["FID measured"] == f"{best.mean():.2f} ± {spread:.2f}"
    assert rows["reacgan"]["FID verdict"] == ("within" if abs(best.mean() - 3.87) <= spread else "outside")
    text = (out / "gate-table1.md").read_text()
    assert "Gate: a reproduction counts only if contragan and reacgan land within the seed noise" in text
    assert "Verdict: fails." in text  # 2C is outside
