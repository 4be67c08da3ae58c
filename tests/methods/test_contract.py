"""The contract every registered method keeps, checked on each of them — the package's methods and the example of
docs/adding-a-method.md — so that a new method file is covered the moment it exists:

- autocast covers the forward passes only (never ``backward()`` or ``opt.step()``), D takes no gradient in a G step,
  the real batch is checked before any D update, the G EMA follows the Hyper;
- each training aid changes the method's D loss (LeCam adds its weighted term; DiffAugment changes what D sees),
  or the method declares it cannot take the aid and the plan refuses it;
- a resume from a checkpoint continues exactly as an uninterrupted run;
- the plan (``Method.check_build``) refuses what the build would refuse, and lets through only what builds; the
  plan's ``g_cond`` reaches G.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from doc_example import load_doc_example

import bench.methods.base as base
from bench.errors import ConfigError
from bench.methods import METHODS, get_method, list_methods
from bench.methods.base import MethodConfig, losses_to_floats
from bench.rng import rng_state, set_rng_state

load_doc_example()
PAPER = ("bagan", "ebgan", "contragan", "reacgan", "ecogan")
# every method of the package, and the doc's example (methods registered by other test files are left out, so that
# the list does not depend on the order pytest imports them in)
CONTRACT = [name for name in list_methods()
            if METHODS.entries[name].__module__.startswith("bench.methods.") or name == "mygan"]
C = 3


def build(name: str, *, regularizer: str = "none", augment: str = "none", **options):
    torch.manual_seed(0)
    config = MethodConfig(num_classes=C, image_size=16, channels=1, backbone="tiny", batch_size=4,
                          regularizer=regularizer, augment=augment, options=options)
    return get_method(name)(config)


def batch():
    return torch.rand(6, 1, 16, 16) * 2 - 1, torch.tensor([0, 0, 1, 1, 2, 2])


def iteration(method) -> dict[str, float]:
    """One training iteration as the loop runs it: n_dis D steps on fresh batches, a G step, the EMA."""
    losses = [method.d_step(*batch()) for _ in range(method.n_dis)]
    losses.append(method.g_step())
    method.update_ema(1)
    return {k: v for step in losses_to_floats(losses) for k, v in step.items()}


def test_the_contract_covers_every_package_method_and_the_doc_example():
    assert set(PAPER) <= set(CONTRACT) and {"acgan", "projgan", "idagan", "mygan"} <= set(CONTRACT)


@pytest.mark.parametrize("name", CONTRACT)
def test_autocast_covers_forward_passes_only(name):
    method = build(name)
    method.amp_dtype = torch.bfloat16
    seen: list[tuple[str, bool]] = []
    forward_seen: list[bool] = []
    for label, opt in (("opt_d", method.opt_d), ("opt_g", method.opt_g)):
        step = opt.step
        opt.step = lambda *a, _step=step, _label=label, **k: (seen.append((_label, torch.is_autocast_enabled("cpu"))),
                                                               _step(*a, **k))[1]
    hook = method.D.register_forward_hook(lambda *_: forward_seen.append(torch.is_autocast_enabled("cpu")))
    grad_hooks = [p.register_hook(lambda g: (seen.append(("backward", torch.is_autocast_enabled("cpu"))), g)[1])
                  for p in method.G.parameters()]
    method.d_step(*batch())
    method.g_step()
    hook.remove()
    for h in grad_hooks:
        h.remove()
    assert {label for label, _ in seen} == {"opt_d", "opt_g", "backward"}
    assert not any(enabled for _, enabled in seen), seen  # backward and step outside autocast
    assert forward_seen and all(forward_seen)  # D's forward passes inside it


@pytest.mark.parametrize("name", CONTRACT)
def test_g_step_leaves_d_untouched_and_trainable(name):
    method = build(name)
    method.d_step(*batch())
    before = [p.detach().clone() for p in method.D.parameters()]
    for p in method.D.parameters():
        p.grad = None
    method.g_step()
    assert all(p.grad is None for p in method.D.parameters())  # frozen during the G step
    assert all(torch.equal(a, b) for a, b in zip(before, method.D.parameters(), strict=True))
    assert all(p.requires_grad for p in method.D.parameters())  # and trainable again after it


@pytest.mark.parametrize("name", CONTRACT)
def test_d_step_checks_the_real_batch_before_updating(name):
    method = build(name)
    before = [p.detach().clone() for p in method.D.parameters()]
    x, _ = batch()
    with pytest.raises(ConfigError, match="out of range"):
        method.d_step(x, torch.tensor([0, 0, 1, 1, 2, 7]))
    assert all(torch.equal(a, b) for a, b in zip(before, method.D.parameters(), strict=True))


@pytest.mark.parametrize("name", PAPER)
def test_ema_follows_the_hyper(name):
    assert build(name).G_ema is None  # every paper method defaults to no EMA on the tiny backbone
    method = build(name, ema_decay=0.5, ema_start=2)
    assert method.G_ema is not None and (method.ema_decay, method.ema_start) == (0.5, 2)
    assert method.hp.ema_decay == 0.5


@pytest.mark.parametrize("name", CONTRACT)
def test_lecam_adds_its_weighted_term_to_the_d_loss_or_is_refused(name):
    cls = get_method(name)
    if not cls.d_has_adversarial_logit:
        with pytest.raises(ConfigError, match="needs a D with an adversarial"):
            cls.check_build(MethodConfig(num_classes=C, image_size=16, channels=1, backbone="tiny",
                                         regularizer="lecam"), cls.resolve_hyper({}, "tiny"))
        return
    with_lecam, plain = build(name, regularizer="lecam"), build(name)
    x, y = batch()
    torch.manual_seed(1)
    out = losses_to_floats([with_lecam.d_step(x, y)])[0]
    torch.manual_seed(1)
    reference = losses_to_floats([plain.d_step(x, y)])[0]
    assert out["loss/d_lecam"] > 0 and "loss/d_lecam" not in reference
    assert out["loss/d"] == pytest.approx(reference["loss/d"] + 0.3 * out["loss/d_lecam"], rel=1e-5)


@pytest.mark.parametrize("name", CONTRACT)
def test_diffaugment_changes_what_d_sees_in_both_steps_and_so_the_d_loss(name, monkeypatch):
    calls: list[int] = []
    real_augment = base.diff_augment
    monkeypatch.setattr(base, "diff_augment", lambda x, policy, draw: calls.append(x.shape[0]) or
                        real_augment(x, policy, draw))
    augmented, plain = build(name, augment="diffaug"), build(name)
    x, y = batch()
    torch.manual_seed(1)
    out = losses_to_floats([augmented.d_step(x, y)])[0]
    d_calls = len(calls)
    augmented.g_step()
    assert d_calls >= 2 and len(calls) > d_calls  # reals and fakes in the D step; the fakes in the G step
    torch.manual_seed(1)
    reference = losses_to_floats([plain.d_step(x, y)])[0]
    assert len(calls) > d_calls and out["loss/d"] != reference["loss/d"]
    seen = len(calls)
    augmented.d_class_scores(x)  # a diagnostic sees the images as they are
    assert len(calls) == seen


@pytest.mark.parametrize("name", CONTRACT)
def test_resume_from_a_checkpoint_continues_exactly(name):
    """Train two iterations, checkpoint (modules, optimizers, extra state, RNG), train one more; a fresh method loaded
    from the checkpoint makes the same third iteration, bit for bit."""
    method = build(name)
    iteration(method)
    iteration(method)
    state, rng = method.state_dict(), rng_state()
    state = {k: _clone(v) for k, v in state.items()}
    after = iteration(method)
    resumed = build(name)
    torch.manual_seed(123)  # anything: the restored RNG state decides
    resumed.load_state_dict(state)
    set_rng_state(rng)
    assert iteration(resumed) == after
    for a, b in zip(method.G.parameters(), resumed.G.parameters(), strict=True):
        assert torch.equal(a, b)


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


BUILD_MATRIX = [
    *[("tiny", 16, g, reg, classes, 1) for g, reg, classes in itertools.product((None, "scale", "concat", "cbn"),
                                                                                  ("none", "lecam"), (1, C))],
    *[("dcgan64", 16, g, "none", C, ch) for g in (None, "cbn") for ch in (1, 3)],
    ("dcgan64", 24, None, "none", C, 3),  # an image size dcgan64 does not build
    ("biggan32", 32, None, "none", C, 3),
    ("biggan32", 32, "concat", "none", C, 3),
    ("biggan32", 16, None, "none", C, 3),
]


@pytest.mark.parametrize("name", CONTRACT)
def test_the_plan_refuses_exactly_what_the_build_refuses(name):
    """For each backbone, image size, g_cond, regulariser, class count and channel count of the matrix:
    ``check_build`` (what the plan runs before anything is built) refuses it if and only if building the method
    refuses it, with the same message."""
    cls = get_method(name)
    for backbone, size, g_cond, regularizer, classes, channels in BUILD_MATRIX:
        config = MethodConfig(num_classes=classes, image_size=size, channels=channels, backbone=backbone,
                              g_cond=g_cond, regularizer=regularizer, batch_size=4)
        where = f"{name} on {backbone} {size}px, g_cond {g_cond}, {regularizer}, {classes} classes, {channels} ch"
        try:
            hyper = cls.resolve_hyper({}, backbone)
            cls.check_build(config, hyper)
            planned = None
        except ConfigError as err:
            planned = str(err)
        try:
            torch.manual_seed(0)
            cls(config)
            built = None
        except ConfigError as err:
            built = str(err)
        assert planned == built, f"{where}: plan says {planned!r}, build says {built!r}"


@pytest.mark.parametrize("name", [n for n in CONTRACT if get_method(n).class_input == "generator"])
def test_the_plans_g_cond_reaches_g(name):
    """A method whose G is the backbone's conditional generator builds a different G for each g_cond (a method that
    ignored ``config.g_cond`` would train the paper's way under a cell named ``-g_concat``)."""
    shapes = {}
    for g_cond in ("scale", "concat", "cbn"):
        config = MethodConfig(num_classes=C, image_size=16, channels=1, backbone="tiny", g_cond=g_cond, batch_size=4)
        method = get_method(name)(config)
        shapes[g_cond] = tuple((k, tuple(v.shape)) for k, v in method.G.state_dict().items())
    assert len(set(shapes.values())) == 3


def test_a_registered_subclass_is_not_the_paper_row():
    from bench.methods import register_method

    ebgan = get_method("ebgan")
    sub = register_method("sub_of_ebgan_for_order_test")(type("SubEBGAN", (ebgan,), {}))
    assert list_methods()[:5] == list(PAPER) and "sub_of_ebgan_for_order_test" in list_methods()[5:]
    assert sub.paper_name() == "SUB_OF_EBGAN_FOR_ORDER_TEST" and sub.pretrains  # the stage is inherited, the name not
