"""The walkthrough in docs/adding-a-method.md works as written: its example file registers and trains."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import torch

from bench.errors import ConfigError
from bench.methods import get_method, list_methods
from bench.methods.base import MethodConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-method.md"


def test_the_documented_example_method_registers_and_trains(tmp_path, monkeypatch):
    example = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    module_path = tmp_path / "mygan_from_doc.py"
    module_path.write_text(example)
    spec = importlib.util.spec_from_file_location("mygan_from_doc", module_path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mygan_from_doc", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)

    assert list_methods()[-1] == "mygan" or "mygan" in list_methods()[5:]  # after the paper's five
    assert get_method("mygan").paper_name() == "MyGAN"
    torch.manual_seed(0)
    config = MethodConfig(num_classes=3, image_size=16, channels=1, backbone="tiny", batch_size=4)
    method = get_method("mygan")(config)
    x, y = torch.rand(6, 1, 16, 16) * 2 - 1, torch.tensor([0, 0, 1, 1, 2, 2])
    before = [p.detach().clone() for p in method.G.parameters()]
    losses = {**method.d_step(x, y), **method.g_step()}
    assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values()), losses
    assert any(not torch.equal(a, b) for a, b in zip(before, method.G.parameters(), strict=True))
    images = method.generate(torch.randn(3, method.latent_dim), torch.arange(3))
    assert images.shape == (3, 1, 16, 16) and images.abs().max() <= 1
    with pytest.raises(ConfigError, match="option lr = -1"):
        get_method("mygan")(MethodConfig(num_classes=3, image_size=16, channels=1, backbone="tiny",
                                         options={"lr": -1}))
    with pytest.raises(ConfigError, match="out of range"):
        method.d_step(x, torch.tensor([0, 0, 1, 1, 2, 3]))
    from bench.report.summary import method_name

    assert method_name("mygan") == "MyGAN"
