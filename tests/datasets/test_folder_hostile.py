"""Issue 11, rows 1-4: image folders a hostile user built. The channel count never depends on which file comes
first; a class without reference images and a broken symlink are one-line errors naming them. Each row's
command runs through the CLI (smoke scale, CPU) and prints no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from ds_helpers import write_image

from bench.cli import main
from bench.datasets import load_dataset
from bench.errors import ConfigError

pytestmark = pytest.mark.slow


def rgb_folder(root: Path, gray_first_in: tuple[str, ...] = ()) -> Path:
    """<root>/{train,valid}/cls{0,1,2}/*.png, 16x16 RGB noise; in the splits named, the first file of cls0 is
    gray instead."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 8), ("valid", 4)):
        for k in range(3):
            for i in range(count):
                write_image(root / split / f"cls{k}" / f"{i}.png", rng.integers(0, 256, (16, 16, 3)))
        if split in gray_first_in:
            write_image(root / split / "cls0" / "0.png", np.full((16, 16), 80))
    return root


def bench(*args: str | Path):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def smoke_run(dataset: Path, results: Path):
    return bench("run", "--dataset", f"folder:{dataset}", "--method", "ecogan", "--scale", "smoke", "--device",
                 "cpu", "--results-root", results)


def run_config(results: Path) -> dict:
    (config,) = results.glob("adhoc-smoke/*/config.json")
    return json.loads(config.read_text())


@pytest.mark.parametrize("gray_first_in", [("train",), ("train", "valid")], ids=["row1-train", "row2-train+valid"])
def test_rows1_2_a_gray_first_image_does_not_decide_the_channels(tmp_path, gray_first_in):
    root = rgb_folder(tmp_path / "rgb", gray_first_in)
    for split in ("train", "test"):
        assert load_dataset(f"folder:{root}", split=split).channels == 3
    result = smoke_run(root, tmp_path / "results")
    assert result.exit_code == 0, result.output
    assert "converted 1 of the 24 train images from gray to RGB" in result.stderr
    if "valid" in gray_first_in:
        assert "converted 1 of the 12 test images from gray to RGB" in result.stderr
    assert run_config(tmp_path / "results")["data"]["channels"] == 3


def test_row1_the_majority_decides_and_channels_can_be_set(tmp_path, capsys):
    root = rgb_folder(tmp_path / "rgb")
    for i in range(1, 8):  # now most of cls0..cls2 train + valid is still colour: 7 gray of 36
        write_image(root / "train" / "cls0" / f"{i}.png", np.full((16, 16), 10 * i))
    assert load_dataset(f"folder:{root}").channels == 3
    assert "converted 7 of the 24 train images from gray to RGB" in capsys.readouterr().err
    assert load_dataset(f"folder:{root}", channels=1).channels == 1  # an explicit choice: no note
    assert capsys.readouterr().err == ""
    for k in (1, 2):  # 23 gray of 36: gray wins
        for i in range(8):
            write_image(root / "train" / f"cls{k}" / f"{i}.png", np.full((16, 16), 5 * i))
    assert load_dataset(f"folder:{root}").channels == 1
    assert "converted 1 of the 24 train images from colour to gray" in capsys.readouterr().err
    assert load_dataset(f"folder:{root}", split="test").channels == 1  # the test split follows the dataset


def test_row3_a_class_missing_from_valid_is_an_error(tmp_path):
    root = rgb_folder(tmp_path / "rgb")
    shutil.rmtree(root / "valid" / "cls2")
    with pytest.raises(ConfigError, match=r"class cls2 of .*/train has no folder in .*/valid"):
        load_dataset(f"folder:{root}", split="test")
    result = smoke_run(root, tmp_path / "results")
    assert result.exit_code == 1  # the run is marked failed with its reason, as for any missing data
    line = result.stderr.strip().splitlines()[-1]
    assert "failed - class cls2 of" in line and str(root / "valid") in line, result.stderr


def test_row4_a_dangling_class_folder_symlink_is_an_error(tmp_path):
    root = rgb_folder(tmp_path / "rgb")
    (root / "train" / "cls3").symlink_to(tmp_path / "gone")
    with pytest.raises(ConfigError, match=r"class folder .*/train/cls3 is a broken symlink"):
        load_dataset(f"folder:{root}")
    (root / "train" / "cls3").unlink()
    (root / "train" / "cls1" / "99.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(ConfigError, match=r"image .*/cls1/99.png is a broken symlink"):
        load_dataset(f"folder:{root}")
    (root / "train" / "cls1" / "99.png").unlink()
    (root / "train" / "cls3").symlink_to(tmp_path / "gone")
    result = smoke_run(root, tmp_path / "results")
    assert result.exit_code == 1
    assert "cls3 is a broken symlink" in result.stderr.strip().splitlines()[-1], result.stderr
