"""A toy method for the tuner's tests: ``toy_modes``, a "generator" that replays real training images.

Its D steps only record real images (the first ``modes`` of each class it sees); G draws, for a fake of class c,
one of class c's recorded images, picked by its noise. With ``modes = 1`` every fake of a class is the same image:
total intra-class collapse (diversity 0), by construction. With ``modes = 64`` the fakes are the class's real
training images: as varied as the data. Its search space has that one key, so a tuner that scores collapse must
choose 64. Registered on import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from bench.methods.base import DiscriminatorLoss, GeneratorLoss, Method, MethodConfig, register_method
from bench.methods.hyper import COUNT, option
from bench.methods.search import Choice, SearchSpace


@dataclass
class ToyHyper:
    modes: int = option(1, COUNT)  # real images recorded per class, replayed by G
    latent_dim: int = option(4, COUNT)  # z size (G reads its first coordinate only)


@register_method("toy_modes")
class ToyModes(Method):
    """Replays ``modes`` recorded real images per class (module docstring)."""

    paper_row: ClassVar[str] = "test only"
    Hyper: ClassVar[type] = ToyHyper
    search_space: ClassVar[SearchSpace] = SearchSpace(
        own={"modes": Choice((1, 64), source="test: 1 collapses by construction, 64 does not")})

    def __init__(self, config: MethodConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.latent_dim, self.n_dis = self.hp.latent_dim, 1
        self.G = nn.Linear(1, 1).to(self.device)  # a parameter for the optimisers and checkpoints
        self.D = nn.Linear(1, 1).to(self.device)
        self.opt_g = torch.optim.Adam(self.G.parameters())
        self.opt_d = torch.optim.Adam(self.D.parameters())
        c, s, k = config.channels, config.image_size, self.hp.modes
        self.bank = torch.zeros(config.num_classes, k, c, s, s, device=self.device)
        self.count = torch.zeros(config.num_classes, dtype=torch.int64, device=self.device)

    def discriminator_loss(self, real_x: torch.Tensor, real_y: torch.Tensor) -> DiscriminatorLoss:
        """Record each class's first ``modes`` images (in batch order; one vectorised scatter per batch); the loss is
        a zero that touches D's parameter, so the base's optimizer step has a graph to run."""
        with torch.no_grad():
            order = torch.argsort(real_y, stable=True)
            y = real_y[order]
            first = torch.searchsorted(y, y, right=False)
            slot = self.count[y] + torch.arange(len(y), device=y.device) - first  # rank within the class in the batch
            keep = slot < self.hp.modes
            self.bank[y[keep], slot[keep]] = real_x[order][keep]
            self.count += torch.bincount(y[keep], minlength=self.count.numel())
        return DiscriminatorLoss(loss=self.D.weight.sum() * 0.0)

    def generator_loss(self, y: torch.Tensor) -> GeneratorLoss:
        return GeneratorLoss(loss=self.G.weight.sum() * 0.0)

    def _forward_g(self, generator: nn.Module, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        count = self.count[y].clamp(min=1)
        pick = (z[:, 0].abs() * 1e4).long() % count
        return self.bank[y, pick]

    def extra_state(self) -> dict[str, Any]:
        return {"bank": self.bank, "count": self.count}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.bank.copy_(state["bank"])
        self.count.copy_(state["count"])
