"""What drives the demo generators into one image per class? One factor at a time, one seed, with the collapse
metrics: each variant is one ``bench run``-equivalent cell at the cpu scale (digits_lt at 16 x 16, 1,500 D updates),
trained through bench's own loop; the table gives each variant's best evaluation (the lowest FID among evaluations
that are not collapsed) and its last one: FID (random-cnn features), coverage, diversity (mean and worst class),
conditional accuracy, label sensitivity and the verdict.

The base is the demo's ECOGAN cell (g_cond concat, n_dis 2, the paper's Hyper otherwise). Variants change one thing:

    image_size 32        dcgan64 at 32 x 32 (three stages) instead of 16 x 16 (two): the backbone's size
    batch 64 / 128       the real and fake batch (the D-update budget stays 1,500)
    no G BatchNorm       every BatchNorm2d of G replaced by the identity
    lr 1e-4, TTUR        lr_g = lr_d = 1e-4; lr_g 1e-4 with lr_d 4e-4
    betas (0, 0.9)       Adam β1 = 0
    n_dis 1 / 5          D steps per G step
    g_cond scale / cbn   how the class enters G
    λ 0                  no conditional term (D's logit is label-free; G still gets the class)
    unconditional        λ 0 and G's class embedding zeroed: a plain GAN on the same data (the control; its
                         "classes" are arbitrary, so read its overall coverage and FID)
    BAGAN                the demo's BAGAN recipe, for contrast

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/collapse_factors.py --out /tmp/factors [--only base,n_dis5]

Run it alone on the machine; each variant takes about a minute on 2 cores. Variants already finished in ``--out``
are skipped (bench's own resume), so an interrupted study continues.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import bench.run.loop as loop
from bench.metrics.collapse import selection_key
from bench.plan import make_plan
from bench.run.launch import train

BASE = {"dataset": "digits_lt", "method": "ecogan", "g_cond": "concat", "method_options": {"n_dis": 2}}


def variant(cell_changes: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
            patch: str | None = None) -> dict[str, Any]:
    cell = {**BASE, **(cell_changes or {})}
    cell["method_options"] = {**BASE["method_options"], **(options or {})}
    return {"cell": cell, "patch": patch}


VARIANTS = {
    "base": variant(),
    "image_size32": variant({"image_size": 32}),
    "batch64": variant({"batch_size": 64}),
    "batch128": variant({"batch_size": 128}),
    "no_g_batchnorm": variant(patch="no_g_batchnorm"),
    "lr1e-4": variant(options={"lr_g": 1e-4, "lr_d": 1e-4}),
    "ttur": variant(options={"lr_g": 1e-4, "lr_d": 4e-4}),
    "beta1_0": variant(options={"betas": [0.0, 0.9]}),
    "n_dis1": variant(options={"n_dis": 1}),
    "n_dis5": variant(options={"n_dis": 5}),
    "g_scale": variant({"g_cond": "scale"}),
    "g_cbn": variant({"g_cond": "cbn"}),
    "lambda0": variant(options={"cond_lambda": 0.0}),
    "unconditional": variant(options={"cond_lambda": 0.0}, patch="unconditional"),
    "bagan": {"cell": {"dataset": "digits_lt", "method": "bagan", "quirks": "fixed",
                       "method_options": {"lr_g": 3e-4, "lr_d": 3e-4, "pretrain_lr": 2e-4}}, "patch": None},
}


def without_batchnorm(module: nn.Module) -> None:
    """Replace every BatchNorm2d inside ``module`` by the identity (in place)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.Identity())
        else:
            without_batchnorm(child)


def patched_builder(patch: str | None):
    """``bench.run.loop.build_method`` with the study's change applied to the built method's generators."""
    build = loop.build_method

    def builder(*args: Any, **kwargs: Any):
        method = build(*args, **kwargs)
        for g in {id(m): m for m in (method.G, getattr(method, "G_ema", None)) if m is not None}.values():
            if patch == "no_g_batchnorm":
                without_batchnorm(g)
            elif patch == "unconditional":
                g.embedding.weight.data.zero_()
                g.embedding.weight.requires_grad_(False)
        return method

    return builder if patch else build


def best_and_last(run: Path) -> tuple[dict[str, float], dict[str, float]]:
    rows = [r for r in csv.DictReader((run / "metrics.csv").open()) if r["protocol"] == "standard"]
    value = lambda r, k: float(r[k]) if r.get(k) not in (None, "") else math.nan  # noqa: E731
    numbers = [{k: value(r, k) for k in ("step", "fid", "coverage", "density", "diversity", "diversity_min",
                                          "cond_acc", "judge_acc", "label_sens", "collapsed")} for r in rows]
    best = min(numbers, key=lambda r: selection_key(r["fid"], r["collapsed"] == 1))
    return best, numbers[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(VARIANTS)
    build = loop.build_method
    for name in names:
        spec = VARIANTS[name]
        plan = make_plan({**spec["cell"], "seed": args.seed, "grid": "collapse-factors"}, scale="cpu")
        loop.build_method = patched_builder(spec["patch"])
        start = time.perf_counter()
        try:
            outcome = train(plan, args.out / name, progress=False)
        finally:
            loop.build_method = build
        print(f"{name}: {outcome.status} in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    print(f"\n{'variant':<16} {'which':<5} {'step':>5} {'FID':>7} {'cover':>6} {'dens':>5} {'divers':>6} {'min':>5} "
          f"{'acc':>5} {'l.sens':>6} verdict   (standard protocol, random-cnn features; seed {args.seed}, "
          f"{torch.get_num_threads()} threads)")
    for name in names:
        if not (args.out / name / "metrics.csv").exists():
            continue
        for which, r in zip(("best", "last"), best_and_last(args.out / name), strict=True):
            print(f"{name if which == 'best' else '':<16} {which:<5} {r['step']:>5.0f} {r['fid']:>7.2f} "
                  f"{r['coverage']:>6.3f} {r['density']:>5.2f} {r['diversity']:>6.2f} {r['diversity_min']:>5.2f} "
                  f"{r['cond_acc']:>5.2f} {r['label_sens']:>6.2f} {'COLLAPSED' if r['collapsed'] == 1 else 'healthy'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
