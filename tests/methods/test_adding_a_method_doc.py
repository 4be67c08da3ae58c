"""The walkthrough in docs/adding-a-method.md works as written: its example file registers and trains, and the
training aids reach it with no code of its own."""

from __future__ import annotations

import pytest
import torch
from doc_example import load_doc_example

from bench.errors import ConfigError
from bench.methods import get_method, list_methods
from bench.methods.base import MethodConfig, losses_to_floats
from bench.plan import make_plan

load_doc_example()


def build(**keys):
    torch.manual_seed(0)
    return get_method("mygan")(MethodConfig(num_classes=3, image_size=16, channels=1, backbone="tiny", batch_size=4,
                                            **keys))


def batch():
    return torch.rand(6, 1, 16, 16) * 2 - 1, torch.tensor([0, 0, 1, 1, 2, 2])


def test_the_documented_example_method_registers_and_trains():
    assert list_methods()[-1] == "mygan" or "mygan" in list_methods()[5:]  # after the paper's five
    assert get_method("mygan").paper_name() == "MyGAN"
    method = build()
    x, y = batch()
    before = [p.detach().clone() for p in method.G.parameters()]
    losses = {**method.d_step(x, y), **method.g_step()}
    assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values()), losses
    assert any(not torch.equal(a, b) for a, b in zip(before, method.G.parameters(), strict=True))
    images = method.generate(torch.randn(3, method.latent_dim), torch.arange(3))
    assert images.shape == (3, 1, 16, 16) and images.abs().max() <= 1
    with pytest.raises(ConfigError, match="option lr = -1"):
        build(options={"lr": -1})
    with pytest.raises(ConfigError, match="out of range"):
        method.d_step(x, torch.tensor([0, 0, 1, 1, 2, 3]))
    from bench.report.summary import method_name

    assert method_name("mygan") == "MyGAN"


def test_the_documented_example_run_with_lecam_has_the_lecam_term_in_its_d_loss():
    """Issue 20: a method written from the doc, run with ``regularizer = lecam``, gets the LeCam term in its D loss
    from the base (its file has no LeCam code): loss/d = its own D loss + 0.3·R_LC, and R_LC is logged."""
    plan = make_plan({"dataset": "digits_lt", "method": "mygan", "regularizer": "lecam"}, scale="smoke")
    assert plan.config.regularizer == "lecam" and plan.hash != make_plan({"dataset": "digits_lt", "method": "mygan"},
                                                                         scale="smoke").hash
    data = {"num_classes": 3, "channels": 1, "image_size": 16, "class_counts": [2, 2, 2]}
    torch.manual_seed(0)
    with_lecam = get_method("mygan")(plan.method_config(data), "cpu")
    torch.manual_seed(0)
    plain = get_method("mygan")(make_plan({"dataset": "digits_lt", "method": "mygan"},
                                          scale="smoke").method_config(data), "cpu")
    torch.manual_seed(1)
    out = losses_to_floats([with_lecam.d_step(*batch())])[0]
    torch.manual_seed(1)
    reference = losses_to_floats([plain.d_step(*batch())])[0]
    assert "loss/d_lecam" in out and "loss/d_lecam" not in reference and out["loss/d_lecam"] > 0
    assert out["loss/d"] == pytest.approx(reference["loss/d"] + 0.3 * out["loss/d_lecam"], rel=1e-5)
    assert int(with_lecam.lecam.updates) == 1 and "lecam" in with_lecam.modules()  # its anchors are checkpointed
