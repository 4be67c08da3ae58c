"""folder:<path> datasets: layout, class mapping, file order and each bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ds_helpers import write_image

from bench.datasets import get_spec, load_dataset
from bench.errors import ConfigError, DataNotFoundError


def _red(images: torch.Tensor) -> list[int]:
    return images[:, 0, 0, 0].tolist()


def test_classes_sorted_by_number_and_mapped(make_folder_dataset):
    root = make_folder_dataset({"cls10": 2, "cls2": 3, "cls5": 1})  # non-contiguous, not in numeric name order
    data = load_dataset(f"folder:{root}")
    assert data.name == f"folder:{root}" and data.num_classes == 3
    assert data.class_names == ["cls2", "cls5", "cls10"]
    assert data.class_counts == [3, 1, 2]
    assert data.labels.tolist() == [0, 0, 0, 1, 2, 2]
    # colours are 10 * (creation position) + i: cls2 was created second, cls5 third, cls10 first
    assert _red(data.images) == [10, 11, 12, 20, 0, 1]
    assert data.images.shape == (6, 3, 8, 8)  # None = the first image's size and channels


def test_plain_number_names_and_natural_file_order(make_folder_dataset):
    root = make_folder_dataset({"0": 12, "1": 1}, splits=("train",))
    data = load_dataset(f"folder:{root}", image_size=4, channels=1)
    assert data.class_names == ["0", "1"] and data.images.shape == (13, 1, 4, 4)
    # files 0.png .. 11.png in natural order (2 before 10); gray = luma of (10*0 + i, 100, 200)
    expected = [(299 * i + 587 * 100 + 114 * 200 + 500) // 1000 for i in range(12)]
    assert data.images[:12, 0, 0, 0].tolist() == expected


def test_test_split_uses_valid_then_val_then_test(make_folder_dataset):
    root = make_folder_dataset({"cls0": 2, "cls1": 2}, splits=("train", "test"))
    assert load_dataset(f"folder:{root}", split="test").class_counts == [2, 2]
    make_folder_dataset({"cls0": 1, "cls1": 3}, splits=("val",))  # same tree: val/ now exists and wins over test/
    assert load_dataset(f"folder:{root}", split="test").class_counts == [1, 3]
    make_folder_dataset({"cls1": 1, "cls0": 4}, splits=("valid",))  # valid/ wins over both; classes come from train/
    test = load_dataset(f"folder:{root}", split="test")
    assert test.num_classes == 2 and test.class_counts == [4, 1] and test.class_names == ["cls0", "cls1"]


def test_max_per_class_keeps_first_files(make_folder_dataset):
    root = make_folder_dataset({"cls0": 5, "cls1": 2})
    data = load_dataset(f"folder:{root}", max_per_class=3)
    assert data.class_counts == [3, 2] and _red(data.images) == [0, 1, 2, 10, 11]


def test_mixed_sizes_and_modes_are_resized(tmp_path):
    root = tmp_path / "mixed"
    write_image(root / "train" / "cls0" / "a.png", np.full((8, 8), 30))
    write_image(root / "train" / "cls0" / "b.JPEG", np.full((20, 12, 3), 120))
    write_image(root / "train" / "cls1" / "c.jpg", np.full((5, 9, 3), 60))
    data = load_dataset(f"folder:{root}", image_size=16, channels=3)
    assert data.images.shape == (3, 3, 16, 16) and data.class_counts == [2, 1]
    assert data.images[0].unique().tolist() == [30]
    assert torch.all((data.images[1].int() - 120).abs() <= 2) and torch.all((data.images[2].int() - 60).abs() <= 2)
    native = load_dataset(f"folder:{root}")
    assert native.images.shape == (3, 3, 8, 8)  # the first image's size; the majority's channels (2 of 3 colour)


def test_relative_path_is_relative_to_cwd(make_folder_dataset, monkeypatch, tmp_path):
    make_folder_dataset({"cls0": 1}, name="rel")
    monkeypatch.chdir(tmp_path)
    assert len(load_dataset("folder:rel", data_root="/nonexistent")) == 1
    assert get_spec("folder:rel").location == "rel"


def test_missing_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match=f"dataset folder not found: {tmp_path}/nope"):
        load_dataset(f"folder:{tmp_path}/nope")


def test_missing_split_folder(make_folder_dataset):
    root = make_folder_dataset({"cls0": 1}, splits=("train",))
    with pytest.raises(DataNotFoundError, match=f"no test split in {root}: expected {root}/valid/ or"):
        load_dataset(f"folder:{root}", split="test")


def test_no_class_folders(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "train" / "stray.png").write_bytes(b"")
    with pytest.raises(ConfigError, match=f"no class folders .* in {tmp_path}/empty/train"):
        load_dataset(f"folder:{tmp_path}/empty")


def test_empty_class_folder(make_folder_dataset):
    root = make_folder_dataset({"cls0": 2, "cls1": 0})
    with pytest.raises(ConfigError, match=f"class folder {root}/train/cls1 holds no .png/.jpg/.jpeg images"):
        load_dataset(f"folder:{root}")


@pytest.mark.parametrize("bad", ["dogs", "cls", "cls-1", "class3", "3b"])
def test_bad_class_folder_name(make_folder_dataset, bad):
    root = make_folder_dataset({"cls0": 1, bad: 1})
    with pytest.raises(ConfigError, match=f"class folder {root}/train/{bad} is not named cls<k> or <k>"):
        load_dataset(f"folder:{root}")


def test_duplicate_class_number(make_folder_dataset):
    root = make_folder_dataset({"cls1": 1, "1": 1})
    with pytest.raises(ConfigError, match="both name class 1"):
        load_dataset(f"folder:{root}")


def test_test_class_missing_from_train(make_folder_dataset):
    root = make_folder_dataset({"cls0": 1}, splits=("train",))
    make_folder_dataset({"cls0": 1, "cls7": 1}, splits=("valid",))
    with pytest.raises(ConfigError, match=f"class folder {root}/valid/cls7 has no counterpart in {root}/train"):
        load_dataset(f"folder:{root}", split="test")


def test_undecodable_image_names_the_file(make_folder_dataset):
    root = make_folder_dataset({"cls0": 2, "cls1": 1})
    (root / "train" / "cls1" / "0.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(ConfigError, match=f"cannot decode image {root}/train/cls1/0.png"):
        load_dataset(f"folder:{root}")


def test_empty_folder_spec_name():
    with pytest.raises(ConfigError, match="folder:<path>"):
        get_spec("folder:")
