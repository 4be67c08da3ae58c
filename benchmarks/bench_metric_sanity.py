"""The metric sanity suite on any dataset: the oracle generators of ``tests/metrics/oracles.py`` (real, one image per
class, three, wrong class, class mean, noise, noisy real, blurred real) through ``Evaluator.evaluate`` (standard
protocol), with the label-free ``random-cnn`` features and with the judge's ``classifier`` features, each oracle's
numbers in a table, then every ordering of the suite checked on both (holds / FAILS).

CI runs the suite on digits (tests/metrics/test_metric_sanity.py); this script runs it on real natural images, e.g.
the shared CIFAR-10 copy (JPEG class folders) at the lab scale's 32 x 32 and 2,000 evaluation images:

    .venv/bin/python benchmarks/bench_metric_sanity.py --data /path/cifar10-jpeg --size 32 --samples 2000

``--data`` is a folder with ``train/<class>/`` and ``test/<class>/`` (class folders in label order); the oracles draw
from its train split (``--pool`` images per class), the reference is its test split. Without ``--data``: digits at
16 x 16. Caches go to a temporary folder unless ``--cache`` is given.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from metrics.oracles import (  # noqa: E402  (the suite's building blocks live with the tests)
    COLLAPSED,
    ORACLES,
    accuracy_catches_wrong_class,
    collapsed_below_diverse,
    evaluate_oracles,
    flag_separates,
    headline_ranks_real_first,
)

from bench.datasets import load_dataset  # noqa: E402
from bench.datasets.base import ImageSet  # noqa: E402
from bench.datasets.decode import decode_image_files  # noqa: E402
from bench.datasets.sources import digits  # noqa: E402

COLUMNS = ("fid", "precision", "recall", "density", "coverage", "diversity", "diversity_min", "cond_acc",
           "collapsed", "collapsed_classes")


def folder_split(root: Path, split: str, size: int, per_class: int | None) -> ImageSet:
    """A split of a class-folder copy (class folders sorted by name = label order), resized."""
    folders = sorted(p for p in (root / split).iterdir() if p.is_dir())
    images, labels = [], []
    for label, folder in enumerate(folders):
        files = sorted(folder.iterdir())[:per_class]
        images.append(decode_image_files(files, size, 3))
        labels.append(torch.full((len(files),), label, dtype=torch.long))
    return ImageSet(root.name, split, torch.cat(images), torch.cat(labels), len(folders), [p.name for p in folders])


def checks(rows: dict[str, dict[str, float]]) -> dict[str, bool]:
    """Each ordering of the suite on these rows: held or not."""
    column = lambda name: {kind: float(row[name]) for kind, row in rows.items()}  # noqa: E731
    out = {}
    for name, fn, values in (("headline FID ranks real first, degraded above collapsed", headline_ranks_real_first,
                              column("fid")),
                             ("coverage ranks b, c below every diverse oracle", collapsed_below_diverse,
                              column("coverage")),
                             ("conditional accuracy catches the wrong class", accuracy_catches_wrong_class,
                              column("cond_acc")),
                             ("collapse flag: b, c, e and no diverse oracle", flag_separates, column("collapsed"))):
        try:
            fn(values)
            out[name] = True
        except AssertionError:
            out[name] = False
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder with train/<class>/ and test/<class>/ (default: digits)")
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--samples", type=int, default=None, help="num_eval_samples (default: the whole reference)")
    parser.add_argument("--pool", type=int, default=500, help="train images per class the oracles draw from")
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.data is None:
        train, reference = (load_dataset("digits_lt", split, image_size=args.size) for split in ("train", "test"))
        pool, dataset = digits.load(None, "train", args.size, 1), "digits_lt"
    else:
        pool = folder_split(args.data, "train", args.size, args.pool)
        reference = folder_split(args.data, "test", args.size, None)
        train, dataset = pool, args.data.name
    print(f"data {dataset}: pool {len(pool)}, reference {len(reference)} images at {args.size} px "
          f"(loaded in {time.perf_counter() - start:.0f} s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        for extractor in ("random-cnn", "classifier"):
            t0 = time.perf_counter()
            rows = evaluate_oracles(extractor, cache, train, reference, pool, dataset, args.samples)
            print(f"\n== {extractor} features ({time.perf_counter() - t0:.0f} s, extractor training included)")
            print(f"{'oracle':<16}" + "".join(f"{c[:9]:>10}" for c in COLUMNS))
            for kind in ORACLES:
                print(f"{kind:<16}" + "".join(f"{float(rows[kind][c]):>10.3f}" for c in COLUMNS))
            for name, held in checks(rows).items():
                print(f"{'holds' if held else 'FAILS'}: {name}")
            print(f"collapsed oracles: {', '.join(COLLAPSED)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
