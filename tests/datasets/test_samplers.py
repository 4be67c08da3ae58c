"""Real-batch samplers (bench.datasets.samplers): shuffled epochs, class-balanced draws, exact resume."""

from __future__ import annotations

import pytest
import torch

from bench.datasets.samplers import ClassBalancedSampler, ShuffledSampler, make_sampler
from bench.errors import ConfigError

CIFAR10_LT = [5000, 100, 200, 300, 400, 500, 600, 700, 800, 900]


def _longtail_labels(counts: list[int]) -> torch.Tensor:
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    return labels[torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(1))]


def test_shuffled_epochs_are_permutations_across_batch_boundaries():
    sampler = ShuffledSampler(10, seed=0)
    stream = torch.cat([sampler.next_indices(3) for _ in range(10)])  # 30 = three epochs, batches straddle them
    for epoch in stream.view(3, 10):
        assert sorted(epoch.tolist()) == list(range(10))
    assert not torch.equal(stream[:10], stream[10:20])  # a fresh permutation each epoch


def test_shuffled_batch_larger_than_dataset():
    batch = ShuffledSampler(4, seed=0).next_indices(10)
    assert batch.shape == (10,)
    assert sorted(batch[:4].tolist()) == sorted(batch[4:8].tolist()) == [0, 1, 2, 3]


def test_seeded_streams_are_reproducible():
    a, b = ShuffledSampler(50, seed=3), ShuffledSampler(50, seed=3)
    assert torch.equal(a.next_indices(120), b.next_indices(120))
    labels = _longtail_labels([30, 5, 10])
    c, d = ClassBalancedSampler(labels, seed=3), ClassBalancedSampler(labels, seed=3)
    assert torch.equal(c.next_indices(64), d.next_indices(64))


def test_balanced_sampler_draws_each_class_about_one_tenth():
    labels = _longtail_labels(CIFAR10_LT)
    sampler = make_sampler("balanced", labels, seed=0)
    drawn = torch.cat([sampler.next_indices(1000) for _ in range(100)])  # 100k draws
    freq = torch.bincount(labels[drawn], minlength=10).double() / drawn.numel()
    assert torch.all((freq - 0.1).abs() < 0.01), freq  # within 10% relative of 1/C


def test_shuffled_sampler_follows_the_data_distribution():
    labels = _longtail_labels(CIFAR10_LT)
    sampler = make_sampler("none", labels, seed=0)
    counts = torch.bincount(labels[sampler.next_indices(labels.numel())], minlength=10)
    assert counts.tolist() == CIFAR10_LT  # one full epoch sees every image once


@pytest.mark.parametrize("kind", ["none", "balanced"])
def test_resume_continues_the_stream_exactly(kind):
    labels = _longtail_labels([40, 3, 7, 12])  # 62 images: batches of 16 cross epoch boundaries
    original = make_sampler(kind, labels, seed=7)
    for _ in range(5):
        original.next_indices(16)
    state = original.state_dict()
    expected = [original.next_indices(16) for _ in range(6)]

    resumed = make_sampler(kind, labels, seed=999)  # a fresh sampler; its seed must not matter after loading
    resumed.load_state_dict(state)
    assert all(torch.equal(resumed.next_indices(16), e) for e in expected)


def test_state_survives_torch_save(tmp_path):
    sampler = make_sampler("none", torch.zeros(20, dtype=torch.long), seed=0)
    sampler.next_indices(7)
    torch.save(sampler.state_dict(), tmp_path / "s.pt")
    expected = sampler.next_indices(30)
    fresh = make_sampler("none", torch.zeros(20, dtype=torch.long), seed=1)
    fresh.load_state_dict(torch.load(tmp_path / "s.pt", weights_only=True))
    assert torch.equal(fresh.next_indices(30), expected)


def test_state_of_another_dataset_or_kind_is_refused():
    shuffled = make_sampler("none", torch.zeros(20, dtype=torch.long), seed=0)
    with pytest.raises(ConfigError, match="kind='none' over 20"):
        make_sampler("none", torch.zeros(21, dtype=torch.long), seed=0).load_state_dict(shuffled.state_dict())
    with pytest.raises(ConfigError, match="not kind='balanced'"):
        make_sampler("balanced", torch.zeros(20, dtype=torch.long), seed=0).load_state_dict(shuffled.state_dict())


def test_unknown_kind():
    with pytest.raises(ConfigError, match="unknown sampling 'balance'.*known: balanced, none"):
        make_sampler("balance", torch.zeros(3, dtype=torch.long), seed=0)


def test_empty_dataset_is_refused():
    with pytest.raises(ConfigError, match="empty dataset"):
        make_sampler("none", torch.zeros(0, dtype=torch.long), seed=0)
    with pytest.raises(ConfigError, match="empty dataset"):
        make_sampler("balanced", torch.zeros(0, dtype=torch.long), seed=0)
