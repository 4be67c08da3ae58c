"""After training: ``bench eval`` (re-measure a checkpoint under any protocol) and ``bench sample`` (images
from a checkpoint). Both rebuild the method from the run plan the folder's ``config.json`` holds, as it trained
(``RunPlan.from_json``: nothing is resolved again, so a default changed since does not change the rebuilt nets).
Sampling needs no dataset: ``config.json`` describes the data."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

from bench.config import EVALUATION_KEYS
from bench.errors import ConfigError, check, closest
from bench.methods.base import Method
from bench.plan import RunPlan
from bench.run.checkpoint import Checkpoint, check_checkpoint_config, load_checkpoint, restore_method
from bench.run.folder import RunDir, append_rows, atomic_write_bytes, read_json
from bench.run.samples import class_grid, generate_uint8, grid_memory_bytes, png_bytes, to_pil
from bench.run.setup import (
    build_method,
    data_info,
    load_train_set,
    make_evaluator,
    metric_columns,
    resolve_device,
)

CHECKPOINTS = ("best", "latest")


def open_run(run_dir: Path) -> tuple[RunPlan, dict[str, Any]]:
    """The run plan and the data description (``num_classes``, ``class_names``, ``class_counts``, ``channels``,
    ``image_size``) saved in a run folder's config.json."""
    run = RunDir(Path(run_dir))
    check(run.config.exists(), f"{run.root} is not a run folder (it has no config.json)")
    saved = read_json(run.config)
    check("config" in saved and "data" in saved, f"{run.config} lacks the 'config' or 'data' entry")
    try:
        return RunPlan.from_json(saved, where=str(run.config)), saved["data"]
    except ConfigError as err:
        message = str(err)
        raise ConfigError(message if str(run.config) in message else f"{run.config}: {message}") from None


def load_run_method(run_dir: Path, checkpoint: str = "best", device: str = "auto", *,
                    allow_foreign: bool = False) -> tuple[RunPlan, dict[str, Any], Method, Checkpoint]:
    """Rebuild a run's method from its plan and ``checkpoints/<checkpoint>.pt``; returns (plan, data, method,
    checkpoint).

    A checkpoint whose config hash differs from config.json's (copied in from another run) is refused unless
    ``allow_foreign`` (``--allow-foreign-checkpoint``); one that does not fit the run's networks is refused
    naming the first mismatch (:func:`bench.run.checkpoint.restore_method`)."""
    check(checkpoint in CHECKPOINTS, f"checkpoint must be one of {', '.join(CHECKPOINTS)}, got {checkpoint!r}")
    plan, data = open_run(run_dir)
    run = RunDir(Path(run_dir))
    path = run.checkpoint(checkpoint)
    hint = ("the run has not evaluated yet; try --checkpoint latest" if run.checkpoint("latest").exists()
            else "the run has not reached its first checkpoint")
    check(path.exists(), f"{run.root} has no {checkpoint} checkpoint ({path} is missing: {hint})")
    torch_device = resolve_device(device)
    ckpt = load_checkpoint(path)
    try:
        check_checkpoint_config(ckpt, path, read_json(run.config).get("hash"), str(run.config))
    except ConfigError as err:
        if not allow_foreign:
            raise ConfigError(f"{err}; refusing to use it (--allow-foreign-checkpoint uses it anyway)") from None
        print(f"note: {err}; using it as --allow-foreign-checkpoint says", file=sys.stderr)
    method = build_method(plan, data, torch_device)
    restore_method(method, ckpt, path)
    return plan, data, method, ckpt


def eval_overrides(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``--set`` values of ``bench eval``, checked to be evaluation keys (``bench.config.EVALUATION_KEYS``: the
    option table's ``evaluation`` options); a ConfigError names a key that is not one, with the closest. Their
    values are checked by their rules when the measured config is made."""
    for key in overrides or {}:
        check(key in EVALUATION_KEYS, f"bench eval --set {key}: not an evaluation key"
                                      f"{closest(key, EVALUATION_KEYS)}; it takes {', '.join(EVALUATION_KEYS)}")
    return dict(overrides or {})


def evaluate_run(run_dir: Path, protocol: str, checkpoint: str = "best", extractor: str | None = None,
                 data_root: str | None = None, device: str = "auto", allow_foreign: bool = False,
                 overrides: dict[str, Any] | None = None) -> Any:
    """Evaluate a run's checkpoint under ``protocol`` and append the rows (source ``eval:<checkpoint>``) to
    its metrics.csv and per_class.csv.

    Args:
        run_dir: a run folder written by ``bench.run.launch.train``.
        protocol: ``paper``, ``standard`` or ``studiogan``.
        checkpoint: ``best`` or ``latest``.
        extractor: feature extractor; None = the one the run was evaluated with during training (its config's
            ``extractor``, itself None = the protocol's own), so an offline CPU run stays on ``classifier``.
        data_root: where the datasets live; None = the run's own setting.
        device: auto | cpu | cuda.
        allow_foreign: use a checkpoint written by a run of another config (another run's file copied in);
            refused by default, as the rows would describe another run.
        overrides: evaluation keys to change (``--set extractor=dinov2 dinov2_weights=/models/...pth``,
            ``num_eval_samples``, ``bootstrap``); ``bench.config.EVALUATION_KEYS``. ``extractor`` wins over it.

    Returns:
        The ``bench.metrics.EvalResult`` (``row``, ``per_class``).
    """
    overrides = eval_overrides(overrides)
    plan, data, method, ckpt = load_run_method(run_dir, checkpoint, device, allow_foreign=allow_foreign)
    saved = dataclasses.replace(plan.config, **overrides)  # measured as the plan says, but for what this command names
    cfg = dataclasses.replace(saved, protocols=[protocol], extractor=extractor or saved.extractor, device=device,
                              data_root=data_root if data_root is not None else saved.data_root)
    train_set = load_train_set(cfg)
    check(data_info(train_set)["class_counts"] == list(data["class_counts"]),
          f"the training data of {cfg.dataset!r} found now differ from those the run in {run_dir} was trained on "
          f"(class counts {data_info(train_set)['class_counts']} vs {data['class_counts']})")
    evaluator = make_evaluator(cfg, train_set, method.device)
    result = evaluator.evaluate(method, ckpt.step, protocol, source=f"eval:{checkpoint}")
    metrics_cols, per_class_cols = metric_columns()
    run = RunDir(Path(run_dir))
    append_rows(run.metrics, [result.row], metrics_cols)
    append_rows(run.per_class, list(result.per_class), per_class_cols)
    return result


def sample_run(run_dir: Path, per_class: int | None = None, out: Path | None = None, class_index: int | None = None,
               n: int = 64, out_dir: Path | None = None, checkpoint: str = "best", seed: int = 0,
               device: str = "auto", allow_foreign: bool = False) -> Path:
    """Write generated images from a run's checkpoint, without the dataset.

    Either ``out``: a grid picture with one row per class and ``per_class`` (default 8) samples in each row,
    labelled with class name and training count; or ``out_dir`` with ``class_index``: ``n`` single PNGs of
    that class, ``<class>_<i>.png``. Latents come from a generator seeded with ``seed``.

    Returns:
        The path written (``out`` or ``out_dir``).
    """
    check((out is None) != (out_dir is None), "give either --out (a grid image) or --out-dir (single images), "
          f"not {'both' if out is not None else 'neither'}")
    if out is not None:
        check(class_index is None, "--class goes with --out-dir (single images of one class), not with --out")
        check(per_class is None or per_class >= 1, f"--per-class must be >= 1, got {per_class}")
    else:
        check(per_class is None, "--per-class goes with --out (a grid image), not with --out-dir")
        check(class_index is not None, "--out-dir needs --class: the class whose images to write")
        check(n >= 1, f"--n must be >= 1, got {n}")
    _, data = open_run(run_dir)
    if out is not None:
        needed = grid_memory_bytes(data["num_classes"], per_class or 8, data["channels"], data["image_size"])
        what = (f"--per-class {per_class or 8}: a grid of {data['num_classes']} classes x {per_class or 8} samples "
                f"of {data['image_size']}x{data['image_size']} pixels")
        advice = "use a smaller --per-class, or write single images with --out-dir and --class"
    else:
        needed = n * (data["channels"] * data["image_size"] ** 2 + 4 * 1024)  # the images and their latents
        what = f"--n {n}: {n} images of {data['image_size']}x{data['image_size']} pixels"
        advice = "use a smaller --n"
    check_memory(needed, what, advice)
    _, data, method, _ = load_run_method(run_dir, checkpoint, device, allow_foreign=allow_foreign)
    num_classes = data["num_classes"]
    if out is not None:
        classes = torch.arange(num_classes)
        grid = class_grid(method, classes, data["class_names"], data["class_counts"], per_class or 8, seed)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        grid.save(out)
        return out
    check(0 <= class_index < num_classes,
          f"class {class_index} is out of range: the run has {num_classes} classes (0..{num_classes - 1})")
    images = generate_uint8(method, torch.full((n,), class_index, dtype=torch.long), seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = _safe_name(data["class_names"][class_index])
    for i, image in enumerate(images):  # one file per image
        atomic_write_bytes(out_dir / f"{class_index}-{name}_{i:04d}.png", png_bytes(to_pil(image)))
    return out_dir


def _safe_name(name: str, limit: int = 64) -> str:
    """A class name as part of a file name: letters, digits, ``-`` and ``_``, at most ``limit`` characters."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name))[:limit] or "class"


def available_memory_bytes() -> int | None:
    """The memory the system can give this process without swapping (Linux ``MemAvailable``); None where it
    cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(needed: int, what: str, advice: str) -> None:
    """A ConfigError before any work when ``needed`` bytes exceed the memory available (so the OOM killer never
    ends the command without a word); nothing where the available memory is unknown."""
    available = available_memory_bytes()
    if available is not None and needed > available:
        raise ConfigError(f"{what} would take about {_size(needed)} of memory, and {_size(available)} are "
                          f"available: {advice}")


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.1f} MiB"
