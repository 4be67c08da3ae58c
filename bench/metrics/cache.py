"""Where evaluation caches live, how their keys are made, and how they are written (atomically)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import re
from pathlib import Path
from typing import Any

import torch

from bench.atomic import atomic_write_bytes


def default_cache_root() -> Path:
    """The cache folder: ``$BENCH_CACHE`` if set, else ``~/.cache/ecogan-bench``."""
    env = os.environ.get("BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ecogan-bench"


SLUG_MAX = 48  # characters of a name inside a cache file's name (a file name may hold 255 bytes)


def slug(name: str, limit: int = SLUG_MAX) -> str:
    """A file-name-safe form of a name of at most ``limit`` characters (``folder:/a/b`` -> ``folder_a_b``).

    A longer one (a dataset at a deep path) becomes ``<kind>_<its last path component, cut>_<8 hex digits of the
    sha256 of the whole name>`` (``folder_my_set_1a2b3c4d``), so that a cache file's name stays short and two
    names never share one."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "unnamed"
    if len(text) <= limit:
        return text
    kind, sep, rest = name.partition(":")
    prefix = re.sub(r"[^A-Za-z0-9]+", "_", kind).strip("_")[:8] if sep else ""
    last = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(rest.rstrip("/\\") if sep else name)).strip("_.")
    hashed = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    last = last[:max(0, limit - len(prefix) - len(hashed) - 2)]
    return "_".join(part for part in (prefix, last, hashed) if part)


def digest(*parts: Any, length: int = 12) -> str:
    """Short sha256 hex digest of tensors (their dtype, shape and bytes) and other values (their repr)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            t = part.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()[:length]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def environment_key(device: torch.device | str) -> str:
    """What besides the inputs moves cached features or weights: the device type and the versions of torch,
    torchvision and torch-fidelity (``cuda-torch2.4.0+cu121-torchvision0.19.0-torch-fidelity0.3.0``).

    GPU and CPU kernels (and library upgrades) differ in the last bits and, for Inception, in resizing; a
    cache shared between machines must not hand one's numbers to the other.
    """
    # torch.__version__ keeps the build label (+cpu, +cu130) that the package metadata drops
    versions = f"torch{torch.__version__}-" + "-".join(f"{name}{_version(name)}" for name in ("torchvision",
                                                                                              "torch-fidelity"))
    return f"{torch.device(device).type}-{versions}"


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` through :func:`bench.atomic.atomic_write_bytes` (temporary file, then ``os.replace``;
    the umask's mode, so that a shared cache is shared as any other file; a WriteError naming the file)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(Path(path), buf.getbuffer())


def load_cached(path: Path) -> dict[str, Any] | None:
    """The dict saved at ``path``, or None when the file is missing or unreadable (then it is recomputed)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a corrupt or foreign file is a cache miss, not an error
        return None
