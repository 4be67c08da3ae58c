"""ReACGAN's data-to-data cross-entropy (D2D-CE) on the shared contrastive recipe (``contrastive_gan``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from bench.methods.base import register_method
from bench.methods.contrastive_gan import CONTRASTIVE_SPACE, ContrastiveGAN, ContrastiveHyper
from bench.methods.hyper import MARGIN, NON_NEGATIVE, POSITIVE, option
from bench.methods.losses import d2d_ce_loss
from bench.methods.search import SearchSpace
from bench.methods.shared_nets import STUDIOGAN_RECIPE


@dataclass
class ReACGANHyper(ContrastiveHyper):
    """The contrastive options with StudioGAN's ReACGAN defaults, plus the positive margin."""

    cond_lambda: float = option(0.5, NON_NEGATIVE)  # λ of D2D-CE
    temperature: float = option(0.5, POSITIVE)  # τ of D2D-CE
    margin: float = option(0.98, MARGIN)  # positive margin m_p (the negative margin is 1 - m_p)


@register_method("reacgan")
class ReACGAN(ContrastiveGAN):
    """ReACGAN (Kang et al. 2021; upstream §5.3, peers §1a): Table 1 "D2D-CE".

    L_cond = ``d2d_ce_loss`` with λ = 0.5, τ = 0.5, m_p = 0.98 (StudioGAN's ReACGAN config); on biggan32 the
    learning rate is 2.828e-4 for G and D, the rest is the shared recipe (hinge, no GP, G EMA 0.9999 from step
    1000, Adam β (0.5, 0.999) eps 1e-6, 5 D steps). On dcgan64 it takes the ECOGAN recipe (BCE + 10·GP,
    Adam 2e-4 β (0.5, 0.9)). Option table: ``bench.methods.contrastive_gan``.
    """

    paper_row: ClassVar[str] = 'Table 1 "D2D-CE"'
    default_backbone: ClassVar[str] = "biggan32"
    Hyper: ClassVar[type] = ReACGANHyper
    search_space: ClassVar[SearchSpace] = CONTRASTIVE_SPACE  # λ and τ searched over the same ranges as 2C's and ECO's
    cond_name: ClassVar[str] = "d2d"
    recipes: ClassVar[dict[str, dict[str, Any]]] = {"biggan32": {**STUDIOGAN_RECIPE, "lr_g": 2.828e-4,
                                                                 "lr_d": 2.828e-4}}
    display_name: ClassVar[str] = "D2D-CE"
    paper_order: ClassVar[int] = 4

    def cond_loss(self, embeds: torch.Tensor, proxies: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return d2d_ce_loss(embeds, proxies, labels, temperature=self.hp.temperature, margin=self.hp.margin)
