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
from bench.run.folder import atomic_write_bytes

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
        config_hash: the run plan's hash (``RunPlan.hash``).
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
    for key, kind, ok in _ENTRIES:
        value = raw.get(key)
        if not ok(value):
            raise ConfigError(f"{path} is not a checkpoint bench wrote: its {key!r} is {_shown(value)}, not {kind}")
    return Checkpoint(step=raw["step"], method=raw["method"], best=raw["best"], rng=raw["rng"],
                      config_hash=raw["config_hash"], pretrain=raw.get("pretrain"))


# what each entry of a checkpoint file must be: (key, in words, test)
_ENTRIES = (
    ("step", "a non-negative integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    ("method", "a dict of state dicts", lambda v: isinstance(v, dict)),
    ("best", "a dict or None", lambda v: v is None or isinstance(v, dict)),
    ("rng", "a dict of RNG states", lambda v: isinstance(v, dict)),
    ("config_hash", "a string", lambda v: isinstance(v, str)),
)


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict | list | torch.Tensor) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def check_checkpoint_config(ckpt: Checkpoint, path: Path, config_hash: str | None, config_source: str) -> None:
    """A ConfigError when ``ckpt`` was written by a run of another config than ``config_hash`` (the hash that
    ``config_source`` holds, e.g. a run folder's config.json): a checkpoint copied in from another run. A
    checkpoint or config without a hash (older versions) is not compared."""
    if ckpt.config_hash and config_hash and ckpt.config_hash != config_hash:
        raise ConfigError(f"{path} was written by a run of another config (hash {ckpt.config_hash}) than "
                          f"{config_source} (hash {config_hash}): it belongs to another run")


def restore_method(method: Any, ckpt: Checkpoint, path: Path) -> None:
    """Load ``ckpt.method`` into ``method`` (a bench Method); a ConfigError naming the file, the method's
    networks and the first mismatch (a network or key missing or extra, a tensor of another shape) when the
    checkpoint belongs to other networks (another method, backbone, width or dataset)."""
    networks = f"this run's {getattr(method, 'name', type(method).__name__)} networks " \
               f"({', '.join([*method.modules(), *method.optimizers()])})"
    mismatch = first_state_mismatch(method, ckpt.method)
    if mismatch is None:
        try:
            method.load_state_dict(ckpt.method)
            return
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
            mismatch = one_line(err)
    raise ConfigError(f"{path} does not fit {networks}: {mismatch}")


def first_state_mismatch(method: Any, state: dict[str, Any]) -> str | None:
    """The first difference between a checkpoint's ``state`` and ``method.state_dict()`` in words: a network or
    optimizer missing, a key missing or extra, a value that is not a tensor, a tensor (or an optimizer's moment
    of a parameter) of another shape; None when every network fits."""
    for name, module in method.modules().items():
        if not isinstance(state.get(name), dict):
            return _absent(name, state)
        saved, own = state[name], module.state_dict()
        missing, extra = [k for k in own if k not in saved], [k for k in saved if k not in own]
        if missing or extra:
            which = f"{name}.{missing[0]} is missing" if missing else f"{name}.{extra[0]} is not one of {name}'s"
            return f"{which} ({len(missing)} key(s) missing, {len(extra)} extra)"
        for key, tensor in own.items():
            if not isinstance(saved[key], torch.Tensor):
                return f"{name}.{key} is {_shown(saved[key])}, not a tensor"
            if saved[key].shape != tensor.shape:
                return (f"{name}.{key} has shape {tuple(saved[key].shape)} in the file, {tuple(tensor.shape)} in "
                        f"this run's networks")
    for name, optimizer in method.optimizers().items():
        if not isinstance(state.get(name), dict):
            return _absent(name, state)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        moments = state[name].get("state")
        for index, entries in (moments.items() if isinstance(moments, dict) else ()):
            if not (isinstance(index, int) and 0 <= index < len(params) and isinstance(entries, dict)):
                return f"{name} holds the state of a parameter {index!r} that this run's optimizer lacks"
            for key, value in entries.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != params[index].shape:
                    return (f"{name}'s {key} of parameter {index} has shape {tuple(value.shape)} in the file, "
                            f"{tuple(params[index].shape)} in this run's networks")
    return None


def _absent(name: str, state: dict[str, Any]) -> str:
    held = ", ".join(str(k) for k in state) or "nothing"
    return f"it holds no {name} state dict (it holds {held})"
