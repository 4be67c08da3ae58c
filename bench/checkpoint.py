"""Checkpoints: a method's state, the step, the best result so far and every RNG state, saved atomically.

Restoring a checkpoint and running on gives the same random stream as a run that never stopped: the
python, numpy, torch CPU and all CUDA generators are saved with the sampler's generator.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import ConfigError
from bench.run_dir import atomic_write_bytes

FORMAT = 1


@dataclass
class Checkpoint:
    """What ``checkpoints/{latest,best}.pt`` hold.

    Attributes:
        step: the iterations done (0 = after pretraining, before the first iteration).
        method: ``method.state_dict()`` (G, D, G_ema, optimizers, extra).
        best: the best evaluation so far, {"fid", "step", "protocol", "extractor"}, or None.
        rng: :func:`rng_state` with the sampler's ``state_dict()`` under ``"sampler"``.
        config_hash: the run's ``cfg.config_hash()``.
    """

    step: int
    method: dict[str, Any]
    best: dict[str, Any] | None = None
    rng: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        torch.save({"format": FORMAT, "step": self.step, "method": self.method, "best": self.best,
                    "rng": self.rng, "config_hash": self.config_hash}, buf)
        return buf.getvalue()


def save_checkpoint(ckpt: Checkpoint, *paths: Path) -> None:
    """Serialise once and write atomically to each path, in the order given (write ``best`` before
    ``latest``: a kill between the two then leaves a ``latest`` that is not ahead of ``best``)."""
    data = ckpt.to_bytes()
    for path in paths:
        atomic_write_bytes(path, data)


def load_checkpoint(path: Path, map_location: torch.device | str = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; a ConfigError naming the file otherwise."""
    try:
        # Our own files, holding python/numpy RNG states and methods' extra state besides tensors.
        raw = torch.load(path, map_location=map_location, weights_only=False)
    except FileNotFoundError:
        raise ConfigError(f"no checkpoint at {path}") from None
    except Exception as err:  # a truncated or foreign file
        raise ConfigError(f"{path} is not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a bench checkpoint (format {FORMAT})")
    return Checkpoint(step=raw["step"], method=raw["method"], best=raw["best"], rng=raw["rng"],
                      config_hash=raw["config_hash"])


# -- RNG states ----------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's global generator and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global generators' states: python, numpy, torch CPU and (when CUDA is initialised) every CUDA
    device."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (keys it lacks are left as they are)."""
    if "python" in state:
        random.setstate(state["python"])
    if "numpy" in state:
        np.random.set_state(state["numpy"])
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            raise ConfigError(f"the checkpoint holds RNG states of {len(cuda)} CUDA devices, "
                              f"this machine has {torch.cuda.device_count()}; an exact resume needs the same")
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (evaluation, sample grids) without moving the global generators: their states are
    restored on exit, so how often a run evaluates never changes its training trajectory."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
