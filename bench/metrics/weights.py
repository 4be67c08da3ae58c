"""Finding the extractors' weights files (the two Inceptions, DINOv2): a config key, an environment variable, the
torch hub cache, a download.

Resolution order for each extractor (first hit wins):

1. the file named by the run's config key (``inception_weights``, ``tv_inception_weights`` or ``dinov2_weights``);
2. the file named by the extractor's environment variable (``BENCH_INCEPTION_WEIGHTS``,
   ``BENCH_TV_INCEPTION_WEIGHTS`` or ``BENCH_DINOV2_WEIGHTS``); a config key or variable that names a missing file
   is an error (never a silent fallback);
3. ``$TORCH_HOME/hub/checkpoints/<file>`` (``TORCH_HOME`` defaults to ``~/.cache/torch``), where torch and
   torch-fidelity keep downloads;
4. a download from the file's URL into that cache folder, checked against the sha256 prefix in the file's
   name where it has one (DINOv2's file has none: torch hub does not check it either), with a
   :data:`DOWNLOAD_TIMEOUT_S` socket timeout (a network that drops traffic fails instead of hanging).
   ``BENCH_OFFLINE=1`` skips it. When it fails or is skipped, a :class:`DataNotFoundError` names the file, the
   URL and the places to put it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.errors import DataNotFoundError

OFFLINE_ENV = "BENCH_OFFLINE"
DOWNLOAD_TIMEOUT_S = 30.0  # seconds per blocking socket operation (connect, read) of a download


@dataclass(frozen=True)
class WeightsFile:
    """A weights file an extractor needs: its hub-cache name, URL, sha256 prefix, env variable and config key."""

    extractor: str
    filename: str
    url: str
    sha256_prefix: str | None  # torch hub convention: the file name ends in the first hex digits of its sha256
    env_var: str
    config_key: str  # the RunConfig field naming the file


INCEPTION_V3_COMPAT = WeightsFile(
    extractor="inception-v3-compat",
    filename="weights-inception-2015-12-05-6726825d.pth",
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    sha256_prefix="6726825d",
    env_var="BENCH_INCEPTION_WEIGHTS",
    config_key="inception_weights",
)
TORCHVISION_INCEPTION = WeightsFile(
    extractor="torchvision-inception",
    filename="inception_v3_google-0cc3c7bd.pth",
    url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    sha256_prefix="0cc3c7bd",
    env_var="BENCH_TV_INCEPTION_WEIGHTS",
    config_key="tv_inception_weights",
)
DINOV2_VITL14 = WeightsFile(
    extractor="dinov2",
    filename="dinov2_vitl14_pretrain.pth",
    url="https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
    sha256_prefix=None,  # the official file name carries no hash
    env_var="BENCH_DINOV2_WEIGHTS",
    config_key="dinov2_weights",
)
WEIGHTS_FILES = {spec.extractor: spec for spec in (INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION, DINOV2_VITL14)}


def hub_checkpoint_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` as torch resolves it now (reads the environment on every call)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def offline() -> bool:
    """True when ``$BENCH_OFFLINE`` is set to anything but empty, ``0``, ``false`` or ``no``."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def download(url: str, dst: Path, hash_prefix: str | None = None) -> None:
    """Fetch ``url`` into ``dst`` (the only network access of bench.metrics; tests replace it).

    torch writes to a temporary file and moves it to ``dst`` only when its sha256 starts with ``hash_prefix``,
    so a truncated or wrong file never lands in the cache. The process-wide socket timeout is set to
    :data:`DOWNLOAD_TIMEOUT_S` for the call (``download_url_to_file`` has no timeout of its own) and restored.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(url, str(dst), hash_prefix=hash_prefix, progress=False)
    finally:
        socket.setdefaulttimeout(previous)


def resolve_weights(spec: WeightsFile, configured: str | Path | None = None) -> Path:
    """The local path of ``spec``'s weights, downloading it into the hub cache if needed.

    Args:
        spec: which weights file.
        configured: the run config's value of ``spec.config_key`` (None = not set).

    Raises:
        DataNotFoundError: the config key or env variable names a missing file, or the file is absent and
            cannot (or, with ``BENCH_OFFLINE=1``, may not) be downloaded.
    """
    cached = hub_checkpoint_dir() / spec.filename
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise DataNotFoundError(f"config key {spec.config_key} = {str(configured)!r} does not exist: point it "
                                    f"at {spec.filename} (from {spec.url}) or unset it to use ${spec.env_var} "
                                    f"or {cached}")
        return path
    env = os.environ.get(spec.env_var)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise DataNotFoundError(f"{spec.env_var}={env} does not exist: point it at {spec.filename} "
                                    f"(from {spec.url}) or unset it to use {cached}")
        return path
    if cached.is_file():
        return cached
    advice = (f"put the file at {cached}, set {spec.env_var}=/path/to/{spec.filename} or the config key "
              f"{spec.config_key}")
    if offline():
        raise DataNotFoundError(f"{spec.extractor} weights {spec.filename} not found and {OFFLINE_ENV} is set, so "
                                f"it was not downloaded from {spec.url}; {advice}")
    try:
        download(spec.url, cached, hash_prefix=spec.sha256_prefix)
    except Exception as err:  # no network, timeout, proxy, disk, wrong hash: all end in the same advice
        raise DataNotFoundError(
            f"{spec.extractor} weights {spec.filename} not found and could not be downloaded from {spec.url} "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'}); {advice}") from err
    return cached
