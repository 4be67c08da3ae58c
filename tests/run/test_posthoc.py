"""bench.run.posthoc: re-evaluating a checkpoint (rows appended) and sampling without data; their errors."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from bench.errors import ConfigError
from bench.run.folder import RunDir, read_rows
from bench.run.posthoc import evaluate_run, sample_run
from bench.run.samples import MIN_TILE


@pytest.fixture
def run_copy(reference_run, tmp_path) -> RunDir:
    """A copy of the reference run folder, free to be appended to."""
    _, ref, _ = reference_run
    shutil.copytree(ref.root, tmp_path / "cell")
    return RunDir(tmp_path / "cell")


def edit_config(run: RunDir, change) -> None:
    saved = json.loads(run.config.read_text())
    change(saved)
    run.config.write_text(json.dumps(saved))


def count_label_rows(picture: np.ndarray, margin: int) -> int:
    """Separate bands of image rows with dark (text) pixels in the left margin."""
    text = (picture[:, :margin] < 128).any(axis=1)
    return int(text[0]) + int(np.sum(text[1:] & ~text[:-1]))


def test_evaluate_best_appends_rows_that_repeat_the_training_measurement(run_copy):
    before = run_copy.metrics.read_bytes()
    best = json.loads(run_copy.status.read_text())["best"]
    result = evaluate_run(run_copy.root, "standard", checkpoint="best", extractor="random-cnn", device="cpu")
    assert run_copy.metrics.read_bytes().startswith(before)
    rows = read_rows(run_copy.metrics)
    assert [(r["step"], r["source"]) for r in rows][-1] == (str(best["step"]), "eval:best")
    assert float(rows[-1]["fid"]) == result.row["fid"]
    # the same weights, protocol, extractor and evaluation seed (seed, step) as during training: the same FID
    (trained,) = [r for r in rows if r["source"] == "train" and r["step"] == str(best["step"])]
    assert {k: v for k, v in rows[-1].items() if k != "source"} == {k: v for k, v in trained.items() if k != "source"}
    per_class = read_rows(run_copy.per_class)
    assert [(r["source"], r["class"]) for r in per_class[-3:]] == [("eval:best", str(c)) for c in range(3)]


def test_evaluate_latest_under_the_paper_protocol(run_copy):
    result = evaluate_run(run_copy.root, "paper", checkpoint="latest", extractor="classifier", device="cpu")
    assert result.row["step"] == 6 and result.row["protocol"] == "paper" and result.row["source"] == "eval:latest"
    assert read_rows(run_copy.metrics)[-1]["source"] == "eval:latest"


def test_evaluate_refuses_changed_training_data(run_copy):
    edit_config(run_copy, lambda saved: saved["data"].update(class_counts=[12, 6, 2]))
    with pytest.raises(ConfigError, match=r"differ from those the run .* was trained on"):
        evaluate_run(run_copy.root, "standard", extractor="classifier", device="cpu")


def test_sample_grid_needs_no_data(run_copy, tmp_path):
    edit_config(run_copy, lambda saved: saved["config"].update(dataset=f"folder:{tmp_path / 'gone'}"))
    out = sample_run(run_copy.root, per_class=4, out=tmp_path / "out" / "grid.png", device="cpu")
    picture = np.asarray(Image.open(out).convert("L"))
    tile = 16 * math.ceil(MIN_TILE / 16)  # 16 px images, enlarged for legibility
    margin = picture.shape[1] - 4 * (tile + 2) - 2  # 4 columns of tiles, each followed by 2 px, and 2 px
    assert margin > 0 and count_label_rows(picture, margin) == 3
    again = sample_run(run_copy.root, per_class=4, out=tmp_path / "again.png", device="cpu")
    assert again.read_bytes() == out.read_bytes()  # seeded latents


def test_sample_one_class_into_a_folder(run_copy, tmp_path):
    out_dir = sample_run(run_copy.root, class_index=2, n=5, out_dir=tmp_path / "imgs", checkpoint="latest",
                         device="cpu")
    files = sorted(out_dir.iterdir())
    assert [f.name for f in files] == [f"2-cls2_{i:04d}.png" for i in range(5)]
    image = Image.open(files[0])
    assert image.size == (16, 16) and image.mode == "L"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "give either --out .* or --out-dir .*, not neither"),
    ({"out": "g.png", "out_dir": "d"}, "not both"),
    ({"out": "g.png", "class_index": 1}, "--class goes with --out-dir"),
    ({"out": "g.png", "per_class": 0}, "--per-class must be >= 1, got 0"),
    ({"out_dir": "d", "per_class": 3, "class_index": 1}, "--per-class goes with --out"),
    ({"out_dir": "d"}, "--out-dir needs --class"),
    ({"out_dir": "d", "class_index": 0, "n": 0}, "--n must be >= 1, got 0"),
    ({"out_dir": "d", "class_index": 3}, r"class 3 is out of range: the run has 3 classes \(0..2\)"),
    ({"out": "g.png", "checkpoint": "final"}, "checkpoint must be one of best, latest, got 'final'"),
])
def test_sample_argument_errors(run_copy, tmp_path, kwargs, message):
    for key in ("out", "out_dir"):
        if key in kwargs:
            kwargs[key] = tmp_path / kwargs[key]
    with pytest.raises(ConfigError, match=message):
        sample_run(run_copy.root, device="cpu", **kwargs)


def test_not_a_run_folder_and_missing_checkpoint(run_copy, tmp_path):
    with pytest.raises(ConfigError, match="is not a run folder"):
        sample_run(tmp_path, out=tmp_path / "g.png")
    run_copy.checkpoint("best").unlink()
    with pytest.raises(ConfigError, match="has no best checkpoint .*try --checkpoint latest"):
        evaluate_run(run_copy.root, "standard", extractor="classifier", device="cpu")
    run_copy.checkpoint("latest").unlink()
    with pytest.raises(ConfigError, match="has no best checkpoint .*has not reached its first checkpoint"):
        sample_run(run_copy.root, out=tmp_path / "g.png", device="cpu")


# -- bench eval --set: FD-DINOv2 offline from a local weights file ---------------------------------------------------
def test_bench_eval_measures_fd_dinov2_from_a_local_weights_file_and_names_the_file_when_it_has_none(
        run_copy, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from bench.cli import main
    from bench.metrics.dinov2 import ViTShape, random_state_dict
    from bench.metrics.extractors import DinoV2Extractor

    small = ViTShape("test ViT/14", embed_dim=32, depth=2, num_heads=2)
    monkeypatch.setattr(DinoV2Extractor, "shape", small)  # ViT-L's code path at 1/30 of its width
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("BENCH_DINOV2_WEIGHTS", raising=False)
    before = run_copy.metrics.read_bytes()
    command = ["eval", str(run_copy.root), "--protocol", "standard", "--device", "cpu", "--set", "extractor=dinov2"]
    missing = CliRunner().invoke(main, command)
    assert missing.exit_code == 2 and missing.output.count("\n") == 1
    assert "dinov2_vitl14_pretrain.pth" in missing.output and "dl.fbaipublicfiles.com" in missing.output
    assert run_copy.metrics.read_bytes() == before  # nothing written
    weights = tmp_path / "models" / "dinov2_vitl14_pretrain.pth"
    weights.parent.mkdir()
    torch.save(random_state_dict(small), weights)
    done = CliRunner().invoke(main, [*command, "--set", f"dinov2_weights={weights}", "--set", "num_eval_samples=12"])
    assert done.exit_code == 0, done.output
    assert "[standard protocol, dinov2 features, reference test-balanced]: FID " in done.output
    row = read_rows(run_copy.metrics)[-1]
    assert (row["source"], row["extractor"], row["n_fake"]) == ("eval:best", "dinov2", "12")
    assert math.isfinite(float(row["fid"])) and math.isfinite(float(row["is_mean"]))  # IS from the judge's logits


def test_bench_eval_set_takes_evaluation_keys_only(run_copy):
    with pytest.raises(ConfigError, match=r"bench eval --set steps: not an evaluation key; it takes extractor, "):
        evaluate_run(run_copy.root, "standard", device="cpu", overrides={"steps": 3})
