"""The global random generators: seed them, save and restore their states, shield a block from them.

Training draws from python's ``random``, numpy's and torch's global generators (CPU and CUDA); a checkpoint
saves their states so that a resumed run continues the same stream. Evaluation and sample grids run under
:func:`preserved_rng` with private generators (:func:`eval_seed`), so how often a run evaluates never changes
its training trajectory.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from bench.errors import ConfigError


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global generators' states: python, numpy, torch CPU and (when CUDA is initialised) every CUDA
    device; tensors and plain python values only (checkpoints load with ``weights_only=True``)."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": _numpy_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (keys it lacks are left as they are)."""
    if "python" in state:
        random.setstate(state["python"])
    if "numpy" in state:
        np.random.set_state(_numpy_from_state(state["numpy"]))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            raise ConfigError(f"the checkpoint holds RNG states of {len(cuda)} CUDA devices, "
                              f"this machine has {torch.cuda.device_count()}; an exact resume needs the same")
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def _numpy_state() -> dict[str, Any]:
    """numpy's global generator state as tensors and plain values (no ndarray), so that a checkpoint holding
    it loads with ``torch.load(weights_only=True)``."""
    state = np.random.get_state(legacy=False)
    inner = state["state"]
    return {**state, "state": {"key": torch.from_numpy(inner["key"].astype(np.int64)), "pos": int(inner["pos"])}}


def _numpy_from_state(state: Any) -> Any:
    """What ``np.random.set_state`` takes, from :func:`_numpy_state` (or the legacy tuple of older checkpoints)."""
    if not isinstance(state, dict):
        return state
    inner = state["state"]
    key = inner["key"].numpy() if isinstance(inner["key"], torch.Tensor) else np.asarray(inner["key"])
    return {**state, "state": {"key": key.astype(np.uint32), "pos": int(inner["pos"])}}


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (evaluation, sample grids) without moving the global generators: their states are
    restored on exit, so how often a run evaluates never changes its training trajectory."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def eval_seed(seed: int, step: int) -> int:
    """The seed of evaluation noise at ``step`` of a run seeded ``seed`` (a 63-bit mix of both)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(step) & 0xFFFFFFFF]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))
