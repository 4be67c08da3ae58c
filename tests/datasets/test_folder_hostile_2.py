"""Issue 21, items 1 and 10 and the decompression bomb: image folders a hostile user built, round 2. 16-bit gray
PNGs load on the 8-bit scale (not as white), modes with no 8-bit reading and decompression bombs are refused
naming the file, and a dataset at a long path (or with a 255-character folder name) trains and evaluates."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hostile_cli import bench
from PIL import Image

from bench.datasets import load_dataset
from bench.errors import ConfigError

pytestmark = pytest.mark.slow

VALUES = np.linspace(5000, 65535, 64).reshape(8, 8)  # the 16-bit range


def gray16_folder(root: Path, images_per_class: int = 4, save=lambda image, path: image.save(path)) -> Path:
    """<root>/{train,valid}/cls{0,1}/*.png: 8x8 16-bit gray images of VALUES (shifted per image)."""
    for split in ("train", "valid"):
        for k in range(2):
            (root / split / f"cls{k}").mkdir(parents=True)
            for i in range(images_per_class):
                values = np.clip(VALUES - 1000 * (i + k), 0, 65535).astype(np.uint16)
                save(Image.fromarray(values), root / split / f"cls{k}" / f"{i}.png")
    return root


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG file written by hand (Pillow cannot write 16-bit colour, nor a header that lies about the size)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def expected_8bit(image: Image.Image) -> np.ndarray:
    return np.round(np.asarray(image, dtype=np.float64) / 257).astype(np.uint8)


def smoke_run(dataset: Path, results: Path):
    return bench("run", "--dataset", f"folder:{dataset}", "--method", "ecogan", "--scale", "smoke", "--device",
                 "cpu", "--results-root", results)


# -- item 1: 16-bit PNGs ---------------------------------------------------------------------------------------
def test_item1_16_bit_gray_pngs_load_on_the_8_bit_scale(tmp_path):
    root = gray16_folder(tmp_path / "g16")
    first = root / "train" / "cls0" / "0.png"
    assert Image.open(first).mode == "I;16"
    data = load_dataset(f"folder:{root}", image_size=8)
    assert data.channels == 1
    assert np.array_equal(data.images[0, 0].numpy(), expected_8bit(Image.open(first)))
    white = float((data.images == 255).float().mean())
    assert white < 0.05, white  # main 672acd3: 99.9 % of the pixels read 255


@pytest.mark.parametrize(("mode", "make"), [
    ("I;16B", lambda v: Image.frombytes("I;16B", (8, 8), v.astype(">u2").tobytes())),
    ("I", lambda v: Image.fromarray(v.astype(np.int32))),
], ids=["I;16B", "I"])
def test_item1_other_16_bit_layouts_scale_alike(tmp_path, mode, make):
    path = tmp_path / "one.png"
    make(VALUES).save(path, format="TIFF")  # Pillow opens files by content: a TIFF named .png still loads
    assert Image.open(path).mode == mode
    from bench.datasets.decode import decode_image

    assert np.array_equal(decode_image(path)[0].numpy(), expected_8bit(Image.fromarray(VALUES.astype(np.uint16))))


def test_item1_16_bit_colour_pngs_still_read_as_8_bit_colour(tmp_path):
    """Pillow opens 16-bit RGB(A) PNGs as 8-bit RGB(A) (the high byte): nothing to scale there."""
    pixels = np.full((4, 4, 4), 40000, dtype=">u2")
    path = tmp_path / "rgba16.png"
    path.write_bytes(png_bytes(4, 4, 16, 6, b"".join(b"\x00" + row.tobytes() for row in pixels)))
    from bench.datasets.decode import decode_image

    assert set(decode_image(path).flatten().tolist()) == {40000 // 256}


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Image.fromarray(VALUES.astype(np.float32)), "32-bit float pixels (mode F) have no 8-bit reading"),
    (lambda: Image.fromarray((VALUES * 100).astype(np.int32)), "range over 500000..6553500, beyond 16 bits"),
], ids=["F", "I-beyond-16-bits"])
def test_item1_modes_without_an_8_bit_reading_are_refused_naming_the_file(tmp_path, make, message):
    root = gray16_folder(tmp_path / "g16")
    odd = root / "train" / "cls1" / "2.png"
    make().save(odd, format="TIFF")
    with pytest.raises(ConfigError, match=rf"cannot decode image {re.escape(str(odd))}: .*{re.escape(message)}"):
        load_dataset(f"folder:{root}", image_size=8)
    result = smoke_run(root, tmp_path / "results")
    assert result.exit_code == 1  # the cell fails with its reason, as for any bad data
    line = result.stderr.strip().splitlines()[-1]
    assert f"cannot decode image {odd}" in line and message in line, result.stderr


# -- minor: a decompression bomb is refused naming the file ------------------------------------------------------
def test_a_decompression_bomb_is_refused_naming_the_file(tmp_path):
    root = gray16_folder(tmp_path / "bombs")
    bomb = root / "train" / "cls0" / "9.png"

    bomb.write_bytes(png_bytes(20000, 10000, 8, 0, b""))  # claims 200 M pixels (Pillow's limit: 179 M), holds none
    limit = r"Image size \(200000000 pixels\) exceeds limit"
    with pytest.raises(ConfigError, match=rf"refusing image {re.escape(str(bomb))}: {limit}"):
        load_dataset(f"folder:{root}", image_size=8)
    result = smoke_run(root, tmp_path / "results")
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert f"refusing image {bomb}" in line and "decompression bomb" in line, result.stderr


# -- item 10: a dataset at a long path ---------------------------------------------------------------------------
def test_item10_a_dataset_at_a_long_path_with_a_255_character_name_trains(tmp_path):
    deep = tmp_path
    while len(str(deep)) < 215:
        deep = deep / ("d" * 40)
    root = deep / ("n" * 255)  # a folder name as long as a file name may be, at a path of over 215 characters
    rng = np.random.default_rng(0)
    for split in ("train", "valid"):
        for k in range(2):
            (root / split / f"cls{k}").mkdir(parents=True)
            for i in range(4):
                image = Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8))
                image.save(root / split / f"cls{k}" / f"{i}.png")
    results = tmp_path / "results"
    result = smoke_run(root, results)
    assert result.exit_code == 0, result.output  # main 672acd3: "File name too long" (the classifier cache)
    (status,) = results.glob("adhoc-smoke/*/status.json")
    assert json.loads(status.read_text())["state"] == "done"
    assert len(status.parent.name) < 80
