"""What a run is built from its plan, shared by the training loop (``bench.run.loop``) and ``bench eval`` /
``bench sample`` (``bench.run.posthoc``): the device, the training data and its facts, the method, the evaluator, the
real-batch sampler."""

from __future__ import annotations

from typing import Any

import torch

from bench.config import RunConfig
from bench.datasets import load_dataset
from bench.datasets.base import ImageSet
from bench.datasets.samplers import make_sampler as make_index_sampler
from bench.errors import ConfigError
from bench.hardware import describe_cpu
from bench.methods.base import Method
from bench.metrics import METRICS_COLUMNS, PER_CLASS_COLUMNS, Evaluator
from bench.plan import RunPlan


def resolve_device(name: str, rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without CUDA is a ConfigError. On CUDA, rank r of a
    data-parallel run gets the r-th visible device."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device = 'cuda' but torch sees no CUDA device; use --device cpu or auto")
    if name == "cuda" and rank:
        if rank >= torch.cuda.device_count():
            raise ConfigError(f"nproc needs {rank + 1} CUDA devices, torch sees {torch.cuda.device_count()}")
        return torch.device("cuda", rank)
    return torch.device(name)


def data_info(train_set: ImageSet) -> dict[str, Any]:
    """The facts about the training data a run folder keeps in ``config.json`` (so sampling needs no data)."""
    return {"num_classes": train_set.num_classes, "class_names": list(train_set.class_names),
            "class_counts": train_set.class_counts, "channels": train_set.channels,
            "image_size": train_set.image_size}


def build_method(plan: RunPlan, data: dict[str, Any], device: torch.device, world: int = 1) -> Method:
    """The plan's method built for the data described by ``data`` (see :func:`data_info`), from the plan's resolved
    Hyper, backbone and g_cond (``RunPlan.method_config``); on one of ``world`` data-parallel ranks its G steps take
    ``batch_size / world`` fakes."""
    return plan.method_class()(plan.method_config(data, world), device)


def load_train_set(cfg: RunConfig) -> ImageSet:
    """The run's training split, resized and capped as the config says."""
    return load_dataset(cfg.dataset, split="train", image_size=cfg.image_size, channels=cfg.channels,
                        data_root=cfg.data_root, max_per_class=cfg.max_per_class)


def load_reference_set(cfg: RunConfig) -> ImageSet:
    """The run's balanced reference split (``split="test"``), resized as the config says."""
    return load_dataset(cfg.dataset, split="test", image_size=cfg.image_size, channels=cfg.channels,
                        data_root=cfg.data_root)


def make_evaluator(cfg: RunConfig, train_set: ImageSet, device: torch.device,
                   reference_set: ImageSet | None = None) -> Any:
    """The metrics evaluator of a run (``bench.metrics.Evaluator``), with the dataset's balanced reference split
    (loaded here unless given)."""
    return Evaluator(cfg, train_set, reference_set if reference_set is not None else load_reference_set(cfg), device)


def precision_recipe(cfg: RunConfig) -> dict[str, Any]:
    """How a run computes, for config.json's recipe: autocast dtype, memory format and the CPU's bf16 units (what
    the ``cpu`` and ``lab`` scales decide ``"auto"`` by, :mod:`bench.hardware`)."""
    return {"autocast": "bf16" if cfg.bf16 else "none (fp32)", "channels_last": cfg.channels_last,
            "cpu": describe_cpu()}


def metric_columns() -> tuple[list[str], list[str]]:
    """The column orders of metrics.csv and per_class.csv."""
    return list(METRICS_COLUMNS), list(PER_CLASS_COLUMNS)


def make_sampler(kind: str, labels: torch.Tensor, seed: int) -> Any:
    """The real-batch index sampler (``bench.datasets.samplers``)."""
    return make_index_sampler(kind, labels, seed)
