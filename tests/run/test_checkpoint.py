"""bench.run.checkpoint: save/load round trip, RNG states, the RNG shield, unreadable files."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from bench.errors import ConfigError
from bench.rng import preserved_rng, rng_state, seed_everything, set_rng_state
from bench.run.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def draws() -> tuple[float, float, list[float]]:
    """One draw from each global generator."""
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_save_load_round_trip_writes_each_path(tmp_path):
    net = torch.nn.Linear(3, 2)
    ckpt = Checkpoint(step=7, method={"G": net.state_dict()}, config_hash="abc",
                      best={"fid": 1.5, "step": 5, "protocol": "standard", "extractor": "classifier"},
                      rng=rng_state() | {"sampler": {"pos": 3}})
    best, latest = tmp_path / "c" / "best.pt", tmp_path / "c" / "latest.pt"
    save_checkpoint(ckpt, best, latest)
    assert best.read_bytes() == latest.read_bytes()
    loaded = load_checkpoint(latest)
    assert loaded.step == 7 and loaded.best == ckpt.best and loaded.config_hash == "abc"
    assert loaded.rng["sampler"] == {"pos": 3}
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.method["G"][key], value)


def test_restored_rng_state_repeats_the_stream():
    seed_everything(3)
    draws()
    state = rng_state()
    expected = draws()
    draws()
    set_rng_state(state)
    assert draws() == expected


def test_seed_everything_repeats_all_generators():
    seed_everything(11)
    first = draws()
    seed_everything(11)
    assert draws() == first
    seed_everything(12)
    assert draws() != first


def test_preserved_rng_hides_draws_inside_the_block():
    seed_everything(5)
    expected = draws()
    seed_everything(5)
    with preserved_rng():
        draws()
        torch.randn(100)
    assert draws() == expected


def test_preserved_rng_restores_after_an_exception():
    seed_everything(5)
    expected = draws()
    seed_everything(5)
    with pytest.raises(RuntimeError), preserved_rng():
        draws()
        raise RuntimeError("evaluation failed")
    assert draws() == expected


def test_unreadable_checkpoints_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    truncated = tmp_path / "truncated.pt"
    save_checkpoint(Checkpoint(step=1, method={"w": torch.zeros(1000)}), truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(ConfigError, match="truncated.pt is not a readable checkpoint"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ConfigError, match="foreign.pt is not a bench checkpoint"):
        load_checkpoint(foreign)
