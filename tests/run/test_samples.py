"""bench.run.samples: which classes a grid shows, the tiling and labels, fixed latents."""

from __future__ import annotations

import numpy as np
import torch

from bench.run.samples import MAX_GRID_ROWS, class_grid, generate_uint8, grid_classes, latents, render_grid, to_pil


class LabelPainter:
    """A stand-in generator: every pixel of channel 0 encodes the label, pixel (0, 0) of channel 1 encodes z."""

    latent_dim = 4
    device = torch.device("cpu")

    def __init__(self, channels: int = 3, size: int = 6) -> None:
        self.channels, self.size = channels, size

    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = torch.full((len(y), self.channels, self.size, self.size), -1.0)
        out[:, 0] = (y.float() * 0.1 - 1.0)[:, None, None]  # label c -> uint8 round(12.75 c)
        if self.channels > 1:
            out[:, 1, 0, 0] = torch.tanh(z[:, 0])
        return out


def test_grid_classes_all_or_forty_evenly_spaced():
    assert grid_classes(10).tolist() == list(range(10))
    rows = grid_classes(365)
    assert len(rows) == MAX_GRID_ROWS and rows[0] == 0 and rows[-1] == 364
    gaps = rows.diff().float()
    assert gaps.min() >= 9 and gaps.max() <= 10  # 364 / 39 = 9.33


def test_latents_are_private_and_seeded():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    assert torch.equal(latents(5, 4, seed=1), latents(5, 4, seed=1))
    assert not torch.equal(latents(5, 4, seed=1), latents(5, 4, seed=2))
    assert torch.equal(torch.get_rng_state(), before)


def test_render_grid_places_every_tile_and_labels_every_row():
    rows, cols, size = 3, 4, 6
    images = torch.randint(0, 256, (rows, cols, 3, size, size), dtype=torch.uint8)
    picture = np.asarray(render_grid(images, ["zero (n=50)", "one (n=5)", "two (n=1)"]))
    height, width, _ = picture.shape
    pad = 2
    row_height = (height - pad) // rows
    margin = width - pad - cols * (size + pad)  # label margin, a pad, then tiles each followed by a pad
    assert margin > 0 and row_height >= size + pad
    for r in range(rows):
        for k in range(cols):
            top, left = pad + r * row_height, margin + pad + k * (size + pad)
            assert np.array_equal(picture[top:top + size, left:left + size], images[r, k].permute(1, 2, 0).numpy())
        label_area = picture[pad + r * row_height: pad + (r + 1) * row_height, :margin]
        assert (label_area < 128).any(), f"row {r} has no label text"


def test_render_grid_turns_gray_into_rgb():
    images = torch.full((1, 2, 1, 4, 4), 77, dtype=torch.uint8)
    picture = np.asarray(render_grid(images, ["a"]))
    assert picture.ndim == 3 and picture.shape[2] == 3 and (picture == 77).all(axis=2).sum() == 2 * 16


def test_class_grid_rows_hold_their_class_and_fixed_z():
    method = LabelPainter()
    classes = torch.tensor([0, 3, 7])
    names, counts = [f"c{i}" for i in range(8)], [100 - 10 * i for i in range(8)]
    grid = np.asarray(class_grid(method, classes, names, counts, per_class=5, seed=4))
    again = np.asarray(class_grid(method, classes, names, counts, per_class=5, seed=4))
    other = np.asarray(class_grid(method, classes, names, counts, per_class=5, seed=5))
    assert np.array_equal(grid, again) and not np.array_equal(grid, other)
    images = generate_uint8(method, classes.repeat_interleave(5), seed=4)
    assert images.shape == (15, 3, 6, 6)
    expected_red = (np.array([0, 3, 7]) * 0.1 * 127.5 + 0.5).astype(int)  # float_to_uint8 of c*0.1 - 1
    assert images[:, 0, 3, 3].reshape(3, 5).tolist() == [[v] * 5 for v in expected_red]


def test_to_pil_modes():
    assert to_pil(torch.zeros(1, 5, 5, dtype=torch.uint8)).mode == "L"
    assert to_pil(torch.zeros(3, 5, 5, dtype=torch.uint8)).mode == "RGB"
