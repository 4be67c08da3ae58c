"""Long-tail profiles and first-per-class selection (bench.datasets.longtail)."""

from __future__ import annotations

import math

import pytest
import torch

from bench.datasets.longtail import longtail_counts, rank_within_class, select_first_per_class
from bench.errors import ConfigError

# Published lists (ECOGAN paper section 3.1 / Cao et al. LDAM CIFAR-10-LT), typed in, not computed.
CIFAR10_LT_ECOGAN = [5000, 100, 200, 300, 400, 500, 600, 700, 800, 900]
FMNIST_LT_ECOGAN = [6000, 100, 200, 300, 400, 500, 600, 700, 800, 900]
CIFAR10_LT_EXP100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def test_ecogan_profile_reference_lists():
    assert longtail_counts("ecogan", [5000] * 10) == CIFAR10_LT_ECOGAN
    assert longtail_counts("ecogan", [6000] * 10) == FMNIST_LT_ECOGAN
    assert sum(longtail_counts("ecogan", [5000] * 10)) == 9500


def test_ecogan_profile_clips_to_available():
    assert longtail_counts("ecogan", [1000, 900, 150, 900]) == [1000, 100, 150, 300]


def test_exponential_profile_reference_list():
    assert longtail_counts("exponential", [5000] * 10, ratio=100) == CIFAR10_LT_EXP100
    assert longtail_counts("exponential", [5000] * 10, ratio=100.0) == CIFAR10_LT_EXP100


def test_exponential_profile_keeps_exact_integer_products():
    # n_max * ratio^(-c/(C-1)) is an integer in exact arithmetic at these points (n_max / ratio^k)
    assert longtail_counts("exponential", [1000] * 4, ratio=1000)[-1] == 1
    assert longtail_counts("exponential", [5000] * 3, ratio=100) == [5000, 500, 50]
    assert longtail_counts("exponential", [6000] * 7, ratio=64) == [6000, 3000, 1500, 750, 375, 187, 93]


def test_exponential_profile_matches_independent_formula_and_clips():
    base = [128, 132, 127, 133, 131, 132, 131, 129, 124, 130]  # digits' per-class train counts
    expected = [min(math.floor(133 / 10 ** (c / 9) + 1e-9), n) for c, n in enumerate(base)]
    assert longtail_counts("exponential", base, ratio=10) == expected
    assert longtail_counts("exponential", base, ratio=10)[0] == 128  # class 0 clipped to what it has


def test_none_profile_is_unchanged():
    assert longtail_counts("none", [3, 1, 2]) == [3, 1, 2]


@pytest.mark.parametrize("ratio", [None, 1, 1.0, 0.5, -3])
def test_exponential_ratio_must_exceed_one(ratio):
    with pytest.raises(ConfigError, match=f"ratio = {ratio!r}"):
        longtail_counts("exponential", [10] * 3, ratio=ratio)


def test_unknown_profile_lists_profiles():
    with pytest.raises(ConfigError, match="unknown long-tail profile 'linear'.*ecogan, exponential, none"):
        longtail_counts("linear", [10] * 3)


def _first_per_class_loop(labels: list[int], counts: list[int]) -> list[int]:
    """Independent reference: walk the labels in order and keep while the class still has room."""
    seen = [0] * len(counts)
    kept = []
    for i, y in enumerate(labels):
        if seen[y] < counts[y]:
            kept.append(i)
        seen[y] += 1
    return kept


def test_select_first_per_class_keeps_first_in_source_order():
    labels = torch.tensor([2, 0, 1, 0, 2, 2, 1, 0, 1, 2])
    assert select_first_per_class(labels, [2, 1, 2]).tolist() == [0, 1, 2, 3, 4]
    assert select_first_per_class(labels, [0, 3, 9]).tolist() == [0, 2, 4, 5, 6, 8, 9]


def test_select_first_per_class_random_against_loop():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 7, (5000,), generator=gen)
    counts = [0, 1, 50, 3000, 700, 10, 2]
    assert select_first_per_class(labels, counts).tolist() == _first_per_class_loop(labels.tolist(), counts)


def test_rank_within_class():
    labels = torch.tensor([1, 1, 0, 1, 0])
    assert rank_within_class(labels).tolist() == [0, 1, 0, 2, 1]
    assert rank_within_class(torch.zeros(0, dtype=torch.long)).tolist() == []


def test_select_first_per_class_rejects_negative_counts():
    with pytest.raises(ConfigError, match="counts must be >= 0"):
        select_first_per_class(torch.tensor([0, 1]), [1, -1])
