"""ContraGAN's conditional contrastive (2C) loss on the shared contrastive recipe (``contrastive_gan``)."""

from __future__ import annotations

from typing import ClassVar

import torch

from bench.methods.base import register_method
from bench.methods.contrastive_gan import CONTRASTIVE_SPACE, ContrastiveGAN, ContrastiveHyper
from bench.methods.losses import contrastive_2c_loss
from bench.methods.search import SearchSpace


@register_method("contragan")
class ContraGAN(ContrastiveGAN):
    """ContraGAN (Kang & Park 2020; upstream §5.2, peers §1a): Table 1 "2C".

    L_cond = ``contrastive_2c_loss`` with λ = 1, τ = 1 (StudioGAN's ContraGAN config), everything else the
    shared recipe: on biggan32 (Table 1) hinge, no GP, G EMA 0.9999 from step 1000, Adam 2e-4 β (0.5, 0.999)
    eps 1e-6, 5 D steps; on dcgan64 the ECOGAN recipe (BCE + 10·GP, Adam 2e-4 β (0.5, 0.9)), as upstream's
    ``training_2CGAN.py``. Option table: ``bench.methods.contrastive_gan``.
    """

    paper_row: ClassVar[str] = 'Table 1 "2C"'
    default_backbone: ClassVar[str] = "biggan32"
    Hyper: ClassVar[type] = ContrastiveHyper
    search_space: ClassVar[SearchSpace] = CONTRASTIVE_SPACE
    cond_name: ClassVar[str] = "2c"
    display_name: ClassVar[str] = "2C"
    paper_order: ClassVar[int] = 3

    def cond_loss(self, embeds: torch.Tensor, proxies: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return contrastive_2c_loss(embeds, proxies, labels, temperature=self.hp.temperature)
