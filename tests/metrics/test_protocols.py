"""The protocol table, the reference subset, the fake label mixes and the head/tail split."""

from __future__ import annotations

import pytest
import torch

from bench.errors import ConfigError
from bench.metrics.protocols import PROTOCOLS, fake_count, fake_labels, get_protocol, head_classes, subset_indices


def test_protocol_table_names_extractor_reference_and_label_mix():
    paper, standard = get_protocol("paper"), get_protocol("standard")
    assert (paper.extractor, paper.reference, paper.label_mix, paper.is_shuffle_seed) == \
        ("torchvision-inception", "train-lt", "train-histogram", None)
    assert (standard.extractor, standard.reference, standard.label_mix) == \
        ("inception-v3-compat", "test-balanced", "uniform")
    assert standard.is_shuffle_seed is not None and paper.is_splits == standard.is_splits == 10


def test_unknown_protocol_is_a_config_error_listing_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown protocol 'papr' \(did you mean 'paper'\?\); known: paper, "
                                          r"standard"):
        get_protocol("papr")


def test_subset_keeps_the_class_histogram_and_is_class_sorted():
    labels = torch.tensor([2] * 30 + [0] * 60 + [1] * 90)[torch.randperm(180, generator=torch.Generator()
                                                                         .manual_seed(0))]
    idx = subset_indices(labels, 60)
    assert idx.numel() == 60 and idx.unique().numel() == 60
    sub = labels[idx]
    assert torch.bincount(sub).tolist() == [20, 30, 10]  # 60/180 of 60, 90, 30
    assert torch.equal(sub, sub.sort().values)
    assert torch.equal(idx, subset_indices(labels, 60))  # deterministic


def test_subset_without_cap_or_above_size_is_every_row_class_sorted():
    labels = torch.tensor([1, 0, 1, 2, 0])
    for n in (None, 5, 99):
        idx = subset_indices(labels, n)
        assert sorted(idx.tolist()) == [0, 1, 2, 3, 4]
        assert labels[idx].tolist() == [0, 0, 1, 1, 2]


def test_paper_fake_labels_are_the_reference_histogram_in_class_order():
    ref_labels = torch.tensor([0] * 7 + [1] * 3 + [2] * 1)
    labels = fake_labels(PROTOCOLS["paper"], ref_labels, 3)
    assert torch.equal(labels, ref_labels)


@pytest.mark.parametrize(("n", "num_classes"), [(100, 10), (36, 4), (23, 5)])
def test_standard_fake_labels_are_uniform_shuffled_and_fixed(n, num_classes):
    ref_labels = torch.zeros(n, dtype=torch.int64)  # the reference's own labels do not matter
    labels = fake_labels(PROTOCOLS["standard"], ref_labels, num_classes)
    counts = torch.bincount(labels, minlength=num_classes)
    assert labels.numel() == n
    assert counts.max() - counts.min() <= 1 and (n % num_classes or counts.unique().numel() == 1)
    assert not torch.equal(labels, labels.sort().values)  # shuffled
    assert torch.equal(labels, fake_labels(PROTOCOLS["standard"], ref_labels, num_classes))


def test_a_fake_count_of_its_own_keeps_the_label_mix():
    ref_labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    more = fake_labels(PROTOCOLS["paper"], ref_labels, 3, n=500)  # train histogram, 5 fakes per reference row
    assert torch.bincount(more).tolist() == [300, 150, 50] and torch.equal(more, more.sort().values)
    fewer = fake_labels(PROTOCOLS["paper"], ref_labels, 3, n=10)
    assert torch.bincount(fewer).tolist() == [6, 3, 1]
    uniform = fake_labels(PROTOCOLS["studiogan"], ref_labels, 3, n=300)
    assert torch.bincount(uniform).tolist() == [100, 100, 100]
    # the default count is unchanged: one per reference row, the same labels as before
    assert torch.equal(fake_labels(PROTOCOLS["standard"], ref_labels, 3),
                       fake_labels(PROTOCOLS["standard"], ref_labels, 3, n=100))


def test_the_paper_protocol_keeps_one_fake_per_reference_image_whatever_is_configured():
    assert fake_count(PROTOCOLS["paper"], 9500, 50000) == 9500
    assert fake_count(PROTOCOLS["standard"], 10000, 50000) == 50000
    assert fake_count(PROTOCOLS["studiogan"], 50000, None) == 50000


def test_the_studiogan_protocol_is_tf_inception_against_the_train_set_with_uniform_labels():
    proto = PROTOCOLS["studiogan"]
    assert (proto.extractor, proto.reference, proto.label_mix, proto.is_splits, proto.fakes) == (
        "inception-v3-compat", "train-lt", "uniform", 10, "config")


def test_head_tail_split_at_the_median_train_count():
    assert head_classes([50, 40, 30, 20, 10]).tolist() == [True, True, True, False, False]
    cifar10_lt = [5000] + [100 * c for c in range(1, 10)]
    assert head_classes(cifar10_lt).tolist() == [True] + [False] * 5 + [True] * 4  # median 550
    assert head_classes([7, 7, 7]).tolist() == [True, True, True]  # balanced: no tail
