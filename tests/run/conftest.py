"""Fixtures of the loop tests: a generated image-folder dataset, a shared metrics cache, small configs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.plan import RunPlan, make_plan
from bench.run.checkpoint import load_checkpoint
from bench.run.folder import RunDir
from bench.run.launch import train

from .loop_methods import LoopECOGAN  # noqa: F401  (registers the test methods)

TRAIN_COUNTS = (12, 6, 3)  # a small long tail
TEST_PER_CLASS = 6
SIZE = 16


def write_folder_dataset(root: Path) -> Path:
    """<root>/{train,valid}/cls<k>/*.png: 16x16 gray images, class k = stripes of period k + 2, plus noise."""
    rng = np.random.default_rng(0)
    rows = np.arange(SIZE)[:, None]
    for split, counts in (("train", TRAIN_COUNTS), ("valid", (TEST_PER_CLASS,) * len(TRAIN_COUNTS))):
        for k, count in enumerate(counts):
            folder = root / split / f"cls{k}"
            folder.mkdir(parents=True)
            stripes = np.where((rows // (k + 2)) % 2 == 0, 200.0, 40.0) * np.ones((1, SIZE))
            for i in range(count):
                image = np.clip(stripes + rng.normal(0, 20, (SIZE, SIZE)), 0, 255).astype(np.uint8)
                Image.fromarray(image, mode="L").save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def folder_dataset(tmp_path_factory) -> Path:
    return write_folder_dataset(tmp_path_factory.mktemp("images"))


LOOP_THREADS = 1  # every loop test and the processes it starts train on one thread: bit-exactness needs one count


@pytest.fixture(scope="session", autouse=True)
def pinned_threads():
    """Pin torch's and subprocesses' thread count for the whole loop session (restored afterwards): a run is bit
    for bit a function of its config and its thread count, and other tests (the grid's in-process workers) may
    leave another count behind."""
    before, env = torch.get_num_threads(), {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    torch.set_num_threads(LOOP_THREADS)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(LOOP_THREADS)
    yield
    torch.set_num_threads(before)
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def threads_per_test():
    """Each loop test starts at the pinned count, whatever the previous one set."""
    torch.set_num_threads(LOOP_THREADS)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(LOOP_THREADS)


@pytest.fixture(scope="session")
def bench_cache(tmp_path_factory) -> Path:
    """One metrics cache for the session (the reference classifier trains once), also for subprocesses."""
    path = tmp_path_factory.mktemp("bench_cache")
    previous = os.environ.get("BENCH_CACHE")
    os.environ["BENCH_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("BENCH_CACHE", None)
    else:
        os.environ["BENCH_CACHE"] = previous


def small_cfg(folder_dataset: Path, **keys) -> RunPlan:
    """A smoke-scale run plan on the generated dataset: 6 steps, evaluations at 3 and 6, checkpoints at 3, 4 and 6;
    keyword arguments override keys."""
    cell = {"dataset": f"folder:{folder_dataset}", "method": "loop_ecogan", "device": "cpu", "steps": 6,
            "eval_every": 3, "ckpt_every": 4, "method_options": {"n_dis": 2}}
    return make_plan(cell | keys, scale="smoke")


@pytest.fixture
def make_cfg(folder_dataset, bench_cache):
    """:func:`small_cfg` on the session's dataset, with the session's metrics cache."""
    return lambda **keys: small_cfg(folder_dataset, **keys)


CSVS = ("metrics.csv", "per_class.csv", "losses.csv")


def assert_same_state(a, b, where="state"):
    """Two nested state dicts hold equal tensors and values."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def assert_same_run(ref: RunDir, other: RunDir) -> None:
    """Byte-identical CSVs and sample grids, identical final checkpoints."""
    for name in CSVS:
        assert (other.root / name).read_bytes() == (ref.root / name).read_bytes(), name
    assert sorted(p.name for p in other.samples.iterdir()) == sorted(p.name for p in ref.samples.iterdir())
    for grid in ref.samples.iterdir():
        assert (other.samples / grid.name).read_bytes() == grid.read_bytes(), grid.name
    a, b = load_checkpoint(ref.checkpoint("latest")), load_checkpoint(other.checkpoint("latest"))
    assert a.step == b.step and a.best == b.best
    assert_same_state(a.method, b.method, "method")
    assert_same_state(a.rng, b.rng, "rng")
    assert_same_state(load_checkpoint(ref.checkpoint("best")).method, load_checkpoint(other.checkpoint("best")).method)


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, folder_dataset, bench_cache):
    """The uninterrupted run every resume is compared with (the default config of make_cfg)."""
    cfg = small_cfg(folder_dataset)
    run = RunDir(tmp_path_factory.mktemp("reference") / "cell")
    outcome = train(cfg, run.root, progress=False)
    assert outcome.status == "done" and outcome.step == 6
    return cfg, run, outcome
