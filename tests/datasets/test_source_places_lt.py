"""Places_LT from a tiny generated tree (3 classes, PNG and JPEG), its cache and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ds_helpers import write_image

from bench.datasets import load_dataset
from bench.errors import ConfigError, DataNotFoundError

# (relative path, label, colour); PNG colours are checked exactly, JPEG ones approximately
TRAIN = [
    ("data_256/a/abbey/00000001.jpg", 0, (200, 10, 10)),
    ("data_256/b/beach/00000001.png", 1, (10, 200, 10)),
    ("data_256/a/abbey/00000002.jpg", 0, (180, 20, 20)),
    ("data_256/c/canyon/00000001.png", 2, (10, 10, 200)),
    ("data_256/a/abbey/00000003.jpg", 0, (160, 30, 30)),
    ("data_256/b/beach/00000002.png", 1, (30, 160, 30)),
    ("data_256/a/abbey/00000004.jpg", 0, (140, 40, 40)),
]
TEST = [(f"val_256/Places365_val_{i:08d}.png", i % 3, (i * 20, 50, 90)) for i in range(1, 7)]


def _write_list(path: Path, entries) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{p} {y}\n" for p, y, _ in entries))


@pytest.fixture
def places_root(tmp_path) -> Path:
    root = tmp_path / "data"
    _write_list(root / "Places_LT" / "Places_LT_train.txt", TRAIN)
    _write_list(root / "Places_LT" / "Places_LT_test.txt", TEST)
    for i, (rel, _, colour) in enumerate(TRAIN + TEST):
        shape = (30, 20) if i == 1 else (24, 24)  # one image of another size: resized, not rejected
        write_image(root / "places365" / rel, np.broadcast_to(np.array(colour, dtype=np.uint8), (*shape, 3)))
    return root


def test_train_split_follows_the_list(places_root):
    data = load_dataset("places_lt", data_root=places_root, image_size=16)
    assert data.name == "places_lt" and data.images.shape == (7, 3, 16, 16)
    assert data.labels.tolist() == [y for _, y, _ in TRAIN]
    assert data.num_classes == 3 and data.class_counts == [4, 2, 1]
    assert data.class_names == ["abbey", "beach", "canyon"]
    for i, (rel, _, colour) in enumerate(TRAIN):
        pixels = data.images[i].reshape(3, -1).int()
        if rel.endswith(".png"):
            assert pixels.unique(dim=1).t().tolist() == [list(colour)]
        else:
            assert (pixels - torch.tensor(colour)[:, None]).abs().max() <= 4


def test_test_split_and_gray(places_root):
    test = load_dataset("places_lt", split="test", data_root=places_root, image_size=8, channels=1)
    assert test.images.shape == (6, 1, 8, 8) and test.class_counts == [2, 2, 2]
    r, g, b = TEST[0][2]
    assert test.images[0].unique().tolist() == [(299 * r + 587 * g + 114 * b + 500) // 1000]


def test_cache_is_written_atomically_and_reused(places_root):
    first = load_dataset("places_lt", data_root=places_root, image_size=16)
    cache = places_root / ".cache" / "places_lt-train-16-3.pt"
    assert cache.is_file() and list(cache.parent.glob("*.tmp")) == []
    (places_root / "places365" / TRAIN[0][0]).unlink()  # only the cache can provide it now
    again = load_dataset("places_lt", data_root=places_root, image_size=16)
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)
    subset = load_dataset("places_lt", data_root=places_root, image_size=16, max_per_class=1)
    assert torch.equal(subset.images, first.images[[0, 1, 3]])


def test_cache_is_rebuilt_when_the_list_changes(places_root):
    load_dataset("places_lt", data_root=places_root, image_size=16)
    _write_list(places_root / "Places_LT" / "Places_LT_train.txt", TRAIN[1:])
    data = load_dataset("places_lt", data_root=places_root, image_size=16)
    assert data.labels.tolist() == [y for _, y, _ in TRAIN[1:]]


def test_subset_decodes_only_what_it_keeps_and_caches_nothing(places_root):
    (places_root / "places365" / TRAIN[2][0]).unlink()  # the second abbey image: not among the first 1 per class
    data = load_dataset("places_lt", data_root=places_root, image_size=16, max_per_class=1)
    assert data.labels.tolist() == [0, 1, 2]
    assert not (places_root / ".cache").exists()


def test_absent_lists_name_files_and_folder(tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("places_lt", data_root=tmp_path)
    message = str(err.value)
    for part in ("Places_LT/Places_LT_train.txt", "Places_LT/Places_LT_test.txt", f"{tmp_path}/places365",
                 "OpenLongTailRecognition-OLTR", "places2.csail.mit.edu"):
        assert part in message
    assert "\n" not in message


def test_missing_image_names_it(places_root):
    (places_root / "places365" / TRAIN[3][0]).unlink()
    with pytest.raises(DataNotFoundError, match="image file not found: .*canyon/00000001.png"):
        load_dataset("places_lt", data_root=places_root, image_size=16)


def test_malformed_list_line_names_file_and_line(places_root):
    path = places_root / "Places_LT" / "Places_LT_test.txt"
    path.write_text("val_256/a.png 0\nval_256/b.png\n")
    with pytest.raises(ConfigError, match=r"Places_LT_test.txt:2: expected '<relative path> <label>'"):
        load_dataset("places_lt", split="test", data_root=places_root, image_size=16)


def test_undecodable_image_names_it(places_root):
    (places_root / "places365" / TRAIN[1][0]).write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="cannot decode image .*beach/00000001.png"):
        load_dataset("places_lt", data_root=places_root, image_size=16)


def test_empty_list_is_refused(places_root):
    (places_root / "Places_LT" / "Places_LT_test.txt").write_text("\n")
    with pytest.raises(ConfigError, match="Places_LT_test.txt lists no images"):
        load_dataset("places_lt", split="test", data_root=places_root, image_size=16)


def test_unreadable_cache_is_rebuilt_with_a_warning(places_root):
    first = load_dataset("places_lt", data_root=places_root, image_size=16)
    cache = places_root / ".cache" / "places_lt-train-16-3.pt"
    cache.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="unreadable cache"):
        again = load_dataset("places_lt", data_root=places_root, image_size=16)
    assert torch.equal(again.images, first.images)
    assert torch.load(cache, weights_only=True)["images"].shape == (7, 3, 16, 16)  # rewritten


def test_unwritable_cache_only_warns(places_root):
    (places_root / ".cache").write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not write the Places_LT cache"):
        data = load_dataset("places_lt", data_root=places_root, image_size=16)
    assert data.images.shape == (7, 3, 16, 16)
