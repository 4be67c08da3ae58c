"""Randomness of evaluation, kept apart from training's: a private seed per step, and a global-RNG shield."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch


def eval_seed(seed: int, step: int) -> int:
    """The seed of evaluation noise at ``step`` of a run seeded ``seed`` (a 63-bit mix of both)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(step) & 0xFFFFFFFF]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


@contextlib.contextmanager
def isolated_rng(device: torch.device | str = "cpu") -> Iterator[None]:
    """Run a block without changing torch's global RNG state (CPU, and ``device`` when it is CUDA).

    Whatever draws from the global generators inside (module initialisation, a method's own sampling) sees
    some state, and the state is put back afterwards, so the training stream never depends on evaluation.
    """
    device = torch.device(device)
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield
