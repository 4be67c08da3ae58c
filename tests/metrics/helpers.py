"""Small synthetic data and fake generators for the metrics tests (no real dataset, no real method)."""

from __future__ import annotations

import torch

from bench.config import RunConfig
from bench.datasets.base import ImageSet, uint8_to_float


def make_image_set(counts: list[int], split: str = "train", size: int = 16, channels: int = 1, seed: int = 0,
                   name: str = "toy_lt") -> ImageSet:
    """Class c = a bright 4x4 square at grid cell c on a noisy dark background; ``counts[c]`` images, class-sorted."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    n = labels.numel()
    images = torch.randint(0, 60, (n, channels, size, size), generator=gen, dtype=torch.uint8)
    cells_per_row = size // 4
    rows, cols = (labels // cells_per_row) * 4, (labels % cells_per_row) * 4
    yy = torch.arange(size).view(1, size, 1)
    xx = torch.arange(size).view(1, 1, size)
    mask = ((yy >= rows.view(-1, 1, 1)) & (yy < rows.view(-1, 1, 1) + 4)
            & (xx >= cols.view(-1, 1, 1)) & (xx < cols.view(-1, 1, 1) + 4))
    bright = torch.randint(190, 256, (n, 1, size, size), generator=gen).to(torch.uint8)
    images = torch.where(mask[:, None], bright.expand_as(images), images)
    return ImageSet(name=name, split=split, images=images, labels=labels, num_classes=len(counts),
                    class_names=[f"class{c}" for c in range(len(counts))])


class RealImageGenerator:
    """A 'generator' that returns a real image of each requested class (which one depends on z)."""

    latent_dim = 8

    def __init__(self, image_set: ImageSet) -> None:
        self.device = torch.device("cpu")
        self.images = uint8_to_float(image_set.images)
        order = torch.argsort(image_set.labels, stable=True)
        self.order = order
        self.counts = torch.bincount(image_set.labels, minlength=image_set.num_classes)
        self.starts = torch.cumsum(self.counts, 0) - self.counts
        self.requested: list[torch.Tensor] = []

    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.requested.append(y.clone())
        pick = (z[:, 0].abs() * 1000).long() % self.counts[y]
        return self.images[self.order[self.starts[y] + pick]]


class NoiseGenerator:
    """A 'generator' that ignores the label: uniform noise images from z (and, on purpose, the global RNG)."""

    latent_dim = 8

    def __init__(self, shape: tuple[int, int, int], use_global_rng: bool = True) -> None:
        self.device = torch.device("cpu")
        self.shape = shape
        self.use_global_rng = use_global_rng
        self.proj = torch.randn(self.latent_dim, shape[0] * shape[1] * shape[2],
                                generator=torch.Generator().manual_seed(1))

    def generate(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(z @ self.proj).view(-1, *self.shape)
        if self.use_global_rng:  # a method may draw from the global RNG; evaluation must shield training from it
            x = (x + 0.1 * torch.randn_like(x)).clamp(-1, 1)
        return x


def toy_config(**overrides) -> RunConfig:
    base = dict(dataset="toy_lt", image_size=16, channels=1, seed=0, extractor="classifier",
                num_eval_samples=None, protocols=["paper", "standard"])
    base.update(overrides)
    return RunConfig(**base)


def _rescale_init(module: torch.nn.Module) -> None:
    """He-normal conv/linear weights (seeded), so a random Inception's features are O(1) rather than ~1e-8."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / m.weight[0].numel()) ** 0.5)


def save_random_torchvision_inception(path) -> None:
    """A random-weight torchvision InceptionV3 state_dict, loadable as ``inception_v3_google-0cc3c7bd.pth``."""
    import torchvision

    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    _rescale_init(net)
    torch.save(net.state_dict(), path)


def save_random_fidelity_inception(path) -> None:
    """A random-weight torch-fidelity InceptionV3 state_dict: built with its weight loading patched out (no
    network), re-initialised, saved."""
    from unittest import mock

    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    _rescale_init(net)
    torch.save(net.state_dict(), path)
