"""The Evaluator end to end on a toy long-tailed dataset with fake generators (no real method)."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from bench.config import hashed_view
from bench.errors import ConfigError, DataNotFoundError
from bench.metrics import METRICS_COLUMNS, PER_CLASS_COLUMNS, Evaluator
from bench.metrics import reference as reference_mod

from .helpers import (
    NoiseGenerator,
    RealImageGenerator,
    make_image_set,
    save_random_torchvision_inception,
    toy_config,
)


@pytest.fixture
def fresh_cache(tmp_path, shared_cache, toy_sets):
    """An empty cache root but for the toy classifier (copied, so it is not trained again)."""
    Evaluator(toy_config(), *toy_sets, "cpu", cache_root=shared_cache).extractor("classifier")
    for path in shared_cache.glob("classifier-*.pt"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


@pytest.mark.parametrize("protocol", ["paper", "standard"])
def test_end_to_end_row_is_finite_and_names_how_it_was_measured(toy_sets, shared_cache, protocol):
    train, reference = toy_sets
    evaluator = Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache)
    result = evaluator.evaluate(RealImageGenerator(train), step=7, protocol=protocol, source="eval:best")
    row = result.row
    assert list(row) == METRICS_COLUMNS
    expected_names = {"paper": ("train-lt", "train-histogram", 90), "standard": ("test-balanced", "uniform", 150)}
    reference_name, label_mix, n = expected_names[protocol]
    assert (row["step"], row["source"], row["protocol"], row["extractor"]) == (7, "eval:best", protocol, "classifier")
    assert (row["reference"], row["label_mix"], row["n_real"], row["n_fake"]) == (reference_name, label_mix, n, n)
    no_d = ("d_acc_real", "d_acc_fake")  # a generator without a discriminator: D's class view is NaN
    counts = ("collapsed_classes", "collapsed", "collapsed_half_a", "collapsed_half_b")  # a count and 0/1 verdicts
    for key in METRICS_COLUMNS[8:]:
        kind = int if key in counts else float
        assert isinstance(row[key], kind) and (math.isnan(row[key]) if key in no_d else math.isfinite(row[key])), key
    assert row["collapsed"] == 0  # real images; (the toy's class 4 has only 4 train images to draw from, so the
    # generator of real train images repeats them, and that class may be called collapsed on its own)
    assert row["judge_acc"] > 0.5  # the classifier on real train images it never saw
    assert 1.0 <= row["is_mean"] <= 5.0 + 1e-9  # classifier logits: IS <= C
    assert len(result.per_class) == 5
    for c, pc in enumerate(result.per_class):
        assert list(pc) == PER_CLASS_COLUMNS
        assert (pc["class"], pc["class_name"], pc["train_count"]) == (c, f"class{c}", train.class_counts[c])
        assert pc["protocol"] == protocol and pc["extractor"] == "classifier"


def test_paper_fakes_follow_the_train_histogram_class_sorted_and_standard_fakes_are_uniform(toy_sets, shared_cache):
    train, reference = toy_sets
    evaluator = Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache, batch_size=16)
    method = RealImageGenerator(train)
    result = evaluator.evaluate(method, 1, "paper")
    paper_labels = torch.cat(method.requested)[:sum(train.class_counts)]  # then the label-sensitivity draws
    assert torch.bincount(paper_labels).tolist() == train.class_counts
    assert torch.equal(paper_labels, paper_labels.sort().values)
    assert [pc["n_fake"] for pc in result.per_class] == train.class_counts
    method.requested.clear()
    evaluator.evaluate(method, 1, "standard")
    assert torch.bincount(torch.cat(method.requested)[:150]).tolist() == [30] * 5


def test_num_eval_samples_caps_both_sides_and_keeps_the_train_mix(toy_sets, shared_cache):
    train, reference = toy_sets
    evaluator = Evaluator(toy_config(num_eval_samples=45), train, reference, "cpu", cache_root=shared_cache)
    result = evaluator.evaluate(RealImageGenerator(train), 1, "paper")
    assert (result.row["n_real"], result.row["n_fake"]) == (45, 45)
    assert [pc["n_real"] for pc in result.per_class] == [20, 12, 7, 4, 2]  # half of 40, 24, 14, 8, 4
    assert [pc["n_fake"] for pc in result.per_class] == [20, 12, 7, 4, 2]


def test_conditional_accuracy_is_one_for_real_images_and_near_chance_for_noise(toy_sets, shared_cache):
    train, reference = toy_sets
    evaluator = Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache)
    real = evaluator.evaluate(RealImageGenerator(reference), 1, "standard")
    noise = evaluator.evaluate(NoiseGenerator((1, 16, 16)), 1, "standard")
    assert real.row["cond_acc"] == pytest.approx(1.0)
    assert all(pc["cond_acc"] == pytest.approx(1.0) for pc in real.per_class)
    assert noise.row["cond_acc"] < 0.5  # chance is 0.2
    assert noise.row["fid"] > 10 * max(real.row["fid"], 1e-3)
    assert real.row["precision"] > noise.row["precision"]


class HeadOnlyGenerator(RealImageGenerator):
    """Real images for head classes, noise for tail classes."""

    def __init__(self, image_set, tail):
        super().__init__(image_set)
        self.tail = tail

    def generate(self, z, y):
        x = super().generate(z, y)
        noise = torch.tanh(z[:, :1, None, None] * 3).expand_as(x)
        return torch.where(self.tail[y].view(-1, 1, 1, 1), noise, x)


def test_head_tail_fid_split_at_the_median_train_count(toy_sets, shared_cache):
    train, reference = toy_sets  # train counts 40, 24, 14, 8, 4: median 14, head = classes 0, 1, 2
    tail = torch.tensor([False, False, False, True, True])
    evaluator = Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache)
    row = evaluator.evaluate(HeadOnlyGenerator(reference, tail), 1, "standard").row
    assert row["fid_tail"] > 10 * row["fid_head"]
    assert row["fid_head"] < row["fid"] < row["fid_tail"]
    ifid = [pc["fid"] for pc in evaluator.evaluate(HeadOnlyGenerator(reference, tail), 1, "standard").per_class]
    assert max(ifid[:3]) < min(ifid[3:])


def test_reference_features_are_cached_in_memory_and_on_disk(toy_sets, fresh_cache, monkeypatch):
    train, reference = toy_sets
    calls = []
    original = reference_mod.compute_reference
    monkeypatch.setattr(reference_mod, "compute_reference", lambda *a, **k: calls.append(1) or original(*a, **k))
    method = RealImageGenerator(train)
    first = Evaluator(toy_config(), train, reference, "cpu", cache_root=fresh_cache)
    row_1 = first.evaluate(method, 3, "paper").row
    first.evaluate(method, 4, "paper")
    assert len(calls) == 1  # memory
    files = sorted(p.name for p in fresh_cache.glob("ref-*.pt"))
    assert len(files) == 1 and files[0].startswith("ref-toy_lt-train-16px-1ch-classifier-n90-")
    second = Evaluator(toy_config(), train, reference, "cpu", cache_root=fresh_cache)
    assert second.evaluate(method, 3, "paper").row == row_1  # disk, same numbers
    assert len(calls) == 1
    second.evaluate(method, 3, "standard")
    assert len(calls) == 2  # another reference is another key


def test_evaluation_leaves_the_global_rng_alone_and_is_deterministic_per_step(toy_sets, shared_cache):
    train, reference = toy_sets
    evaluator = Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache)
    method = NoiseGenerator((1, 16, 16), use_global_rng=True)
    torch.manual_seed(42)
    before = torch.get_rng_state()
    row_a = evaluator.evaluate(method, 10, "standard").row
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(7)  # another global state: same numbers (the noise seed is (cfg.seed, step))
    row_b = evaluator.evaluate(NoiseGenerator((1, 16, 16), use_global_rng=False), 10, "standard").row
    row_c = evaluator.evaluate(NoiseGenerator((1, 16, 16), use_global_rng=False), 10, "standard").row
    row_d = evaluator.evaluate(NoiseGenerator((1, 16, 16), use_global_rng=False), 11, "standard").row
    assert row_b == row_c and row_b["fid"] != row_d["fid"]
    assert row_a["step"] == 10


def test_paper_protocol_through_torchvision_inception_with_a_random_weights_file(toy_sets, tmp_path, monkeypatch,
                                                                                 shared_cache):
    path = tmp_path / "tv.pth"
    save_random_torchvision_inception(path)
    monkeypatch.setenv("BENCH_TV_INCEPTION_WEIGHTS", str(path))
    train, reference = toy_sets
    evaluator = Evaluator(toy_config(extractor=None, num_eval_samples=15), train, reference, "cpu",
                          cache_root=shared_cache)
    row = evaluator.evaluate(RealImageGenerator(train), 2, "paper").row
    assert (row["extractor"], row["reference"], row["n_real"]) == ("torchvision-inception", "train-lt", 15)
    assert row["is_mean"] >= 1.0 and math.isfinite(row["fid"]) and math.isfinite(row["kid_mean"])


def test_configuration_errors(toy_sets, shared_cache):
    train, reference = toy_sets
    with pytest.raises(ConfigError, match=r"unknown feature extractor \(config key extractor\) 'inception'"):
        Evaluator(toy_config(extractor="inception"), train, reference, "cpu")
    # a RunConfig is validated when made, so an unknown protocol fails before any Evaluator exists
    with pytest.raises(ConfigError, match=r"protocols = 'paperr' is not one of paper, standard, studiogan "
                                          r"\(did you mean 'paper'\?\)"):
        Evaluator(toy_config(protocols=["paperr"]), train, reference, "cpu")
    with pytest.raises(ConfigError, match=r"train images are \(1, 16, 16\), reference images \(3, 16, 16\)"):
        Evaluator(toy_config(), train, make_image_set([5] * 5, "test", channels=3), "cpu")
    with pytest.raises(ConfigError, match="train split has 5 classes, reference split 4"):
        Evaluator(toy_config(), train, make_image_set([5] * 4, "test"), "cpu")
    with pytest.raises(ConfigError, match=r"config asks for image_size=32, channels=None but the train images are "
                                          r"\(1, 16, 16\)"):
        Evaluator(toy_config(image_size=32, channels=None), train, reference, "cpu")
    with pytest.raises(ConfigError, match="image_size=16, channels=3"):
        Evaluator(toy_config(channels=3), train, reference, "cpu")
    evaluator = Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache)
    with pytest.raises(ConfigError, match="unknown protocol 'fancy'"):
        evaluator.evaluate(RealImageGenerator(train), 1, "fancy")
    with pytest.raises(ConfigError, match=r"generates \(1, 8, 8\) images but toy_lt images are \(1, 16, 16\)"):
        evaluator.evaluate(NoiseGenerator((1, 8, 8)), 1, "paper")


class GraphBuildingGenerator(NoiseGenerator):
    """A generator with a trainable parameter whose generate() does not switch gradients off itself."""

    def __init__(self) -> None:
        super().__init__((1, 16, 16), use_global_rng=False)
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.grad_enabled: list[bool] = []
        self.outputs_need_grad: list[bool] = []

    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.grad_enabled.append(torch.is_grad_enabled())
        images = super().generate(z, y) * self.scale
        self.outputs_need_grad.append(images.requires_grad)
        return images


def test_fakes_are_generated_without_autograd(toy_sets, shared_cache):
    train, reference = toy_sets
    method = GraphBuildingGenerator()
    Evaluator(toy_config(), train, reference, "cpu", cache_root=shared_cache, batch_size=64).evaluate(
        method, 1, "standard")
    # 3 batches of fakes, then 3 for label sensitivity
    assert len(method.grad_enabled) == 6 and not any(method.grad_enabled) and not any(method.outputs_need_grad)
    assert torch.is_grad_enabled()


def test_weights_files_from_config_keys_win_over_the_env_vars(toy_sets, tmp_path, monkeypatch, shared_cache):
    path = tmp_path / "tv-configured.pth"
    save_random_torchvision_inception(path)
    monkeypatch.setenv("BENCH_TV_INCEPTION_WEIGHTS", str(tmp_path / "absent-env.pth"))  # an error if it were used
    train, reference = toy_sets
    cfg = toy_config(extractor=None, tv_inception_weights=str(path))
    evaluator = Evaluator(cfg, train, reference, "cpu", cache_root=shared_cache)
    assert evaluator.extractor("torchvision-inception").cache_tag.startswith("tv-configured.pth-")
    # a path does not change the numbers: a moved file must not block resume
    assert hashed_view(cfg.to_dict()) == hashed_view(toy_config(extractor=None).to_dict())
    missing = Evaluator(toy_config(inception_weights=str(tmp_path / "nope.pth")), train, reference, "cpu",
                        cache_root=shared_cache)
    with pytest.raises(DataNotFoundError, match=r"config key inception_weights = '.*nope\.pth' does not exist"):
        missing.extractor("inception-v3-compat")


def test_issue21_item11_one_image_per_class_gives_nan_intervals_with_a_note(shared_cache, capsys):
    """Classes with one image each: every class-stratified resample is the set itself, so main 672acd3 reported a
    zero-width "95 % interval" (FID 26.25 [26.25, 26.25]); now the intervals are NaN and a note says why."""
    train, reference = make_image_set([1] * 5, "train", seed=2), make_image_set([1] * 5, "test", seed=3)
    evaluator = Evaluator(toy_config(bootstrap=50), train, reference, "cpu", cache_root=shared_cache)
    capsys.readouterr()
    for step, protocol in ((1, "standard"), (2, "paper"), (3, "standard")):
        row = evaluator.evaluate(RealImageGenerator(train), step=step, protocol=protocol).row
        assert (row["n_real"], row["n_fake"]) == (5, 5) and math.isfinite(row["fid"])
        for key in ("fid_lo", "fid_hi", "fid_head_lo", "fid_head_hi", "fid_tail_lo", "fid_tail_hi"):
            assert math.isnan(row[key]), (protocol, key, row[key])
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "hold at most one image each" in notes[0] and "fid_lo/fid_hi" in notes[0], notes
    # two images per class on one side is enough for the resamples to vary: a real interval again
    two = make_image_set([2] * 5, "test", seed=4)
    row = Evaluator(toy_config(bootstrap=50), train, two, "cpu", cache_root=shared_cache).evaluate(
        RealImageGenerator(train), step=1, protocol="standard").row
    assert row["fid_lo"] < row["fid_hi"]


def test_every_metrics_column_is_gathered():
    """bench gather's tidy metrics (bench.results) keep every number the Evaluator writes, the tail and
    half-reference health columns (appended last) included."""
    from bench.metrics.halves import HALF_HEALTH_COLUMNS
    from bench.metrics.tail import TAIL_COLUMNS
    from bench.results import METRICS

    assert METRICS_COLUMNS[-len(TAIL_COLUMNS) - len(HALF_HEALTH_COLUMNS):] == [*TAIL_COLUMNS, *HALF_HEALTH_COLUMNS]
    assert set(METRICS_COLUMNS[8:]) <= set(METRICS)
