"""Checkpoints: a method's state, the step, the best result so far and every RNG state, saved atomically.

Restoring a checkpoint and running on gives the same random stream as a run that never stopped: the
python, numpy, torch CPU and all CUDA generators are saved with the sampler's generator.

Checkpoints hold tensors and plain python values only and load with ``torch.load(weights_only=True)``: a
file someone shares (``bench eval``, ``bench sample``, a resume) cannot run code; a file that needs more is
refused with a one-line ConfigError.
"""

from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import ConfigError, one_line
from bench.run_dir import atomic_write_bytes

FORMAT = 1
# what numpy arrays unpickle through; allowed so that checkpoints of older bench versions still load (an array
# of plain dtype runs no code; an object array's items go through the same weights-only unpickler)
_MULTIARRAY = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray  # numpy 2 | 1
_NUMPY_GLOBALS = [_MULTIARRAY._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]


@dataclass
class Checkpoint:
    """What ``checkpoints/{latest,best}.pt`` hold.

    Attributes:
        step: the iterations done (0 = after pretraining, before the first iteration).
        method: ``method.state_dict()`` (G, D, G_ema, optimizers, extra).
        best: the best evaluation so far, {"fid", "step", "protocol", "extractor"}, or None.
        rng: :func:`rng_state` with the sampler's ``state_dict()`` under ``"sampler"``.
        config_hash: the run's ``cfg.config_hash()``.
        pretrain: while the pretraining stage runs (step 0): ``{"epoch": passes done, "epochs": passes planned,
            "loader": the batches' generator state, "state": Method.pretrain_state(), "losses": the last pass's
            mean losses}``; None once it is over (and in every later checkpoint).
    """

    step: int
    method: dict[str, Any]
    best: dict[str, Any] | None = None
    rng: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""
    pretrain: dict[str, Any] | None = None

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        extra = {"pretrain": self.pretrain} if self.pretrain is not None else {}
        torch.save({"format": FORMAT, "step": self.step, "method": self.method, "best": self.best,
                    "rng": self.rng, "config_hash": self.config_hash, **extra}, buf)
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
        # weights_only: tensors and plain values only, so that a shared file cannot run code when loaded; the
        # numpy globals let checkpoints of older bench versions (numpy RNG state as an ndarray) load too
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):
            raw = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"no checkpoint at {path}") from None
    except pickle.UnpicklingError as err:
        found = re.search(r"(?:Unsupported global: |unsupported )GLOBAL (\S+)", str(err))  # torch's wordings
        what = f" ({found.group(1)})" if found else ""
        raise ConfigError(f"{path} holds objects besides tensors and plain values{what}; refusing to load it, "
                          "since unpickling it could run code (only checkpoints written by bench load)") from None
    except Exception as err:  # a truncated or foreign file
        raise ConfigError(f"{path} is not a readable checkpoint ({one_line(err)})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a bench checkpoint (format {FORMAT})")
    return Checkpoint(step=raw["step"], method=raw["method"], best=raw["best"], rng=raw["rng"],
                      config_hash=raw["config_hash"], pretrain=raw.get("pretrain"))
