"""Write a realistic, small results tree for report tests: grid.json, the tidy CSV (as ``bench gather`` writes it)
and run folders (config.json, status.json, metrics.csv, per_class.csv, samples/step-<N>.png).

The numbers are synthetic but shaped like training: FID falls then rises again, so the best step is inside the
run. ``Fixture.rows`` keeps every metrics row written, so that tests compute their expectations from it on
their own (plain Python), independently of the report's pandas code.
"""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from bench.results import gather_speed

METRICS_COLUMNS = ["step", "source", "protocol", "extractor", "reference", "label_mix", "n_real", "n_fake", "fid",
                   "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "ifid_mean", "fid_head",
                   "fid_tail", "cond_acc", "judge_acc", "d_acc_real", "d_acc_fake", "label_sens", "fid_lo",
                   "fid_hi", "fid_head_lo", "fid_head_hi", "fid_tail_lo", "fid_tail_hi", "fid_half_a", "fid_half_b",
                   "density", "coverage", "diversity", "diversity_min", "collapsed_classes", "collapsed",
                   "ifid_rare10", "ifid_rare20", "ikid_rare10", "ikid_rare20"]
PER_CLASS_COLUMNS = ["step", "source", "protocol", "extractor", "class", "class_name", "train_count", "n_real",
                     "n_fake", "fid", "cond_acc", "kid"]
TIDY_COLUMNS = ["grid", "cell", "label", "dataset", "method", "sampling", "seed", "quirks", "scale", "backbone",
                "g_cond", "options", "step", "source", "protocol", "extractor", "reference", "label_mix", "metric",
                "value"]
PROTOCOL_INFO = {"paper": ("train-lt", "train-histogram"), "standard": ("test-balanced", "uniform"),
                 "studiogan": ("train-lt", "uniform")}


@dataclass
class CellSpec:
    """One grid cell of the fixture and what its run folder holds."""

    id: str
    label: str
    axes: dict
    paper: dict | None = None
    steps: tuple[int, ...] = (100, 200, 300, 400)
    state: str = "done"
    run_folder: bool = True  # False: the cell is only in grid.json
    metrics: bool = True  # False: a run folder with headers only (a run that has not evaluated yet)
    gathered: bool = True  # False: metrics.csv has rows that the tidy CSV lacks
    error: str | None = None
    fid_base: float | None = None  # the FID curve's floor (default: set by the cell's position)
    collapsed_steps: tuple[int, ...] | None = None  # steps whose evaluation is collapsed; None = no verdict (NaN)
    cond_acc: float | None = None  # the standard protocol's conditional accuracy at every step (default: random)
    external: dict | None = None  # another harness's published numbers (grid.json's "external")


@dataclass
class Fixture:
    root: Path  # the results root
    key: str
    grid: str
    rows: dict[str, list[dict]] = field(default_factory=dict)  # cell id -> metrics.csv rows written
    per_class: dict[str, list[dict]] = field(default_factory=dict)  # cell id -> per_class.csv rows written
    class_counts: list[int] = field(default_factory=list)


def ecogan_counts(num_classes: int, head: int = 2000) -> list[int]:
    """The paper's long-tail rule at a small size: class 0 whole, class c keeps 100·c images."""
    return [head] + [100 * c for c in range(1, num_classes)]


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Rows as the run folder writes them (a float as its repr: NaN is "nan")."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def sample_png(path: Path, num_classes: int, step: int, rng: random.Random) -> None:
    """A small fixed-z-like grid: one row of 6 coloured tiles per class, with a label strip."""
    tile, per_row = 8, 6
    image = Image.new("RGB", (24 + tile * per_row, tile * num_classes), "white")
    draw = ImageDraw.Draw(image)
    for c in range(num_classes):
        draw.rectangle([0, c * tile, 22, c * tile + tile - 1], fill=(230, 230, 230))
        for j in range(per_row):
            color = tuple(rng.randrange(40, 230) for _ in range(3))
            draw.rectangle([24 + j * tile, c * tile, 24 + j * tile + tile - 1, c * tile + tile - 1], fill=color)
    draw.text((1, 0), str(step), fill=(0, 0, 0))
    image.save(path)


def metric_rows(index: int, spec: CellSpec, protocols: tuple[str, ...], extractor: str,
                counts: list[int]) -> tuple[list[dict], list[dict]]:
    """Synthetic metrics.csv and per_class.csv rows of one run: a U-shaped FID curve per protocol."""
    rng = random.Random(1000 + index)
    rows, per_class = [], []
    last = max(spec.steps)
    for p_index, protocol in enumerate(protocols):
        reference, label_mix = PROTOCOL_INFO[protocol]
        floor = 40.0 + 7.0 * index if spec.fid_base is None else spec.fid_base
        base, dip = floor + 5.0 * p_index, rng.uniform(0.35, 0.75)
        for step in spec.steps:
            fid = round(base + 60.0 * (step / last - dip) ** 2 + rng.uniform(0, 3), 4)
            row = {"step": step, "source": "train", "protocol": protocol, "extractor": extractor,
                   "reference": reference, "label_mix": label_mix, "n_real": 500, "n_fake": 500, "fid": fid,
                   "is_mean": round(2.0 + step / last + rng.uniform(0, 0.5), 4), "is_std": round(rng.uniform(0, .1), 4)}
            standard = protocol in ("standard", "studiogan")  # the protocols with the detail metrics
            # a bootstrap interval around the value, and the two reference halves a little above it (fewer reals)
            row.update(fid_lo=round(fid - 2.0, 4), fid_hi=round(fid + 1.5, 4),
                       fid_half_a=round(fid + rng.uniform(1, 4), 4), fid_half_b=round(fid + rng.uniform(1, 4), 4))
            for name, value in [("kid_mean", fid / 2000), ("kid_std", 0.001), ("precision", rng.uniform(.3, .8)),
                                ("recall", rng.uniform(.1, .6)), ("ifid_mean", fid * 1.5), ("fid_head", fid * 0.8),
                                ("fid_tail", fid * 1.9), ("cond_acc", rng.uniform(0.2, 0.9)), ("judge_acc", 0.75),
                                ("d_acc_real", rng.uniform(.5, .9)), ("d_acc_fake", rng.uniform(.2, .9)),
                                ("label_sens", rng.uniform(.1, 3)), ("fid_head_lo", fid * 0.8 - 2),
                                ("fid_head_hi", fid * 0.8 + 2), ("fid_tail_lo", fid * 1.9 - 4),
                                ("fid_tail_hi", fid * 1.9 + 4), ("ifid_rare10", fid * 2.6),
                                ("ifid_rare20", fid * 2.3), ("ikid_rare10", fid / 400), ("ikid_rare20", fid / 500)]:
                row[name] = round(value, 5) if standard else math.nan
            if spec.cond_acc is not None and standard:
                row["cond_acc"] = spec.cond_acc
            collapsed = spec.collapsed_steps is not None and step in spec.collapsed_steps
            health = ((0.1, 0.05, 0.9, 10, 1) if collapsed else (0.9, 0.6, 0.7, 0, 0)) \
                if spec.collapsed_steps is not None else (math.nan,) * 5
            row.update(zip(("diversity", "coverage", "density", "collapsed_classes", "collapsed"), health, strict=True))
            row["diversity_min"] = health[0]
            rows.append(row)
            for c, count in enumerate(counts):
                per_class.append({"step": step, "source": "train", "protocol": protocol, "extractor": extractor,
                                  "class": c, "class_name": f"class {c}", "train_count": count, "n_real": 50,
                                  "n_fake": 50, "fid": round(fid * (1 + 300 / count) + rng.uniform(0, 2), 4),
                                  "cond_acc": round(min(1.0, 0.2 + count / 1500 + rng.uniform(0, .1)), 4),
                                  "kid": round(fid / 2000 * (1 + 300 / count), 5)})
    return rows, per_class


def write_results(root: Path, grid: str, cells: list[CellSpec], *, key: str | None = None, scale: str = "cpu",
                  protocols: tuple[str, ...] = ("paper", "standard"), extractor: str = "classifier",
                  num_classes: int = 10, description: str = "", write_csv_file: bool = True,
                  claims: list[dict] | None = None) -> Fixture:
    """Write the whole results tree under ``root`` and return what was written."""
    key = key or grid
    counts = ecogan_counts(num_classes)
    fixture = Fixture(root=root, key=key, grid=grid, class_counts=counts)
    grid_dir = root / key
    grid_dir.mkdir(parents=True, exist_ok=True)
    grid_json = {"grid": grid, "scale": scale, "key": key, "description": description, "protocols": list(protocols),
                 "cells": [{"id": c.id, "label": c.label, "axes": c.axes, "paper": c.paper}
                           | ({"external": c.external} if c.external else {}) for c in cells],
                 "claims": claims or []}
    (grid_dir / "grid.json").write_text(json.dumps(grid_json, indent=2))
    tidy = []
    for index, spec in enumerate(cells):
        if not spec.run_folder:
            continue
        run = grid_dir / spec.id
        (run / "samples").mkdir(parents=True, exist_ok=True)
        axes = spec.axes
        config = {"grid": grid, "dataset": axes["dataset"], "method": axes["method"], "sampling": axes["sampling"],
                  "seed": axes["seed"], "quirks": axes["quirks"], "scale": scale, "backbone": axes.get("backbone"),
                  "steps": max(spec.steps), "protocols": list(protocols), "method_options": axes["method_options"]}
        balanced = not axes["dataset"].endswith("_lt")
        run_counts = [counts[0]] * num_classes if balanced else counts
        (run / "config.json").write_text(json.dumps({
            "config": config, "hash": f"{index:016x}",
            "versions": {"torch": "2.14.1", "torchvision": "0.29.1", "torch_fidelity": "0.4.0", "python": "3.11.2",
                         "bench": "0.1.0"},
            "git_commit": "0123abc",
            "data": {"num_classes": num_classes, "class_names": [f"class {c}" for c in range(num_classes)],
                     "class_counts": run_counts, "channels": 3, "image_size": 32},
            "recipe": {"backbone": axes.get("backbone") or "dcgan64", "g_cond": axes.get("g_cond") or "scale",
                       "n_dis": 5, "adv_loss": "bce", "gp_weight": 10.0, "hyper": {"lr_g": 2e-4, "lr_d": 2e-4},
                       "steps": max(spec.steps), "d_updates": 5 * max(spec.steps)}}))
        rows, per_class = metric_rows(index, spec, protocols, extractor, run_counts) if spec.metrics else ([], [])
        step = max(spec.steps) if spec.state == "done" else (rows[-1]["step"] if rows else 20)
        best = min(rows, key=lambda r: (r.get("collapsed") == 1, r["fid"])) if rows else None
        (run / "status.json").write_text(json.dumps({
            "state": spec.state, "step": step, "steps": max(spec.steps), "error": spec.error,
            "best": {k: best[k] for k in ("fid", "step", "protocol", "extractor")} if best else None,
            "updated": "2026-01-01T00:00:00+00:00"}))
        (run / "speed.json").write_text(json.dumps(speed_record(index, max(spec.steps))))
        write_csv(run / "metrics.csv", METRICS_COLUMNS, rows)
        write_csv(run / "per_class.csv", PER_CLASS_COLUMNS, per_class)
        rng = random.Random(index)
        for s in sorted({r["step"] for r in rows}):
            sample_png(run / "samples" / f"step-{s}.png", num_classes, s, rng)
        fixture.rows[spec.id] = rows
        fixture.per_class[spec.id] = per_class
        if not spec.gathered:
            continue
        ident = {"grid": grid, "cell": spec.id, "label": spec.label, "dataset": axes["dataset"],
                 "method": axes["method"], "sampling": axes["sampling"], "seed": axes["seed"],
                 "quirks": axes["quirks"], "scale": scale, "backbone": axes.get("backbone") or "",
                 "g_cond": axes.get("g_cond") or "", "options": json.dumps(axes["method_options"])}
        for row in rows:
            evaluation = {k: row[k] for k in ("step", "source", "protocol", "extractor", "reference", "label_mix")}
            # like `bench gather`: every metric metrics.csv holds, "nan" included
            tidy += [{**ident, **evaluation, "metric": m, "value": row[m]} for m in METRICS_COLUMNS[6:]]
    if write_csv_file:
        write_csv(root / f"{key}.csv", TIDY_COLUMNS, tidy)
        gather_speed(grid_dir, key, root, {c.id: c.label for c in cells})  # as `bench gather` writes it
    return fixture


def speed_record(index: int, steps: int) -> dict:
    """A run's speed.json as bench.speed writes it (made-up seconds on a made-up machine)."""
    phases = {"data": 1.5, "judge": 20.0 if index == 0 else 0.0, "reference": 4.0 if index == 0 else 0.1,
              "pretraining": 30.0 * (index % 2), "training": 60.0 + index, "evaluation": 9.0}
    return {"device": "cpu: Test CPU", "dtype": "float32", "threads": 2, "phases": phases,
            "train": {"iterations": steps, "seconds": phases["training"], "s_per_iteration": phases["training"] / steps,
                      "images_per_s": steps * 5 * 32 / phases["training"], "batch_size": 32,
                      "d_steps_per_iteration": 5},
            "peak_rss_mb": 812.0, "cuda_peak_mb": None, "attempts": 1}


def axes(dataset: str, method: str, sampling: str = "none", seed: int = 0, **options) -> dict:
    """A cell's axes as grid.json writes them."""
    return {"dataset": dataset, "method": method, "sampling": sampling, "seed": seed, "quirks": "paper",
            "backbone": None, "method_options": options}


def paper(fid: float, is_: float, best_step: int, step_unit: str = "batches", selection: str = "min_fid",
          note: str | None = None) -> dict:
    """A cell's paper numbers as grid.json writes them; upstream's Lightning "batches" are 6 per iteration."""
    numbers = {"fid": fid, "is": is_, "best_step": best_step, "step_unit": step_unit, "selection": selection,
               "source": "README"}
    if step_unit == "batches":
        numbers["best_iteration"] = best_step // 6
    if note:
        numbers["note"] = note
    return numbers


def table3_cells() -> list[CellSpec]:
    """A subset of the table3 grid: FashionMNIST_LT (BAGAN, EBGAN pre/no-pre, ECOGAN ± sampling with two seeds)
    and CIFAR10_LT (ECOGAN with sampling); one cell without a run folder and one still running without metrics."""
    f, c = "fashion_mnist_lt", "cifar10_lt"
    return [
        CellSpec("bagan-fmnist-s0", "BAGAN FashionMNIST_LT", axes(f, "bagan"), paper(92.61, 2.81, 64000, "iterations")),
        CellSpec("ebgan-fmnist-pre-s0", "EBGAN FashionMNIST_LT pre", axes(f, "ebgan", pretrained=True),
                 paper(27.40, 2.43, 120000)),
        CellSpec("ebgan-fmnist-nopre-s0", "EBGAN FashionMNIST_LT no pre", axes(f, "ebgan", pretrained=False),
                 paper(30.10, 2.38, 150000), run_folder=False),
        CellSpec("ecogan-fmnist-s0", "ECOGAN FashionMNIST_LT", axes(f, "ecogan"), paper(32.91, 2.91, 126000)),
        CellSpec("ecogan-fmnist-bal-s0", "ECOGAN FashionMNIST_LT sampling s0", axes(f, "ecogan", "balanced", 0),
                 paper(20.02, 2.63, 120000)),
        CellSpec("ecogan-fmnist-bal-s1", "ECOGAN FashionMNIST_LT sampling s1", axes(f, "ecogan", "balanced", 1),
                 paper(20.02, 2.63, 120000)),
        CellSpec("ecogan-cifar-bal-s0", "ECOGAN CIFAR10_LT sampling", axes(c, "ecogan", "balanced"),
                 paper(43.79, 2.74, 138000)),
        CellSpec("bagan-cifar-s0", "BAGAN CIFAR10_LT", axes(c, "bagan"), paper(125.77, 2.14, 76000, "iterations"),
                 state="running", metrics=False),
    ]
