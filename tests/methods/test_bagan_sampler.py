"""BAGAN's class-conditional latent Gaussians: moments, Cholesky with jitter, sampling, and its pretraining."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.methods import MethodConfig, get_method
from bench.methods.class_gaussians import ClassGaussians, cholesky_with_jitter, class_code_moments
from bench.run.batches import ShuffledBatches


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def random_spd(dim: int, generator: torch.Generator) -> torch.Tensor:
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return a @ a.T / dim + 0.1 * torch.eye(dim, dtype=torch.float64)


def test_moments_match_per_class_numpy_style_covariance() -> None:
    codes, labels = torch.randn(300, 6, dtype=torch.float64), torch.randint(0, 4, (300,))
    labels[labels == 3] = 0  # class 3 empty
    labels[5] = 3  # ... but for one code
    batches = [(codes[i:i + 64], labels[i:i + 64]) for i in range(0, 300, 64)]
    counts, means, covs = class_code_moments(batches, 5, 6)
    assert counts.tolist() == [int((labels == c).sum()) for c in range(5)]
    for c in range(3):  # independent reference: torch.cov (n - 1 normalisation, as np.cov)
        members = codes[labels == c]
        torch.testing.assert_close(means[c], members.mean(0))
        torch.testing.assert_close(covs[c], torch.cov(members.T))
    torch.testing.assert_close(means[3], codes[5])
    assert covs[3].abs().max() == 0  # one code: Σ = 0
    assert means[4].abs().max() == 0 and covs[4].abs().max() == 0  # no code


def test_cholesky_adds_only_the_jitter_each_class_needs() -> None:
    gen = torch.Generator().manual_seed(1)
    spd = random_spd(5, gen)
    v = torch.randn(5, 1, generator=gen, dtype=torch.float64)
    indefinite = v @ v.T - 2e-3 * torch.eye(5, dtype=torch.float64)  # smallest eigenvalue -2e-3
    covs = torch.stack([spd, torch.zeros(5, 5, dtype=torch.float64), indefinite])
    chol = cholesky_with_jitter(covs, jitter=1e-6)
    eye = torch.eye(5, dtype=torch.float64)
    mean_var = lambda cov: float(cov.trace()) / 5  # noqa: E731 - the jitter is relative to it
    torch.testing.assert_close(chol[0] @ chol[0].T, spd + 1e-6 * mean_var(spd) * eye)
    torch.testing.assert_close(chol[1] @ chol[1].T, 1e-6 * eye)  # Σ = 0: relative to 1
    # the indefinite one needs the smallest 1e-6·10^k with 10^k·1e-6·s > 2e-3
    k = next(k for k in range(12) if 1e-6 * 10**k * mean_var(indefinite) > 2e-3)
    torch.testing.assert_close(chol[2] @ chol[2].T, indefinite + 1e-6 * 10**k * mean_var(indefinite) * eye)
    assert torch.all(torch.tril(chol) == chol)


def test_jitter_stays_negligible_for_codes_of_tiny_scale() -> None:
    """BAGAN's never-trained encoder gives codes of std ~0.004: the jitter must stay a tiny share of their variance."""
    gen = torch.Generator().manual_seed(3)
    codes = 0.004 * torch.randn(500, 16, generator=gen, dtype=torch.float64)
    cov = torch.cov(codes.T)[None]
    chol = cholesky_with_jitter(cov, jitter=1e-6)
    added = (chol[0] @ chol[0].T - cov[0]).diagonal().mean()
    assert added / cov[0].diagonal().mean() < 1e-5


@pytest.mark.parametrize("num_classes", [3, 20])  # both sampling paths (one GEMM; gathered factors)
def test_sampler_reproduces_class_mean_and_covariance(num_classes: int) -> None:
    dim, gen = 8, torch.Generator().manual_seed(2)
    sigma = random_spd(dim, gen)
    mu = torch.randn(dim, generator=gen, dtype=torch.float64)
    counts = torch.full((num_classes,), 50)
    means = torch.randn(num_classes, dim, generator=gen, dtype=torch.float64)
    covs = torch.stack([random_spd(dim, gen) for _ in range(num_classes)])
    means[1], covs[1] = mu, sigma
    g = ClassGaussians(num_classes, dim)
    g.fit(counts, means, covs, jitter=1e-6)
    n = 200_000
    y = torch.ones(n, dtype=torch.int64)
    y[::2] = torch.randint(0, num_classes, (n // 2,))  # mixed batches: each row must use its own class
    z = g(torch.randn(n, dim), y).double()
    z1 = z[y == 1]
    assert (z1.mean(0) - mu).abs().max() < 0.03
    assert (torch.cov(z1.T) - sigma).abs().max() < 0.05 * sigma.abs().max()
    other = y == 0
    assert (z[other].mean(0) - means[0]).abs().max() < 0.05


def test_both_sampling_paths_compute_mu_plus_l_eps() -> None:
    for classes in (3, 20):
        g = ClassGaussians(classes, 4)
        with torch.no_grad():
            g.mean.normal_()
            g.chol.copy_(torch.tril(torch.randn(classes, 4, 4)))
        eps, y = torch.randn(10, 4), torch.randint(0, classes, (10,))
        expected = g.mean[y] + torch.einsum("nij,nj->ni", g.chol[y], eps)
        torch.testing.assert_close(g(eps, y), expected)


def test_single_image_class_samples_mu_plus_jitter_noise_and_empty_class_is_standard_normal() -> None:
    codes = torch.randn(40, 6)
    labels = torch.zeros(40, dtype=torch.int64)
    labels[7] = 1  # class 1: one image; class 2: none
    g = ClassGaussians(3, 6)
    g.fit(*class_code_moments([(codes, labels)], 3, 6), jitter=1e-6)
    z1 = g(torch.randn(1000, 6), torch.ones(1000, dtype=torch.int64))
    assert torch.isfinite(z1).all()
    assert (z1 - codes[7]).abs().max() < 1e-2 and (z1 - codes[7]).abs().max() > 0
    z2 = g(torch.randn(50_000, 6), torch.full((50_000,), 2))
    assert z2.mean(0).abs().max() < 0.03
    torch.testing.assert_close(torch.cov(z2.T), torch.eye(6), atol=0.04, rtol=0)


def test_sampler_runs_on_the_method_device_without_python_loops_over_samples() -> None:
    g = ClassGaussians(10, 128)
    z = g(torch.randn(128, 128), torch.randint(0, 10, (128,)))
    assert z.shape == (128, 128) and z.dtype == torch.float32


# -- BAGAN's pretraining ----------------------------------------------------------------------------

def _bagan(quirks: str, classes: int = 3):
    cfg = MethodConfig(num_classes=classes, image_size=16, channels=1, backbone="tiny", quirks=quirks, batch_size=8)
    return get_method("bagan")(cfg)


class CountingLoader:
    """A re-iterable loader of fixed batches that counts its passes."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.batches, self.passes = batches, 0

    def __iter__(self):
        self.passes += 1
        return iter(self.batches)


def _loader() -> CountingLoader:
    y = torch.tensor([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0])  # class 2 has no image
    x = torch.rand(12, 1, 16, 16) * 2 - 1
    return CountingLoader([(x[:6], y[:6]), (x[6:], y[6:])])


@pytest.mark.parametrize("quirks", ["paper", "fixed"])
def test_pretrain_trains_the_encoder_only_when_fixed(quirks: str) -> None:
    m = _bagan(quirks)
    enc_before = {k: v.clone() for k, v in m.encoder.state_dict().items()}
    g_before = {k: v.clone() for k, v in m.G.state_dict().items()}
    loader = _loader()
    out = m.pretrain(loader, epochs=2)
    assert loader.passes == 3  # two epochs, then one pass for the class Gaussians
    assert torch.isfinite(torch.tensor(out["loss/ae"]))
    enc_same = all(torch.equal(enc_before[k], v) for k, v in m.encoder.state_dict().items())
    assert enc_same == (quirks == "paper")
    assert not all(torch.equal(g_before[k], v) for k, v in m.G.state_dict().items())
    # D's trunk is the encoder (without linear0)
    for k, v in m.D.trunk.state_dict().items():
        assert torch.equal(v, m.encoder.state_dict()[k])


def test_pretrain_fits_the_gaussians_on_the_encoder_codes() -> None:
    m = _bagan("fixed")
    loader = _loader()
    m.pretrain(loader, epochs=1)
    x = torch.cat([b[0] for b in loader.batches])
    y = torch.cat([b[1] for b in loader.batches])
    with torch.no_grad():
        codes = m.encoder.linear0(m.encoder.flattened(x))
    torch.testing.assert_close(m.gaussians.mean[0], codes[y == 0].mean(0))
    torch.testing.assert_close(m.gaussians.mean[1], codes[y == 1].mean(0))
    sigma0 = torch.cov(codes[y == 0].T.double()).float()
    chol0 = m.gaussians.chol[0]
    torch.testing.assert_close(chol0 @ chol0.T, sigma0, atol=1e-4, rtol=1e-3)
    assert m.gaussians.mean[2].abs().max() == 0  # no image: N(0, I)
    torch.testing.assert_close(m.gaussians.chol[2], torch.eye(m.latent_dim))
    assert m.gaussians.counts.tolist() == [9, 3, 0]


def test_generate_maps_eps_through_the_class_gaussian() -> None:
    m = _bagan("fixed")
    m.pretrain(_loader(), epochs=1)
    eps, y = torch.randn(4, m.latent_dim), torch.tensor([0, 1, 2, 1])
    m.G.eval()
    with torch.no_grad():
        expected = m.G(m.gaussians(eps, y)).clamp(-1, 1)
    torch.testing.assert_close(m.generate(eps, y), expected)


# -- BAGAN's init and whole-set fit -----------------------------------------------------------------

def _default_uniform(weight: torch.Tensor) -> None:
    """PyTorch's default Linear/conv init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std = bound/sqrt(3)."""
    bound = 1 / weight[0].numel() ** 0.5
    assert weight.abs().max() <= bound
    assert abs(weight.std().item() - bound / 3**0.5) < 0.1 * bound / 3**0.5


@pytest.mark.parametrize("quirks", ["paper", "fixed"])
def test_init_follows_upstream_bagan_conv2d_only(quirks: str) -> None:
    """§4.3: Conv2d weights N(0, 0.02) (encoder and D trunk); decoder Linear, deconvs, linear0, D head default."""
    cfg = MethodConfig(num_classes=3, image_size=32, channels=3, backbone="dcgan64", quirks=quirks, batch_size=8)
    m = get_method("bagan")(cfg)
    convs = [mod for net in (m.encoder, m.D.trunk) for mod in net.modules() if isinstance(mod, nn.Conv2d)]
    assert len(convs) == 6
    for conv in convs:
        assert abs(conv.weight.mean().item()) < 0.002 and abs(conv.weight.std().item() - 0.02) < 0.001
    for lin in (m.G.linear, m.encoder.linear0, m.D.out):
        _default_uniform(lin.weight.detach())
    deconvs = [mod for mod in m.G.modules() if isinstance(mod, nn.ConvTranspose2d)]
    assert len(deconvs) == 3
    for deconv in deconvs:  # PyTorch takes a ConvTranspose2d's fan_in as weight.shape[1]·k·k = weight[0].numel()
        _default_uniform(deconv.weight.detach())


def test_gaussians_see_every_image_of_a_set_that_is_no_multiple_of_the_batch() -> None:
    """BAGAN's class Gaussians are fitted on the whole set through ShuffledBatches (13 images, batches of 4)."""
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 0, 2])
    images = torch.randint(0, 256, (13, 1, 16, 16), dtype=torch.uint8)
    m = _bagan("paper")
    m.pretrain(ShuffledBatches(images, labels, batch_size=4, seed=0), epochs=1)
    assert m.gaussians.counts.tolist() == torch.bincount(labels, minlength=3).tolist()
    with torch.no_grad():
        codes = m.encoder.linear0(m.encoder.flattened(images.float() / 127.5 - 1))
    for c in range(3):
        torch.testing.assert_close(m.gaussians.mean[c], codes[labels == c].mean(0), atol=1e-5, rtol=1e-4)
