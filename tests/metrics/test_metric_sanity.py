"""The metric sanity suite: oracle generators on real images, and the orderings a reviewer expects of the metrics.

These tests define what "measures" means here (after Naeem et al. 2020 and Stein et al. 2023, who test metrics
against controlled generators). The data are scikit-learn's digits at the cpu scale's 16 x 16: the reference is the
balanced test split (50 per class), the oracles draw from the train split (images the reference never holds), and
every number comes out of the real evaluation path — ``Evaluator.evaluate`` under the ``standard`` protocol, with
the cpu scale's label-free ``random-cnn`` features and the ``classifier`` as the judge.

The oracles (a real, b one image per class, c three, d wrong class, e class mean, f noise, g noisy real,
h blurred real) and the orderings are in ``oracles.py``; each ordering raises AssertionError when it does not hold.
They hold for the project's metrics;
and each fails when its metric is replaced by FID on the judge's (classifier's) features — the measurement the
benchmark used before it could see collapse — which the last test pins, so the suite cannot pass on a metric blind
to collapse.
"""

from __future__ import annotations

import math

import pytest

from bench.datasets import load_dataset
from bench.datasets.sources import digits

from .oracles import (
    COLLAPSED,
    DIVERSE,
    accuracy_catches_wrong_class,
    collapsed_below_diverse,
    evaluate_oracles,
    flag_separates,
    headline_ranks_real_first,
)


def digits_oracles(extractor: str, cache_root) -> dict[str, dict[str, float]]:
    """The oracles on digits at the cpu scale's 16 x 16: pool = the whole train split (held out from the test
    split, the reference)."""
    return evaluate_oracles(extractor, cache_root, load_dataset("digits_lt", "train", image_size=16),
                            load_dataset("digits_lt", "test", image_size=16), digits.load(None, "train", 16, 1),
                            "digits_lt")


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> dict[str, dict[str, float]]:
    return digits_oracles("random-cnn", tmp_path_factory.mktemp("sanity-cache"))


@pytest.fixture(scope="module")
def classifier_fid(rows, tmp_path_factory) -> dict[str, float]:
    """FID on the judge's features alone, per oracle: the metric every ordering is checked against."""
    plain = digits_oracles("classifier", tmp_path_factory.mktemp("sanity-cache-classifier"))
    return {kind: row["fid"] for kind, row in plain.items()}


def column(rows: dict[str, dict[str, float]], name: str) -> dict[str, float]:
    return {kind: float(row[name]) for kind, row in rows.items()}


# -- the project's metrics hold them ---------------------------------------------------------------------------
def test_the_rows_name_the_label_free_features_and_are_finite(rows):
    for kind, row in rows.items():
        assert row["extractor"] == "random-cnn" and row["protocol"] == "standard"
        for name in ("fid", "coverage", "density", "diversity", "diversity_min", "cond_acc"):
            assert math.isfinite(row[name]), (kind, name, row[name])


def test_headline_fid_ranks_real_images_first(rows):
    headline_ranks_real_first(column(rows, "fid"))


def test_coverage_and_diversity_put_collapsed_generators_far_below_real_images(rows):
    coverage = column(rows, "coverage")
    collapsed_below_diverse(coverage)
    assert coverage["b_one"] < 0.5 * coverage["a_real"] and coverage["c_three"] < 0.5 * coverage["a_real"], coverage
    diversity = column(rows, "diversity")
    assert diversity["b_one"] < 0.05 and diversity["e_mean"] < 0.05, diversity  # one image per class
    for diverse in DIVERSE:
        assert diversity[diverse] > 0.7, (diverse, diversity)


def test_conditional_accuracy_catches_the_wrong_class(rows):
    accuracy = column(rows, "cond_acc")
    accuracy_catches_wrong_class(accuracy)
    assert accuracy["d_wrong"] <= 0.25 * accuracy["a_real"], accuracy


def test_collapse_verdict_fires_for_collapsed_oracles_and_never_for_real_images(rows):
    flag_separates(column(rows, "collapsed"))
    classes = column(rows, "collapsed_classes")
    assert classes["a_real"] == 0 and classes["b_one"] == 10 and classes["e_mean"] == 10, classes
    assert classes["c_three"] >= 8, classes  # 9 of 10: one class's three images lie off its reference images
    assert not rows["f_noise"]["collapsed"]  # noise is unfaithful, not collapsed: FID and precision say so


# -- and each ordering fails for FID on the judge's features alone ---------------------------------------------
def test_every_ordering_fails_when_its_metric_is_fid_on_classifier_features(classifier_fid):
    """Swap each metric for classifier-feature FID (lower is better, so its negative as a score; the orderings
    compare ranks only): every ordering above must then fail — the suite is not satisfied by the benchmark's old
    headline."""
    higher_is_better = {kind: -value for kind, value in classifier_fid.items()}
    with pytest.raises(AssertionError):
        headline_ranks_real_first(classifier_fid)
    with pytest.raises(AssertionError):
        collapsed_below_diverse(higher_is_better)
    with pytest.raises(AssertionError):
        accuracy_catches_wrong_class(higher_is_better)
    # a flag from classifier FID alone: no threshold flags the collapsed oracles and none of the diverse ones
    threshold = min(classifier_fid[kind] for kind in COLLAPSED)
    with pytest.raises(AssertionError):
        flag_separates({kind: value >= threshold for kind, value in classifier_fid.items()})
