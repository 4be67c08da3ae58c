"""Golden tests of methods/losses.py.

The contrastive losses are checked against loop implementations written here straight from the formulas
(ecogan-upstream.md §5.1-5.2, peers.md §1a), one scalar torch op at a time in float64, so that values *and*
autograd gradients (which depend on which maxima are detached) can be compared. The adversarial losses are
checked against torch.nn.functional computations written another way, and the gradient penalty against
closed forms.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from bench.errors import ConfigError
from bench.methods.losses import (
    GP_WEIGHT,
    bagan_d_loss,
    bagan_g_loss,
    bce_d_loss,
    bce_g_loss,
    contrastive_2c_loss,
    d2d_ce_loss,
    eco_loss,
    gradient_penalty,
    hinge_d_loss,
    hinge_g_loss,
)

# -- loop references, from the formulas ------------------------------------------------------------


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.dot(a, b) / (torch.linalg.vector_norm(a) * torch.linalg.vector_norm(b))


def loop_eco(e, p, y, tau, shift):
    """ECO, §5.1. shift="paper": each block by its own detached row max; "none": no shift at all."""
    n, total = len(y), 0.0
    for i in range(n):
        s_f = {j: _cos(e[i], e[j]) for j in range(n) if j != i}
        s_l = [_cos(e[i], p[j]) for j in range(n)]
        m_f = max(s_f.values()).detach() if shift == "paper" else 0.0
        m_l = max(s_l).detach() if shift == "paper" else 0.0
        num = den = 0.0
        for j in range(n):
            l_ij = torch.exp((s_l[j] - m_l) / tau)
            den = den + l_ij
            if y[j] == y[i]:
                num = num + l_ij
            if j != i:
                f_ij = torch.exp((s_f[j] - m_f) / tau)
                den = den + f_ij
                if y[j] == y[i]:
                    num = num + f_ij
        total = total - torch.log(num / den)
    return total / n


def loop_2c(e, p, y, tau):
    """2C, §5.2: own proxy + same-class data over own proxy + all other data, no shift."""
    n, total = len(y), 0.0
    for i in range(n):
        own = torch.exp(_cos(e[i], p[i]) / tau)
        num = den = own
        for j in range(n):
            if j == i:
                continue
            term = torch.exp(_cos(e[i], e[j]) / tau)
            den = den + term
            if y[j] == y[i]:
                num = num + term
        total = total - torch.log(num / den)
    return total / n


def loop_d2d(e, p, y, tau, margin, shift=True):
    """D2D-CE as StudioGAN; shift=False drops the negatives' row-max shift (to show that it matters)."""
    n, total = len(y), 0.0
    for i in range(n):
        sims = {j: (_cos(e[i], e[j]) + margin - 1.0) / tau for j in range(n) if j != i}
        top = max(sims.values()).detach() if shift else 0.0
        pos = torch.relu((margin - _cos(e[i], p[i])) / tau)
        acc = torch.exp(-pos)
        for j in range(n):
            if j != i and y[j] != y[i]:
                acc = acc + torch.exp(torch.relu(sims[j]) - top)
        total = total + pos + torch.log(acc)
    return total / n


# -- inputs --------------------------------------------------------------------------------------------

# 12 samples over classes 0..5: class 2 absent, class 4 a singleton, class 0 the head; shuffled.
MAIN_LABELS = [0, 0, 0, 0, 1, 1, 1, 3, 3, 4, 5, 5]
LABEL_SETS = {
    "longtail": MAIN_LABELS,
    "one-class": [2, 2, 2, 2, 2],
    "pair": [0, 1],
}


def make_inputs(labels, dim=6, seed=0, dtype=torch.float64):
    """Unnormalised embeddings (B, dim) and per-sample proxies looked up from a class table."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.tensor(labels)
    y = y[torch.randperm(len(y), generator=gen)]
    e = (torch.randn(len(y), dim, generator=gen, dtype=dtype) * 2.0).requires_grad_(True)
    table = torch.randn(int(y.max()) + 1, dim, generator=gen, dtype=dtype).requires_grad_(True)
    return e, table, y


def _vec_and_loop(vec_fn, loop_fn, labels, seed=0):
    """Values and gradients (w.r.t. embeds and the proxy table) of both implementations."""
    out = []
    for fn in (vec_fn, loop_fn):
        e, table, y = make_inputs(labels, seed=seed)
        loss = fn(e, table[y], y)
        grads = torch.autograd.grad(loss, (e, table))
        out.append((loss.detach(), grads))
    return out


def _assert_same(vec, ref):
    (v_loss, v_grads), (r_loss, r_grads) = vec, ref
    torch.testing.assert_close(v_loss, r_loss, rtol=1e-6, atol=1e-9)
    for v, r in zip(v_grads, r_grads, strict=True):
        torch.testing.assert_close(v, r, rtol=1e-6, atol=1e-9)


# -- ECO ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("labels", LABEL_SETS.values(), ids=LABEL_SETS.keys())
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_eco_paper_matches_loop(labels, tau):
    vec, ref = _vec_and_loop(lambda e, p, y: eco_loss(e, p, y, tau, "paper"),
                             lambda e, p, y: loop_eco(e, p, y, tau, "paper"), labels)
    _assert_same(vec, ref)


@pytest.mark.parametrize("labels", LABEL_SETS.values(), ids=LABEL_SETS.keys())
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_eco_fixed_is_the_unshifted_log_ratio(labels, tau):
    vec, ref = _vec_and_loop(lambda e, p, y: eco_loss(e, p, y, tau, "fixed"),
                             lambda e, p, y: loop_eco(e, p, y, tau, "none"), labels)
    _assert_same(vec, ref)


def test_eco_paper_differs_from_fixed_by_the_block_reweighting():
    e, table, y = make_inputs(MAIN_LABELS)
    p = table[y]
    paper, fixed = eco_loss(e, p, y, quirks="paper"), eco_loss(e, p, y, quirks="fixed")
    assert abs(paper.item() - fixed.item()) > 1e-3
    # Independent closed form (§5.1 notes): the unshifted ratio with F re-weighted by exp((m^l - m^f)/tau).
    with torch.no_grad():
        en, pn = F.normalize(e, dim=1), F.normalize(p, dim=1)
        s_f, s_l = en @ en.T, en @ pn.T
        off = ~torch.eye(len(y), dtype=torch.bool)
        same = (y[:, None] == y[None, :]).double()
        m_f = torch.where(off, s_f, torch.tensor(-2.0, dtype=s_f.dtype)).max(dim=1).values
        m_l = s_l.max(dim=1).values
        weight = torch.exp(m_l - m_f)[:, None]
        f_w = torch.exp(s_f) * off * weight
        lp = torch.exp(s_l)
        expected = -torch.log(((same * lp).sum(1) + (same * f_w).sum(1)) / (lp.sum(1) + f_w.sum(1))).mean()
    torch.testing.assert_close(paper.detach(), expected, rtol=1e-10, atol=0)


def test_eco_is_invariant_to_input_scale():
    e, table, y = make_inputs(MAIN_LABELS)
    for quirks in ("paper", "fixed"):
        base = eco_loss(e, table[y], y, quirks=quirks)
        scaled = eco_loss(7.5 * e, 0.01 * table[y], y, quirks=quirks)
        torch.testing.assert_close(scaled, base, rtol=1e-12, atol=1e-12)
        normalised = eco_loss(F.normalize(e, dim=1), F.normalize(table[y], dim=1), y, quirks=quirks)
        torch.testing.assert_close(normalised, base, rtol=1e-12, atol=1e-12)


# -- 2C ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("labels", LABEL_SETS.values(), ids=LABEL_SETS.keys())
@pytest.mark.parametrize("tau", [1.0, 0.2])
def test_2c_matches_loop(labels, tau):
    vec, ref = _vec_and_loop(lambda e, p, y: contrastive_2c_loss(e, p, y, tau),
                             lambda e, p, y: loop_2c(e, p, y, tau), labels)
    _assert_same(vec, ref)


# -- D2D-CE ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("labels", LABEL_SETS.values(), ids=LABEL_SETS.keys())
@pytest.mark.parametrize(("tau", "margin"), [(0.5, 0.98), (1.0, 0.5), (0.1, 0.9), (0.25, 1.0)])
def test_d2d_ce_matches_loop(labels, tau, margin):
    vec, ref = _vec_and_loop(lambda e, p, y: d2d_ce_loss(e, p, y, tau, margin),
                             lambda e, p, y: loop_d2d(e, p, y, tau, margin), labels)
    _assert_same(vec, ref)


def test_d2d_ce_defaults_are_studiogan_reacgan():
    e, table, y = make_inputs(MAIN_LABELS)
    torch.testing.assert_close(d2d_ce_loss(e, table[y], y), loop_d2d(e, table[y], y, 0.5, 0.98),
                               rtol=1e-10, atol=0)


def test_d2d_ce_negative_shift_changes_the_value():
    e, table, y = make_inputs(MAIN_LABELS)
    shifted = d2d_ce_loss(e, table[y], y)
    unshifted = loop_d2d(e, table[y], y, 0.5, 0.98, shift=False)
    assert abs(shifted.item() - unshifted.item()) > 1e-3


def test_d2d_ce_margin_and_temperature_move_the_loss():
    e, table, y = make_inputs(MAIN_LABELS)
    values = {(t, m): d2d_ce_loss(e, table[y], y, t, m).item() for t in (0.5, 1.0) for m in (0.5, 0.98)}
    assert len({round(v, 9) for v in values.values()}) == 4


def test_d2d_ce_is_zero_without_negatives_and_a_met_margin():
    """One class and every embedding on its proxy: pos = relu(m_p - 1) = 0 and no negatives, so loss = 0."""
    proxy = torch.randn(1, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    e = proxy.repeat(4, 1) * torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    y = torch.zeros(4, dtype=torch.long)
    assert d2d_ce_loss(e, proxy.repeat(4, 1), y).item() == pytest.approx(0.0, abs=1e-12)


# -- shared properties of the three ------------------------------------------------------------------

CONTRASTIVE = {
    "eco-paper": (lambda e, p, y, t: eco_loss(e, p, y, t, "paper"), lambda e, p, y, t: loop_eco(e, p, y, t, "paper")),
    "eco-fixed": (lambda e, p, y, t: eco_loss(e, p, y, t, "fixed"), lambda e, p, y, t: loop_eco(e, p, y, t, "none")),
    "2c": (contrastive_2c_loss, loop_2c),
    "d2d-ce": (lambda e, p, y, t: d2d_ce_loss(e, p, y, t, 0.98), lambda e, p, y, t: loop_d2d(e, p, y, t, 0.98)),
}


@pytest.mark.parametrize("name", CONTRASTIVE)
def test_proxies_are_taken_per_sample(name):
    """Row i of proxies is sample i's proxy, even when rows of one class differ (no class-table lookup inside)."""
    vec, loop = CONTRASTIVE[name]
    e, _, y = make_inputs(MAIN_LABELS, seed=4)
    p = torch.randn(len(y), e.shape[1], generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    torch.testing.assert_close(vec(e, p, y, 0.7), loop(e, p, y, 0.7), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", CONTRASTIVE)
def test_float32_gradients_are_finite(name):
    vec, _ = CONTRASTIVE[name]
    e, table, y = make_inputs(MAIN_LABELS, dim=32, dtype=torch.float32)
    loss = vec(e, table[y], y, 0.5)
    loss.backward()
    assert loss.dtype == torch.float32 and loss.dim() == 0 and torch.isfinite(loss)
    assert torch.isfinite(e.grad).all() and torch.isfinite(table.grad).all()
    assert e.grad.abs().sum() > 0


@pytest.mark.parametrize("name", CONTRASTIVE)
def test_small_temperature_does_not_overflow_float32(name):
    """exp(1/0.01) overflows float32; the float32 result must still match the float64 loop."""
    vec, loop = CONTRASTIVE[name]
    e, table, y = make_inputs(MAIN_LABELS, dim=16, seed=5, dtype=torch.float64)
    expected = loop(e, table[y], y, 0.01).item()
    got = vec(e.float(), table[y].float(), y, 0.01)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(expected, rel=1e-3, abs=1e-3)


@pytest.mark.parametrize("name", CONTRASTIVE)
def test_scale_invariance(name):
    vec, _ = CONTRASTIVE[name]
    e, table, y = make_inputs(MAIN_LABELS)
    torch.testing.assert_close(vec(3.0 * e, 0.2 * table[y], y, 0.5), vec(e, table[y], y, 0.5),
                               rtol=1e-12, atol=1e-12)


# -- bad inputs of the contrastive losses ------------------------------------------------------------

BAD_INPUTS = {
    "batch of one": (lambda: (torch.randn(1, 4), torch.randn(1, 4), torch.tensor([0]), 1.0), "at least 2 samples"),
    "proxies shape": (lambda: (torch.randn(3, 4), torch.randn(3, 5), torch.tensor([0, 1, 1]), 1.0), "proxies shape"),
    "labels length": (lambda: (torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0, 1]), 1.0), "labels shape"),
    "labels 2-D": (lambda: (torch.randn(3, 4), torch.randn(3, 4), torch.zeros(3, 1, dtype=torch.long), 1.0),
                   "labels shape"),
    "embeds 1-D": (lambda: (torch.randn(4), torch.randn(4), torch.tensor([0, 1, 1, 0]), 1.0), "(B, D)"),
    "float labels": (lambda: (torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0.0, 1.0, 1.0]), 1.0), "integer"),
    "zero temperature": (lambda: (torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0, 1, 1]), 0.0),
                         "temperature must be > 0"),
    "negative temperature": (lambda: (torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0, 1, 1]), -0.5),
                             "temperature must be > 0"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
@pytest.mark.parametrize("loss_fn", [eco_loss, contrastive_2c_loss, d2d_ce_loss],
                         ids=["eco", "2c", "d2d-ce"])
def test_contrastive_bad_inputs_raise_config_error(loss_fn, case):
    make, fragment = BAD_INPUTS[case]
    e, p, y, tau = make()
    with pytest.raises(ConfigError) as info:
        loss_fn(e, p, y, tau)
    message = str(info.value)
    assert fragment in message and "\n" not in message and loss_fn.__name__ in message


def test_eco_unknown_quirks_lists_the_known_ones():
    e, table, y = make_inputs(MAIN_LABELS)
    with pytest.raises(ConfigError) as info:
        eco_loss(e, table[y], y, quirks="papr")
    message = str(info.value)
    assert "'papr'" in message and "paper" in message and "fixed" in message and "\n" not in message


# -- adversarial losses ------------------------------------------------------------------------------


def _logits(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3.0


def test_bce_losses_match_softplus_forms():
    real, fake = _logits(16, seed=1), _logits(16, 1, seed=2)
    # BCE(x, 1) = softplus(-x); BCE(x, 0) = softplus(x)
    expected_d = F.softplus(-real).mean() + F.softplus(fake).mean()
    torch.testing.assert_close(bce_d_loss(real, fake), expected_d, rtol=1e-12, atol=0)
    torch.testing.assert_close(bce_g_loss(fake), F.softplus(-fake).mean(), rtol=1e-12, atol=0)


def test_bce_elementwise_against_math():
    real, fake = _logits(5, seed=3), _logits(5, seed=4)
    ref = sum(math.log1p(math.exp(-r)) for r in real.tolist()) / 5 + sum(
        math.log1p(math.exp(f)) for f in fake.tolist()) / 5
    assert bce_d_loss(real, fake).item() == pytest.approx(ref, rel=1e-12)


def test_hinge_losses():
    real, fake = _logits(20, seed=5), _logits(20, seed=6)
    expected_d = torch.where(real < 1, 1 - real, 0.0).sum() / 20 + torch.where(fake > -1, 1 + fake, 0.0).sum() / 20
    torch.testing.assert_close(hinge_d_loss(real, fake), expected_d, rtol=1e-12, atol=0)
    torch.testing.assert_close(hinge_g_loss(fake), -fake.sum() / fake.numel(), rtol=1e-12, atol=0)


def test_bagan_losses_match_log_softmax_forms():
    num_classes = 4
    real, fake = _logits(10, num_classes + 1, seed=7), _logits(6, num_classes + 1, seed=8)  # fakes: another B
    y = torch.tensor([0, 1, 2, 3, 0, 0, 1, 2, 3, 3])
    target = torch.tensor([3, 2, 1, 0, 1, 2])
    expected_d = (-real.log_softmax(1).gather(1, y[:, None]).mean()) + (-fake.log_softmax(1)[:, num_classes].mean())
    torch.testing.assert_close(bagan_d_loss(real, y, fake), expected_d, rtol=1e-12, atol=0)
    expected_g = -fake.log_softmax(1)[torch.arange(6), target].mean()
    torch.testing.assert_close(bagan_g_loss(fake, target), expected_g, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: bagan_d_loss(torch.randn(4), torch.zeros(4, dtype=torch.long), torch.randn(4, 3)), "(B, C+1)"),
    (lambda: bagan_d_loss(torch.randn(4, 1), torch.zeros(4, dtype=torch.long), torch.randn(4, 1)), "(B, C+1)"),
    (lambda: bagan_d_loss(torch.randn(4, 3), torch.zeros(4, dtype=torch.long), torch.randn(4, 4)), "columns"),
    (lambda: bagan_d_loss(torch.randn(4, 3), torch.zeros(5, dtype=torch.long), torch.randn(4, 3)), "real_labels"),
    (lambda: bagan_g_loss(torch.randn(4), torch.zeros(4, dtype=torch.long)), "(B, C+1)"),
    (lambda: bagan_g_loss(torch.randn(4, 3), torch.zeros(3, dtype=torch.long)), "target_labels"),
], ids=["d-1d", "d-one-column", "d-columns", "d-labels", "g-1d", "g-labels"])
def test_bagan_bad_shapes_raise_config_error(call, fragment):
    with pytest.raises(ConfigError) as info:
        call()
    assert fragment in str(info.value) and "\n" not in str(info.value)


# -- gradient penalty --------------------------------------------------------------------------------


def _images(batch=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 2, 3, 3, generator=gen, dtype=torch.float64),
            torch.randn(batch, 2, 3, 3, generator=gen, dtype=torch.float64))


def test_gp_weight_constant():
    assert GP_WEIGHT == 10.0


@pytest.mark.parametrize("quirks", ["paper", "fixed"])
@pytest.mark.parametrize("column", [False, True], ids=["(B,)", "(B,1)"])
def test_gp_of_a_linear_critic_is_closed_form_and_trains_it(quirks, column):
    """d(x) = <w, x>: the gradient is w for every alpha, so GP = (|w| - 1)^2 and dGP/dw = 2(|w| - 1) w/|w|."""
    real, fake = _images()
    w = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64).requires_grad_(True)

    def d_fn(x):
        out = (x * w).flatten(1).sum(1)
        return out[:, None] if column else out

    torch.manual_seed(0)
    gp = gradient_penalty(d_fn, real, fake, quirks)
    norm = w.detach().norm()
    assert gp.item() == pytest.approx((norm.item() - 1.0) ** 2, rel=1e-12)
    gp.backward()
    torch.testing.assert_close(w.grad, 2 * (norm - 1) * w.detach() / norm, rtol=1e-10, atol=1e-12)


def test_gp_per_sample_norms_of_a_nonlinear_critic():
    """d(x) = sum tanh(w x): per-sample gradient w (1 - tanh^2(w x̃)), computed by hand from the recorded x̃."""
    real, fake = _images(seed=1)
    w = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    seen = []

    def d_fn(x):
        seen.append(x.detach().clone())
        return torch.tanh(x * w).flatten(1).sum(1)

    torch.manual_seed(1)
    gp = gradient_penalty(d_fn, real, fake, "fixed")
    x_hat = seen[0]
    norms = [(w * (1 - torch.tanh(w * x_hat[i]) ** 2)).norm().item() for i in range(len(x_hat))]
    expected = sum((n - 1.0) ** 2 for n in norms) / len(norms)
    assert gp.item() == pytest.approx(expected, rel=1e-12)


def _recorded_alphas(quirks, batch=256, seed=0):
    real, fake = _images(batch=batch, seed=3)
    seen = []

    def d_fn(x):
        seen.append(x.detach().clone())
        return x.flatten(1).sum(1) ** 2

    torch.manual_seed(seed)
    gradient_penalty(d_fn, real, fake, quirks)
    alpha = (seen[0] - real) / (fake - real)  # (B, C, H, W): one value per sample, repeated
    return alpha


@pytest.mark.parametrize(("quirks", "draw"), [("paper", torch.randn), ("fixed", torch.rand)])
def test_gp_alpha_is_one_draw_per_sample_from_the_global_rng(quirks, draw):
    alpha = _recorded_alphas(quirks, seed=11)
    per_sample = alpha.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample), rtol=1e-8, atol=1e-8)
    torch.manual_seed(11)
    expected = draw(256, 1, 1, 1, dtype=torch.float64)
    torch.testing.assert_close(alpha[:, :1, :1, :1], expected, rtol=1e-8, atol=1e-8)


def test_gp_paper_extrapolates_and_fixed_interpolates():
    paper = _recorded_alphas("paper")[:, 0, 0, 0]
    fixed = _recorded_alphas("fixed")[:, 0, 0, 0]
    assert ((paper < 0) | (paper > 1)).any()
    assert ((fixed >= -1e-9) & (fixed <= 1 + 1e-9)).all()


def test_gp_does_not_reach_the_generator():
    real, _ = _images()
    g_param = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    fake = real.flip(0) * g_param  # a "generator output" that would carry gradient to g_param
    w = torch.ones(2, 3, 3, dtype=torch.float64, requires_grad=True)
    gp = gradient_penalty(lambda x: torch.tanh(x * w).flatten(1).sum(1), real, fake, "fixed")
    gp.backward()
    assert g_param.grad is None and w.grad is not None and torch.isfinite(w.grad).all()


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda r, f: gradient_penalty(lambda x: x.flatten(1).sum(1), r, f, "uniform"), "unknown quirks"),
    (lambda r, f: gradient_penalty(lambda x: x.flatten(1).sum(1), r, f[:, :1], "paper"), "fake shape"),
    (lambda r, f: gradient_penalty(lambda x: x.flatten(1)[:, :2], r, f, "paper"), "d_fn must return"),
], ids=["quirks", "shapes", "d_fn-output"])
def test_gp_bad_inputs_raise_config_error(call, fragment):
    real, fake = _images()
    with pytest.raises(ConfigError) as info:
        call(real, fake)
    assert fragment in str(info.value) and "\n" not in str(info.value)


# -- device placement --------------------------------------------------------------------------------


def test_everything_is_built_on_the_inputs_device():
    """On the meta device any mask or target made on the CPU would fail to combine with the inputs."""
    meta = torch.device("meta")
    e = torch.randn(8, 4, device=meta, requires_grad=True)
    p = torch.randn(8, 4, device=meta)
    y = torch.zeros(8, dtype=torch.long, device=meta)
    losses = [eco_loss(e, p, y, quirks="paper"), eco_loss(e, p, y, quirks="fixed"), contrastive_2c_loss(e, p, y),
              d2d_ce_loss(e, p, y)]
    real = torch.randn(4, 3, 2, 2, device=meta)
    w = torch.randn(3, 2, 2, device=meta, requires_grad=True)
    losses.append(gradient_penalty(lambda x: (x * w).flatten(1).sum(1), real, real.clone(), "paper"))
    logits = torch.randn(8, 3, device=meta)
    losses += [bagan_d_loss(logits, y, logits), bagan_g_loss(logits, y)]
    for loss in losses:
        assert loss.device == meta and loss.shape == ()
