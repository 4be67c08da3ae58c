"""LeCam and DiffAugment: the formulas, the method base applying them to every method, and the grid axes."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import bench.methods.base as base
from bench.config import RunConfig, hashed_view
from bench.errors import ConfigError
from bench.grid import load_grid, make_cell_id
from bench.methods import MethodConfig, get_method
from bench.methods.base import losses_to_floats
from bench.methods.diffaugment import color, cutout, diff_augment, translation
from bench.methods.lecam import LECAM_DECAY, LeCam, lecam_penalty
from bench.plan import make_plan

C, SIZE, BATCH = 4, 16, 6


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def scripted(*values: float):
    """A ``draw`` that hands out the given U(0, 1) values in order, each broadcast over its batch row."""
    queue = list(values)

    def draw(shape: tuple[int, ...]) -> torch.Tensor:
        rows = torch.tensor([queue.pop(0) for _ in range(shape[0])])
        return rows.view(shape[0], *([1] * (len(shape) - 1))).expand(shape).clone()

    return draw


# -- DiffAugment -------------------------------------------------------------------------------------

def test_translation_matches_a_hand_shift_with_zero_padding() -> None:
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    # s = round(8/8) = 1, t = floor(u·3) − 1, drawn t_x for both images, then t_y:
    # image 0 gets (t_x, t_y) = (−1, 1), image 1 (1, 0)
    out = translation(x, scripted(0.0, 0.99, 0.99, 0.5))
    expected = torch.zeros_like(x)
    for b, (tx, ty) in enumerate([(-1, 1), (1, 0)]):
        for i in range(8):
            for j in range(8):
                if 0 <= i + tx < 8 and 0 <= j + ty < 8:
                    expected[b, :, i, j] = x[b, :, i + tx, j + ty]
    assert torch.equal(out, expected)


def test_cutout_matches_a_hand_mask() -> None:
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    # k = 4, centre floor(u·9) ∈ 0..8, c_x for both images, then c_y: image 0 centre (0, 8) (clipped at the
    # border), image 1 (4, 2)
    out = cutout(x, scripted(0.0, 0.5, 0.99, 0.3))
    expected = x.clone()
    for b, (cx, cy) in enumerate([(0, 8), (4, 2)]):
        for i in range(8):
            for j in range(8):
                if cx - 2 <= i < cx + 2 and cy - 2 <= j < cy + 2:
                    expected[b, :, i, j] = 0
    assert torch.equal(out, expected)


def test_color_matches_the_three_formulas_and_is_the_identity_at_mid_draws() -> None:
    x = torch.rand(2, 3, 4, 4) * 2 - 1
    out = color(x, scripted(0.2, 0.9, 0.1, 0.7, 0.6, 0.3))  # brightness, saturation, contrast, per image
    for b, (ub, us, uc) in enumerate([(0.2, 0.1, 0.6), (0.9, 0.7, 0.3)]):
        h = x[b] + (ub - 0.5)
        h = (h - h.mean(0, keepdim=True)) * (2 * us) + h.mean(0, keepdim=True)
        h = (h - h.mean()) * (uc + 0.5) + h.mean()
        torch.testing.assert_close(out[b], h)
    torch.testing.assert_close(color(x, scripted(*[0.5] * 6)), x)


def test_diff_augment_keeps_shape_and_is_reproducible_under_a_fixed_seed() -> None:
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    torch.manual_seed(7)
    a = diff_augment(x)
    torch.manual_seed(7)
    b = diff_augment(x)
    assert a.shape == x.shape and a.dtype == x.dtype and torch.equal(a, b)
    assert not torch.equal(a, x)
    moved = diff_augment(x, "translation,cutout")  # these only move or zero pixels: the range stays
    assert moved.min() >= x.min() and moved.max() <= x.max()
    with pytest.raises(ConfigError, match="unknown transform 'flip'"):
        diff_augment(x, "color,flip")


def test_diff_augment_is_differentiable_back_to_the_generator() -> None:
    G = get_method("ecogan")(MethodConfig(num_classes=C, image_size=SIZE, channels=3, backbone="tiny")).G
    fake = G(torch.randn(4, 16), torch.arange(4))
    diff_augment(fake).square().mean().backward()
    grads = [p.grad for p in G.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


def make(name: str, regularizer: str = "none", augment: str = "none", **options):
    cfg = MethodConfig(num_classes=C, image_size=SIZE, channels=3, backbone="tiny", regularizer=regularizer,
                       augment=augment, batch_size=BATCH, options=options)
    return get_method(name)(cfg)


def real_batch():
    return torch.rand(BATCH, 3, SIZE, SIZE) * 2 - 1, torch.arange(BATCH) % C


@pytest.mark.parametrize(("name", "d_calls"), [("ecogan", 3), ("ebgan", 3), ("bagan", 2), ("acgan", 3),
                                               ("projgan", 3), ("idagan", 2)])
def test_every_image_d_sees_is_augmented_in_both_steps_and_not_in_diagnostics(name, d_calls, monkeypatch) -> None:
    """ECOGAN/ACGAN/ProjGAN/EBGAN: reals (EBGAN: once for its real and wrong-label terms), fakes, GP interpolates;
    BAGAN/IDA-GAN: no GP."""
    calls = []
    monkeypatch.setattr(base, "diff_augment", lambda x, policy, draw: calls.append(x.shape) or x + 0)
    m = make(name, augment="diffaug", **({"pretrained": False} if name == "ebgan" else {}))
    m.d_step(*real_batch())
    assert len(calls) == d_calls
    m.g_step()
    assert len(calls) == d_calls + 1
    m.d_class_scores(real_batch()[0])
    assert len(calls) == d_calls + 1
    calls.clear()
    plain = make(name, **({"pretrained": False} if name == "ebgan" else {}))
    plain.d_step(*real_batch())
    plain.g_step()
    assert calls == []


# -- LeCam -------------------------------------------------------------------------------------------

def test_lecam_penalty_matches_the_loop_form() -> None:
    real, fake = torch.randn(5), torch.randn(3)
    a_r, a_f = torch.tensor(0.7), torch.tensor(-0.4)
    expected = sum((float(r) - (-0.4)) ** 2 for r in real) / 5 + sum((float(f) - 0.7) ** 2 for f in fake) / 3
    assert float(lecam_penalty(real, fake, a_r, a_f)) == pytest.approx(expected, rel=1e-5)


def test_lecam_anchors_follow_their_ema_exactly() -> None:
    lecam = LeCam()
    alpha_r = alpha_f = None
    for step in range(4):
        real, fake = torch.randn(6) + step, torch.randn(6) - step
        mean_r, mean_f = float(real.mean()), float(fake.mean())
        alpha_r = mean_r if alpha_r is None else LECAM_DECAY * alpha_r + (1 - LECAM_DECAY) * mean_r
        alpha_f = mean_f if alpha_f is None else LECAM_DECAY * alpha_f + (1 - LECAM_DECAY) * mean_f
        penalty = lecam(real, fake)
        assert float(lecam.anchor_real) == pytest.approx(alpha_r, rel=1e-6, abs=1e-7)
        assert float(lecam.anchor_fake) == pytest.approx(alpha_f, rel=1e-6, abs=1e-7)
        expected = float(((real - alpha_f) ** 2).mean() + ((fake - alpha_r) ** 2).mean())
        assert float(penalty) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["ecogan", "acgan", "projgan", "idagan", "ebgan"])
def test_lecam_enters_the_d_loss_with_its_weight(name: str) -> None:
    m = make(name, regularizer="lecam", **({"pretrained": False} if name == "ebgan" else {}))
    out = losses_to_floats([m.d_step(*real_batch())])[0]
    torch.manual_seed(0)
    plain = make(name, **({"pretrained": False} if name == "ebgan" else {}))
    reference = losses_to_floats([plain.d_step(*real_batch())])[0]
    assert out["loss/d_lecam"] > 0 and "loss/d_lecam" not in reference
    assert out["loss/d"] == pytest.approx(reference["loss/d"] + 0.3 * out["loss/d_lecam"], rel=1e-5)
    assert int(m.lecam.updates) == 1 and "lecam" in m.modules()


def test_lecam_is_refused_in_one_line_where_d_has_no_adversarial_logit() -> None:
    with pytest.raises(ConfigError, match="bagan's D has none"):
        make("bagan", regularizer="lecam")
    with pytest.raises(ConfigError, match="bagan's D has none"):
        make_plan({"method": "bagan", "regularizer": "lecam"}, scale="smoke")
    with pytest.raises(ConfigError, match="regularizer = 'lecan' is not one of none, lecam"):
        make_plan({"method": "ecogan", "regularizer": "lecan"}, scale="smoke")
    make("bagan", augment="diffaug")  # DiffAugment needs no adversarial logit


# -- axes: ids, hashes, the ltgan grid, bench list ---------------------------------------------------

def test_the_aids_enter_id_and_hash_only_when_on() -> None:
    axes = {"dataset": "digits_lt", "method": "ecogan", "sampling": "none", "seed": 0}
    assert make_cell_id(axes) == "digits_lt-ecogan-none-s0"
    assert make_cell_id({**axes, "regularizer": "none", "augment": "none"}) == "digits_lt-ecogan-none-s0"
    assert make_cell_id({**axes, "regularizer": "lecam", "augment": "diffaug"}) == \
        "digits_lt-ecogan-none-s0-reg_lecam-aug_diffaug"
    plain = hashed_view(RunConfig().to_dict())
    assert "regularizer" not in plain and "augment" not in plain
    hashes = {make_plan({"regularizer": r, "augment": a}).hash for r in ("none", "lecam") for a in ("none", "diffaug")}
    assert len(hashes) == 4 and make_plan({}).hash in hashes


def test_the_ltgan_grid_crosses_eight_methods_with_the_aids_and_its_cpu_variant_runs_on_digits() -> None:
    grid = load_grid("ltgan")
    cells = grid.cells()
    assert len(cells) == 8 * 2 * 3
    assert {c.config.dataset for c in cells} == {"cifar10_lt_r100"} and all(c.config.image_size == 32 for c in cells)
    assert {c.config.method for c in cells} == {"acgan", "projgan", "contragan", "reacgan", "ecogan", "bagan",
                                                 "ebgan", "idagan"}
    assert all(c.config.protocols == ["standard"] for c in cells)
    aids = {(c.config.method, c.config.regularizer, c.config.augment) for c in cells}
    assert ("bagan", "none", "diffaug") in aids and ("bagan", "lecam", "diffaug") not in aids
    assert ("idagan", "lecam", "diffaug") in aids and ("acgan", "none", "none") in aids
    cpu = grid.cells(scale="cpu", only="seed=0")
    assert len(cpu) == 16 and {c.config.dataset for c in cpu} == {"digits_lt"}
    assert all(c.id.startswith("digits_lt-") and c.config.backbone == "dcgan64" for c in cpu)


def test_bench_list_shows_the_new_methods_and_the_aids() -> None:
    from bench.cli import main

    methods = CliRunner().invoke(main, ["list", "methods"])
    assert all(name in methods.output for name in ("idagan", "acgan", "projgan"))
    aids = CliRunner().invoke(main, ["list", "aids"])
    assert aids.exit_code == 0 and "lecam" in aids.output and "diffaug" in aids.output
