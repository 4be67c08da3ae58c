"""Data-parallel training on CPU (gloo, 2 ranks): the run completes, tracks a one-process run of the same global
batch, stops together on Ctrl-C and resumes to the same files as an uninterrupted run."""

from __future__ import annotations

import csv

import pytest

from bench.run.folder import RunDir
from bench.run.launch import train

from .conftest import assert_same_run

# A G without BatchNorm and no contrastive term: nothing depends on how the global batch is split, so two
# ranks must agree with one process up to the order of float sums (the all-reduce of the gradients).
EXACT = {"method": "loop_ecogan_nobn", "steps": 4, "eval_every": 2, "ckpt_every": 2, "batch_size": 8,
         "method_options": {"n_dis": 2, "cond_lambda": 0.0}}
FLOAT_TOLERANCE = 1e-4  # relative, after a few Adam steps on float32 sums taken in another order
LOCAL_BATCH_TERMS = ("loss/d_eco", "loss/g_eco")  # logged (λ = 0) over each rank's half batch: differ by design


def losses(run: RunDir) -> list[dict[str, float]]:
    with run.losses.open(newline="") as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


@pytest.fixture(scope="module", autouse=True)
def rank_methods():
    """The ranks are fresh processes: they import the test methods through BENCH_METHODS (tests/ is on their
    sys.path, copied from this process by the spawn start method)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_METHODS", "run.loop_methods")
        yield


@pytest.fixture(scope="module")
def two_ranks(make_cfg, tmp_path_factory):
    """The uninterrupted 2-rank run of EXACT (config, run folder)."""
    cfg = make_cfg(**EXACT, nproc=2)
    run = RunDir(tmp_path_factory.mktemp("ddp") / "cell")
    outcome = train(cfg, run.root, progress=False)
    assert outcome.status == "done" and outcome.step == cfg.config.steps, outcome
    return cfg, run


@pytest.fixture(scope="module")
def make_cfg(folder_dataset, bench_cache):  # module scope for the module-scoped runs
    from .conftest import small_cfg

    return lambda **keys: small_cfg(folder_dataset, **keys)


def test_two_ranks_track_one_process_of_the_same_global_batch(two_ranks, make_cfg, tmp_path):
    cfg, run = two_ranks
    one = RunDir(tmp_path / "one")
    assert train(make_cfg(**EXACT), one.root, progress=False).status == "done"
    ranks, single = losses(run), losses(one)
    assert [r["step"] for r in ranks] == [r["step"] for r in single] == [1.0, 2.0, 3.0, 4.0]
    for a, b in zip(ranks, single, strict=True):
        assert a.keys() == b.keys()
        for key in a.keys() - set(LOCAL_BATCH_TERMS):
            assert a[key] == pytest.approx(b[key], rel=FLOAT_TOLERANCE, abs=1e-6), (a["step"], key)
    assert (run.root / "metrics.csv").exists() and not list(run.root.glob("*.rank*"))


def test_interrupted_two_rank_run_resumes_to_the_same_files(two_ranks, tmp_path, monkeypatch):
    cfg, reference = two_ranks
    run = RunDir(tmp_path / "cell")
    monkeypatch.setenv("LOOP_TEST_SIGNAL_AT", "3")  # every rank gets Ctrl-C after its step-3 G step
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run.root, progress=False)
    monkeypatch.delenv("LOOP_TEST_SIGNAL_AT")
    status = (run.root / "status.json").read_text()
    assert '"pending"' in status and '"step": 3' in status
    outcome = train(cfg, run.root, progress=False)
    assert outcome.status == "done" and outcome.step == cfg.config.steps
    assert_same_run(reference, run)


def test_nproc_must_split_the_batch(make_cfg):
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="nproc"):
        make_cfg(**EXACT, nproc=3)


def test_new_keys_leave_older_hashes_alone_and_nproc_is_hashed():
    from bench.config import RunConfig, hashed_view
    from bench.plan import make_plan

    default = hashed_view(RunConfig().to_dict())
    assert "nproc" not in default and "compile" not in default
    assert make_plan({"nproc": 2}).hash != make_plan({}).hash
    assert make_plan({"compile": True}).hash != make_plan({}).hash
    assert "g_cond" not in default  # g_cond too: None is the paper's way, as before it existed
    assert make_plan({"g_cond": "concat"}).hash != make_plan({}).hash
