"""Time one ``Evaluator.evaluate`` per protocol with the ``classifier`` extractor on digits-sized data:
1,000 fakes at 32x32, 1 channel, 10 classes (the ``cpu`` scale's ``num_eval_samples``).

The data are ``digits_lt`` (train and balanced test split at 32x32), each repeated to at least 1,000 images so
that n_real = n_fake = 1,000; the "generator" is a fixed random map from z to images (generation cost ~0).
The first call of a protocol includes the reference features (and, once, training the classifier); the second
call is what every later evaluation of a run costs. The cache lives in a temporary folder, so every run is cold.

    .venv/bin/python benchmarks/bench_metrics.py
"""

from __future__ import annotations

import tempfile
import time

import torch

from bench.config import RunConfig
from bench.datasets import load_dataset
from bench.datasets.base import ImageSet
from bench.metrics import Evaluator
from bench.metrics.fid import fid_from_statistics, fid_statistics, per_class_fid
from bench.metrics.isc import inception_score
from bench.metrics.kid import kernel_inception_distance
from bench.metrics.prc import precision_recall

N = 1000


class RandomMapGenerator:
    """Images = tanh(z W) for a fixed random W: a stand-in generator that costs next to nothing."""

    latent_dim = 128

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.device = torch.device("cpu")
        self.shape = shape
        self.weight = torch.randn(self.latent_dim, shape[0] * shape[1] * shape[2],
                                  generator=torch.Generator().manual_seed(0)) / self.latent_dim ** 0.5

    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z @ self.weight).view(-1, *self.shape)


def repeated(data: ImageSet, n: int) -> ImageSet:
    """``data`` concatenated with itself until it has at least n images."""
    k = -(-n // len(data))
    return ImageSet(data.name, data.split, data.images.repeat(k, 1, 1, 1), data.labels.repeat(k), data.num_classes,
                    data.class_names)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    train = repeated(load_dataset("digits_lt", "train", image_size=32), N)
    reference = repeated(load_dataset("digits_lt", "test", image_size=32), N)
    cfg = RunConfig(dataset="digits_lt", image_size=32, extractor="classifier", num_eval_samples=N,
                    protocols=["paper", "standard"])
    method = RandomMapGenerator((1, 32, 32))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; train {len(train)} / reference "
          f"{len(reference)} images at 32x32 (digits_lt repeated), n_fake = n_real = {N}")
    with tempfile.TemporaryDirectory() as cache:
        evaluator = Evaluator(cfg, train, reference, "cpu", cache_root=cache)
        _, train_s = timed(evaluator.extractor, "classifier")
        print(f"classifier training (once per dataset, then cached): {train_s:.2f} s")
        for protocol in cfg.protocols:
            result, cold_s = timed(evaluator.evaluate, method, 100, protocol)
            _, warm_s = timed(evaluator.evaluate, method, 200, protocol)
            print(f"{protocol:>8}: first call {cold_s:.2f} s (with reference features), later calls {warm_s:.2f} s"
                  f"  [fid {result.row['fid']:.1f}, is {result.row['is_mean']:.2f}, cond_acc "
                  f"{result.row['cond_acc']:.2f}]")
        # where a warm call's time goes, on the standard protocol's features
        _, ref = evaluator.reference("standard")
        fake, logits = evaluator.extractor("classifier").extract(method.generate(torch.randn(N, 128), None)
                                                                 .add(1).mul(127.5).to(torch.uint8))
        labels = torch.arange(N) % 10
        parts = {
            "extract 1000 fakes": lambda: evaluator.extractor("classifier").extract(
                method.generate(torch.randn(N, 128), None).add(1).mul(127.5).to(torch.uint8)),
            "fid (torch-fidelity)": lambda: fid_from_statistics(ref.stats, fid_statistics(fake)),
            "is": lambda: inception_score(logits, 10, 2020),
            "kid": lambda: kernel_inception_distance(fake, ref.features),
            "precision/recall": lambda: precision_recall(fake, ref.features),
            "per-class fid": lambda: per_class_fid(ref.features, ref.labels, fake, labels, 10),
        }
        print("  breakdown: " + ", ".join(f"{name} {timed(fn)[1]:.3f} s" for name, fn in parts.items()))
        # why kid.py computes one subset when both sets are whole: torch-fidelity would compute 100 identical ones
        from torch_fidelity.metric_kid import kid_features_to_metric

        _, all_subsets_s = timed(kid_features_to_metric, fake, ref.features, kid_subsets=100, kid_subset_size=N,
                                 verbose=False)
        _, one_subset_s = timed(kernel_inception_distance, fake, ref.features)
        print(f"  kid of whole sets (n = {N}): torch-fidelity with 100 subsets {all_subsets_s:.3f} s, "
              f"bench's one subset {one_subset_s:.3f} s")


if __name__ == "__main__":
    main()
