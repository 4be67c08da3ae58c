"""Finding the Inception weights files offline: an environment variable, the torch hub cache, a download.

Resolution order for each extractor (first hit wins):

1. the file named by the extractor's environment variable (``BENCH_INCEPTION_WEIGHTS`` or
   ``BENCH_TV_INCEPTION_WEIGHTS``); set but missing is an error (never a silent fallback);
2. ``$TORCH_HOME/hub/checkpoints/<file>`` (``TORCH_HOME`` defaults to ``~/.cache/torch``), where torch and
   torch-fidelity keep downloads;
3. a download from the file's URL into that cache folder; when that fails (no network) a
   :class:`DataNotFoundError` names the file, the URL and both places to put it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.errors import DataNotFoundError


@dataclass(frozen=True)
class WeightsFile:
    """A weights file an extractor needs: its name in the hub cache, where it comes from, its env variable."""

    extractor: str
    filename: str
    url: str
    env_var: str


INCEPTION_V3_COMPAT = WeightsFile(
    extractor="inception-v3-compat",
    filename="weights-inception-2015-12-05-6726825d.pth",
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    env_var="BENCH_INCEPTION_WEIGHTS",
)
TORCHVISION_INCEPTION = WeightsFile(
    extractor="torchvision-inception",
    filename="inception_v3_google-0cc3c7bd.pth",
    url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    env_var="BENCH_TV_INCEPTION_WEIGHTS",
)


def hub_checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` as torch resolves it now (reads the environment on every call)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def download(url: str, dst: Path) -> None:
    """Fetch ``url`` into ``dst`` (the only network access of bench.metrics; tests replace it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(dst), progress=False)


def resolve_weights(spec: WeightsFile) -> Path:
    """The local path of ``spec``'s weights, downloading it into the hub cache if needed.

    Raises:
        DataNotFoundError: the env variable names a missing file, or the file is absent and cannot be downloaded.
    """
    env = os.environ.get(spec.env_var)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise DataNotFoundError(f"{spec.env_var}={env} does not exist: point it at {spec.filename} "
                                    f"(from {spec.url}) or unset it to use {hub_checkpoint_dir() / spec.filename}")
        return path
    cached = hub_checkpoint_dir() / spec.filename
    if cached.is_file():
        return cached
    try:
        download(spec.url, cached)
    except Exception as err:  # no network, proxy, disk: all end in the same advice
        raise DataNotFoundError(
            f"{spec.extractor} weights {spec.filename} not found and could not be downloaded from {spec.url} "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}); put the file at "
            f"{cached} or set {spec.env_var}=/path/to/{spec.filename}") from err
    return cached
