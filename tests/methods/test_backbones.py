"""Backbones: shapes at every supported size, structure against the upstream spec, width divisor, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from bench.errors import ConfigError
from bench.methods.backbones import get_backbone, list_backbones
from bench.methods.backbones.biggan32 import widths
from bench.methods.heads import ContrastiveDiscriminator

CASES = [("dcgan64", 64), ("dcgan64", 32), ("dcgan64", 16), ("biggan32", 32), ("tiny", 16), ("tiny", 32),
         ("tiny", 8)]
NUM_CLASSES = 5


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_registry_lists_the_three_backbones() -> None:
    assert list_backbones() == ["biggan32", "dcgan64", "tiny"]
    assert get_backbone("tiny").name == "tiny"


@pytest.mark.parametrize(("name", "size"), CASES)
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes(name: str, size: int, channels: int) -> None:
    arch = get_backbone(name)
    div = 4 if name == "biggan32" else 1  # keep biggan32 quick; width does not change shapes
    latent, batch = arch.default_latent_dim, 3
    z, y = torch.randn(batch, latent), torch.tensor([0, 4, 2])
    G = arch.conditional_generator(latent, NUM_CLASSES, channels, size, div=div)
    images = G(z, y)
    assert images.shape == (batch, channels, size, size)
    assert images.min() >= -1 and images.max() <= 1

    trunk = arch.trunk(channels, size, div=div)
    fmap = trunk(images)
    side = 8 if name == "biggan32" else 4
    assert fmap.shape == (batch, trunk.out_channels, side, side) and trunk.out_size == side
    torch.testing.assert_close(trunk.pooled(images), fmap.sum(dim=(2, 3)))
    torch.testing.assert_close(trunk.flattened(images), fmap.reshape(batch, -1))
    assert trunk.flat_dim == fmap[0].numel()

    D = ContrastiveDiscriminator(trunk, NUM_CLASSES, sn=arch.spectral_norm)
    adv, e, p = D(images, y)
    assert adv.shape == (batch,) and e.shape == p.shape == (batch, 512)
    torch.testing.assert_close(e.norm(dim=1), torch.ones(batch))
    torch.testing.assert_close(p.norm(dim=1), torch.ones(batch))
    torch.testing.assert_close(D.logit(images), adv)


@pytest.mark.parametrize(("name", "size"), [c for c in CASES if c[0] != "biggan32"])
@pytest.mark.parametrize("channels", [1, 3])
def test_decoder_and_linear0_shapes(name: str, size: int, channels: int) -> None:
    arch = get_backbone(name)
    latent = arch.default_latent_dim
    images = arch.decoder(latent, channels, size)(torch.randn(2, latent))
    assert images.shape == (2, channels, size, size) and images.abs().max() <= 1
    trunk = arch.trunk(channels, size, latent_dim=latent)
    assert trunk.linear0(trunk.flattened(images)).shape == (2, latent)
    assert arch.trunk(channels, size).linear0 is None


def _layer_widths(module: nn.Module, kind: type) -> list[tuple[int, int]]:
    if kind is nn.ConvTranspose2d:  # weight (in, out, k, k)
        return [(m.weight.shape[0], m.weight.shape[1]) for m in module.modules() if isinstance(m, kind)]
    return [(m.weight.shape[1], m.weight.shape[0]) for m in module.modules() if isinstance(m, kind)]


@pytest.mark.parametrize(("size", "dec", "enc"), [
    (64, [(256, 128), (128, 128), (128, 64), (64, 3)], [(3, 64), (64, 128), (128, 128), (128, 256)]),
    (32, [(256, 128), (128, 64), (64, 3)], [(3, 64), (64, 128), (128, 256)]),
    (16, [(256, 64), (64, 3)], [(3, 64), (64, 256)]),
])
def test_dcgan64_layer_plan(size: int, dec: list, enc: list) -> None:
    arch = get_backbone("dcgan64")
    decoder = arch.decoder(128, 3, size)
    assert _layer_widths(decoder, nn.ConvTranspose2d) == dec
    assert decoder.linear.out_features == 256 * 16
    assert sum(isinstance(m, nn.BatchNorm2d) for m in decoder.modules()) == len(dec) - 1
    trunk = arch.trunk(3, size, latent_dim=128)
    assert _layer_widths(trunk, nn.Conv2d) == enc
    assert not any(isinstance(m, nn.BatchNorm2d | nn.GroupNorm | nn.LayerNorm) for m in trunk.modules())
    assert (trunk.linear0.in_features, trunk.linear0.out_features) == (256 * 16, 128)


def test_dcgan64_parameter_counts_match_upstream_at_64() -> None:
    """G ≈ 1.45 M and the used D ≈ 1.06 M parameters (upstream §4.1), counted layer by layer here."""
    arch, C, k = get_backbone("dcgan64"), 10, 16
    G = arch.conditional_generator(128, C, 3, 64)
    deconvs = [(256, 128), (128, 128), (128, 64), (64, 3)]
    expected_g = (C * 128 + 128 * 4096 + 4096 + sum(i * o * k + o for i, o in deconvs)
                  + 2 * (128 + 128 + 64))  # embedding, linear, deconvs, BN affine
    assert n_params(G) == expected_g and 1.4e6 < expected_g < 1.5e6
    D = ContrastiveDiscriminator(arch.trunk(3, 64), C, sn=False)
    convs = [(3, 64), (64, 128), (128, 128), (128, 256)]
    expected_d = sum(i * o * k + o for i, o in convs) + 257 + 256 * 512 + 512 + C * 512
    assert n_params(D) == expected_d and 1.0e6 < expected_d < 1.1e6


def test_dcgan64_init_follows_upstream() -> None:
    torch.manual_seed(1)
    decoder = get_backbone("dcgan64").decoder(128, 3, 64)
    assert abs(decoder.linear.weight.std().item() - 0.02) < 0.002
    for m in decoder.modules():
        if isinstance(m, nn.ConvTranspose2d):  # PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            fan_in = m.weight.shape[1] * m.weight[0, 0].numel()
            bound = 1 / fan_in**0.5
            assert m.weight.abs().max() <= bound and m.weight.std() > 0.5 * bound / 3**0.5
    trunk = get_backbone("dcgan64").trunk(3, 64)
    first = trunk.convs[0]
    assert first.weight.abs().max() <= 1 / (3 * 16) ** 0.5  # default init, not N(0, 0.02)


def test_tiny_is_a_few_thousand_parameters() -> None:
    arch = get_backbone("tiny")
    assert n_params(arch.decoder(16, 3, 32)) < 10_000
    assert n_params(arch.trunk(3, 32, latent_dim=16)) < 10_000


def test_biggan32_widths_follow_div() -> None:
    assert widths(1) == (96, 96, 128) and widths(4) == (24, 24, 32)
    G = get_backbone("biggan32").conditional_generator(80, 3, 3, 32, div=4)
    assert G.ch == 96 and G.chunk == 20 and G.shared.weight.shape == (3, 32)
    assert get_backbone("biggan32").trunk(3, 32, div=4).out_channels == 48


def test_biggan32_parameter_counts_decrease_with_div() -> None:
    arch = get_backbone("biggan32")
    g = [n_params(arch.conditional_generator(80, 10, 3, 32, div=d)) for d in range(1, 6)]
    d = [n_params(arch.trunk(3, 32, div=d)) for d in range(1, 6)]
    assert all(a > b for a, b in zip(g, g[1:], strict=False)), g
    assert all(a > b for a, b in zip(d, d[1:], strict=False)), d


def test_biggan32_spectral_norm_attention_and_cbn() -> None:
    arch = get_backbone("biggan32")
    G = arch.conditional_generator(80, 4, 3, 32, div=4)
    D = ContrastiveDiscriminator(arch.trunk(3, 32, div=4), 4, sn=True)
    for net in (G, D):  # every layer spectrally normalised but G's shared class embedding (as StudioGAN)
        layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear | nn.Embedding) and m is not G.shared]
        assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert parametrize.is_parametrized(D.proxies, "weight")
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    conditional = [m for m in bns if not m.affine]
    assert len(conditional) == 6 and all(m.eps == 1e-4 for m in conditional)  # two cBNs per block, 3 blocks
    seen = {}
    G.attn.register_forward_pre_hook(lambda mod, args: seen.__setitem__("g", args[0].shape))
    D.trunk.blocks[1].register_forward_pre_hook(lambda mod, args: seen.__setitem__("d", args[0].shape))
    D(G(torch.randn(2, 80), torch.tensor([0, 3])), torch.tensor([0, 3]))
    assert seen["g"] == (2, 96, 16, 16)  # after G block 2
    assert seen["d"] == (2, 48, 16, 16)  # after D block 1 (the optimized block)


def test_biggan32_shared_embedding_is_plain_and_orthogonal() -> None:
    G = get_backbone("biggan32").conditional_generator(80, 10, 3, 32, div=4)
    assert type(G.shared) is nn.Embedding and not parametrize.is_parametrized(G.shared)
    w = G.shared.weight.detach()  # (10, 32): orthogonal init gives orthonormal rows
    torch.testing.assert_close(w @ w.T, torch.eye(10), atol=1e-5, rtol=0)
    assert G.shared.weight.requires_grad


def test_biggan32_cbn_gain_and_bias_depend_on_class() -> None:
    G = get_backbone("biggan32").conditional_generator(80, 4, 3, 32, div=5).eval()
    z = torch.randn(1, 80).expand(2, 80)
    out = G(z, torch.tensor([0, 1]))
    assert not torch.allclose(out[0], out[1])


def test_conditional_generator_multiplies_latent_by_class_embedding() -> None:
    G = get_backbone("tiny").conditional_generator(16, 3, 1, 16).eval()
    z, y = torch.randn(4, 16), torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(G(z, y), G.decoder(z * G.embedding.weight[y]))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: get_backbone("dcgan"), "unknown backbone 'dcgan'"),
    (lambda: get_backbone("dcgan64").trunk(3, 48), "does not support image_size 48"),
    (lambda: get_backbone("biggan32").trunk(3, 64), "does not support image_size 64"),
    (lambda: get_backbone("tiny").decoder(16, 3, 12), "does not support image_size 12"),
    (lambda: get_backbone("dcgan64").decoder(128, 2, 32), "channels must be 1 or 3, got 2"),
    (lambda: get_backbone("dcgan64").trunk(3, 32, div=2), "div = 2 applies to backbone 'biggan32' only"),
    (lambda: get_backbone("biggan32").trunk(3, 32, div=6), "div must be one of 1, 2, 3, 4, 5, got 6"),
    (lambda: get_backbone("biggan32").decoder(80, 3, 32), "'biggan32' has no unconditional decoder"),
    (lambda: get_backbone("biggan32").trunk(3, 32, latent_dim=80), "'biggan32' has no autoencoder encoder"),
    (lambda: get_backbone("biggan32").conditional_generator(81, 3, 3, 32), "latent_dim must be a multiple of 4"),
])
def test_backbone_errors(call, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        call()


def test_unknown_backbone_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'dcgan64'\?.*known: biggan32, dcgan64, tiny"):
        get_backbone("dcgan46")


def test_grad_flows_through_trunk_pool() -> None:
    trunk = get_backbone("tiny").trunk(1, 16)
    x = torch.randn(2, 1, 16, 16, requires_grad=True)
    F.softplus(trunk.pooled(x)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
