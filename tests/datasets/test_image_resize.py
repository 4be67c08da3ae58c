"""Resizing, channel conversion and file decoding (bench.datasets.resize, bench.datasets.decode)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ds_helpers import write_image
from PIL import Image

from bench.datasets.decode import decode_image, decode_image_files
from bench.datasets.resize import resize_images
from bench.errors import ConfigError, DataNotFoundError


def _bilinear_reference(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres and no antialias, written out per output pixel (float64)."""

    def taps(n_in: int):
        out = []
        for i in range(size):
            src = max((i + 0.5) * n_in / size - 0.5, 0.0)
            lo = min(int(np.floor(src)), n_in - 1)
            hi = min(lo + 1, n_in - 1)
            out.append((lo, hi, src - lo))
        return out

    h, w = image.shape
    result = np.zeros((size, size))
    for i, (y0, y1, fy) in enumerate(taps(h)):
        for j, (x0, x1, fx) in enumerate(taps(w)):
            top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
            bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
            result[i, j] = top * (1 - fy) + bottom * fy
    return result


@pytest.mark.parametrize(("n_in", "size", "step"), [(4, 8, 16), (4, 16, 64), (8, 4, 4), (8, 2, 4)])
def test_bilinear_matches_reference_exactly(n_in, size, step):
    # values on a grid of `step` make every interpolated value an exact integer, so rounding cannot differ
    gen = np.random.default_rng(0)
    image = gen.integers(0, 256 // step, (n_in, n_in)) * step
    got = resize_images(torch.from_numpy(image.astype(np.uint8))[None, None], size, 1)[0, 0].numpy()
    assert np.array_equal(got, _bilinear_reference(image.astype(float), size))


def test_downsampling_has_no_antialias():
    # 8 -> 4 without antialias averages each 2x2 block only; an antialiased resize would blur across blocks
    image = torch.zeros(1, 1, 8, 8, dtype=torch.uint8)
    image[..., 0::4, :] = 200  # rows 0 and 4 bright
    got = resize_images(image, 4, 1)[0, 0]
    assert got[:, 0].tolist() == [100, 0, 100, 0]


def test_non_multiple_sizes_round_half_up_against_reference():
    gen = np.random.default_rng(1)
    image = gen.integers(0, 256, (28, 28))
    got = resize_images(torch.from_numpy(image.astype(np.uint8))[None, None], 64, 1)[0, 0].numpy().astype(int)
    expected = np.floor(_bilinear_reference(image.astype(float), 64) + 0.5)
    assert np.abs(got - expected).max() <= 1  # float32 vs float64 at exact halves
    assert (got == expected).mean() > 0.99


def test_rgb_to_gray_is_itu_601_luma():
    gen = np.random.default_rng(2)
    rgb = gen.integers(0, 256, (5, 3, 6, 6))
    got = resize_images(torch.from_numpy(rgb.astype(np.uint8)), 6, 1)
    expected = (299 * rgb[:, 0] + 587 * rgb[:, 1] + 114 * rgb[:, 2] + 500) // 1000  # integer, half up
    assert np.array_equal(got[:, 0].numpy(), expected)
    pil = np.asarray(Image.fromarray(rgb[0].transpose(1, 2, 0).astype(np.uint8)).convert("L"))
    assert np.abs(pil.astype(int) - got[0, 0].numpy()).max() <= 1  # PIL's own fixed-point rounding


def test_gray_to_rgb_repeats():
    gray = torch.randint(0, 256, (2, 1, 5, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    rgb = resize_images(gray, 5, 3)
    assert rgb.shape == (2, 3, 5, 5) and all(torch.equal(rgb[:, c], gray[:, 0]) for c in range(3))


def test_nothing_to_do_returns_input():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    assert resize_images(images, 4, 3) is images


def test_constant_images_stay_constant_at_any_size():
    images = torch.full((3, 3, 7, 5), 173, dtype=torch.uint8)
    for size in (2, 16, 64):
        assert torch.all(resize_images(images, size, 3) == 173)


def test_decode_png_gray_and_rgb(tmp_path):
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    gray = np.arange(24, dtype=np.uint8).reshape(4, 6)
    assert torch.equal(decode_image(write_image(tmp_path / "c.png", rgb)), torch.from_numpy(rgb).permute(2, 0, 1))
    assert torch.equal(decode_image(write_image(tmp_path / "g.png", gray)), torch.from_numpy(gray)[None])


def test_decode_files_mixed_sizes_and_modes(tmp_path):
    files = [write_image(tmp_path / "a.png", np.full((8, 8, 3), 50)),
             write_image(tmp_path / "b.png", np.full((12, 10), 90)),
             write_image(tmp_path / "c.jpg", np.full((20, 20, 3), 128)),
             write_image(tmp_path / "d.png", np.full((8, 8, 3), 10))]
    out = decode_image_files(files, 16, 3, workers=2)
    assert out.shape == (4, 3, 16, 16) and out.dtype == torch.uint8
    assert out[0].unique().tolist() == [50] and out[1].unique().tolist() == [90] and out[3].unique().tolist() == [10]
    assert (out[2].int() - 128).abs().max() <= 2  # JPEG is lossy


def test_decode_undecodable_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ConfigError, match="cannot decode image .*broken.png"):
        decode_image_files([bad], 8, 3)


def test_decode_truncated_names_the_file(tmp_path):
    good = write_image(tmp_path / "full.png", np.random.default_rng(0).integers(0, 256, (64, 64, 3)))
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ConfigError, match="cannot decode image .*cut.png"):
        decode_image(cut)


def test_decode_missing_file_names_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="image file not found: .*nothere.png"):
        decode_image_files([tmp_path / "nothere.png"], 8, 3)
