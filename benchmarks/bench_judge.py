"""The judge (bench's reference classifier) on real CIFAR-10: its accuracy on held real images and its time.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_judge.py --data-root DIR [--size 32] [--held-per-class 1000]
        [--dataset cifar10_lt] [--fresh]

Trains the judge exactly as a run does (``load_or_train_classifier``: the recipe of ``bench.metrics.classifier``,
cached under ``$BENCH_CACHE``, so a lab-grid run afterwards finds it) on the reference split of ``--dataset`` (the
10,000 CIFAR-10 test images) at ``--size``, then prints the time, the recipe and the class-mean accuracy on the
first ``--held-per-class`` train images of each class (images it never saw). ``--data-root`` is a folder with
CIFAR-10 in either layout bench reads (``cifar-10-batches-py/`` or an image-folder copy ``train/<class>/``,
``test/<class>/``); ``--fresh`` trains again even when a cached judge exists. Target: >= 0.75 at 32x32.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.75


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--dataset", default="cifar10_lt")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--held-per-class", type=int, default=1000)
    parser.add_argument("--fresh", action="store_true", help="train in a new cache (ignore a cached judge)")
    args = parser.parse_args()

    import torch

    from bench import progress
    from bench.datasets import load_dataset
    from bench.metrics.cache import default_cache_root
    from bench.metrics.classifier import judge_recipe, load_or_train_classifier
    from bench.metrics.conditioning import class_mean_accuracy

    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, torch threads "
          f"{torch.get_num_threads()}; {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    reference = load_dataset(args.dataset, split="test", image_size=args.size, data_root=args.data_root)
    held = load_dataset("cifar10", split="train", image_size=args.size, data_root=args.data_root,
                        max_per_class=args.held_per_class)
    cache = Path(tempfile.mkdtemp(prefix="bench_judge_")) if args.fresh else default_cache_root()
    recipe = judge_recipe(reference)
    start = time.perf_counter()
    with progress.shown(True):  # the judge's bar, as lines when stdout is a file
        net, path = load_or_train_classifier(reference, cache)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        logits = torch.cat([net(batch.float() / 127.5 - 1)[1] for batch in held.images.split(500)])
    accuracy = class_mean_accuracy(logits, held.labels, held.num_classes)
    print(f"judge of {args.dataset} at {args.size}x{args.size}: {recipe.describe(len(reference))}")
    print(f"  {seconds:.0f} s to train or load ({path})")
    print(f"  class-mean accuracy on {len(held):,} held real train images: {accuracy:.4f} "
          f"({'meets' if accuracy >= TARGET else 'BELOW'} the {TARGET} target)")
    print(f"  {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0 if accuracy >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
