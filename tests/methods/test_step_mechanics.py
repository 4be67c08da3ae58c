"""The step mechanics the Method base owns, checked on every registered paper method: autocast covers the forward
passes only (never ``backward()`` or ``opt.step()``), D takes no gradient in a G step, the real batch is checked
before any D update, and the G EMA is built from the Hyper."""

from __future__ import annotations

import pytest
import torch

from bench.errors import ConfigError
from bench.methods import get_method
from bench.methods.base import MethodConfig

PAPER = ("bagan", "ebgan", "contragan", "reacgan", "ecogan")


def build(name: str, **options):
    torch.manual_seed(0)
    config = MethodConfig(num_classes=3, image_size=16, channels=1, backbone="tiny", batch_size=4, options=options)
    return get_method(name)(config)


def batch():
    return torch.rand(6, 1, 16, 16) * 2 - 1, torch.tensor([0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize("name", PAPER)
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


@pytest.mark.parametrize("name", PAPER)
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


@pytest.mark.parametrize("name", PAPER)
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


def test_a_registered_subclass_is_not_the_paper_row():
    from bench.methods import list_methods, register_method

    ebgan = get_method("ebgan")
    sub = register_method("sub_of_ebgan_for_order_test")(type("SubEBGAN", (ebgan,), {}))
    assert list_methods()[:5] == list(PAPER) and "sub_of_ebgan_for_order_test" in list_methods()[5:]
    assert sub.paper_name() == "SUB_OF_EBGAN_FOR_ORDER_TEST" and sub.pretrains  # the stage is inherited, the name not
