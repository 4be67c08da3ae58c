"""ECOGAN: the exhaustive contrastive (ECO) loss on the shared contrastive recipe (``contrastive_gan``)."""

from __future__ import annotations

from typing import ClassVar

import torch

from bench.methods.base import register_method
from bench.methods.contrastive_gan import CONTRASTIVE_SPACE, ContrastiveGAN, ContrastiveHyper
from bench.methods.losses import eco_loss
from bench.methods.search import SearchSpace


@register_method("ecogan")
class ECOGAN(ContrastiveGAN):
    """ECOGAN (upstream §4.1, §5.1, §5.6, §6.1): Table 3 "ECOGAN (ours)" on dcgan64; Table 1 "ECO" on biggan32.

    L_cond = ``eco_loss`` with λ = 1, τ = 1 on both D (real samples) and G (fakes). On dcgan64 the upstream
    recipe: BCE + 10·GP + ECO, Adam 2e-4 β (0.5, 0.9), 5 D steps per G step, no EMA. On biggan32 the StudioGAN
    recipe of Table 1 (hinge, no GP, G EMA 0.9999 from step 1000, Adam 2e-4 β (0.5, 0.999) eps 1e-6), so that
    Table 1 compares the losses alone. The full option table is in ``bench.methods.contrastive_gan``.
    """

    paper_row: ClassVar[str] = 'Table 3 "ECOGAN (ours)"; Table 1 "ECO" (on biggan32)'
    default_backbone: ClassVar[str] = "dcgan64"
    Hyper: ClassVar[type] = ContrastiveHyper
    search_space: ClassVar[SearchSpace] = CONTRASTIVE_SPACE
    cond_name: ClassVar[str] = "eco"
    display_name: ClassVar[str] = "ECOGAN"
    paper_order: ClassVar[int] = 5
    quirks_doc: ClassVar[tuple[str, ...]] = (
        "ECO loss: data-data and data-proxy blocks shifted by separate row maxima (fixed: one shared shift)",
        *ContrastiveGAN.quirks_doc,
    )

    def cond_loss(self, embeds: torch.Tensor, proxies: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return eco_loss(embeds, proxies, labels, temperature=self.hp.temperature, quirks=self.config.quirks)
