"""LeCam regularisation of D (Tseng et al., "Regularizing Generative Adversarial Networks under Limited Data",
CVPR 2021, Eq. 3), for any method whose D has an adversarial logit.

    R_LC = E_x[(D(x) − α_F)²] + E_z[(D(G(z)) − α_R)²]

D(·) is D's adversarial logit, α_R and α_F exponential moving averages of D's mean logit on the reals and on
the fakes of the D steps, updated before each penalty (α ← decay·α + (1 − decay)·mean, decay 0.99; the first
D step sets α to its mean). The anchors carry no gradient. It pulls the real logits towards the fakes' running
mean and the fake logits towards the reals', which bounds how far D can separate them (the paper: a weighted
LeCam divergence); weight λ_LC = 0.3, the value of gSR and of the paper's CIFAR runs, added to the D loss.
The paper's Eq. 3 is used as written; the authors' code also clips each term at zero (relu), which is not done.

Under data-parallel training each rank's anchors follow its own share of the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.config import REGULARIZERS
from bench.errors import check

LECAM_WEIGHT = 0.3  # λ_LC in the D loss
LECAM_DECAY = 0.99  # decay of the anchors' exponential moving averages
DESCRIPTIONS = {
    "none": "the method's own D loss",
    "lecam": f"LeCam (Tseng et al. 2021): + {LECAM_WEIGHT:g}·[E(D(x) − α_F)² + E(D(G(z)) − α_R)²], anchors the EMAs "
             f"(decay {LECAM_DECAY:g}) of D's mean logit on reals (α_R) and fakes (α_F); methods whose D has an "
             f"adversarial logit",
}
assert tuple(DESCRIPTIONS) == REGULARIZERS


def lecam_penalty(real_logits: Tensor, fake_logits: Tensor, anchor_real: Tensor, anchor_fake: Tensor) -> Tensor:
    """R_LC = mean_i (D(x_i) − α_F)² + mean_j (D(G(z_j)) − α_R)² (Tseng et al. 2021, Eq. 3), unweighted.

    Args:
        real_logits: (B,) D's adversarial logits of real images.
        fake_logits: (B',) D's adversarial logits of generated images.
        anchor_real: α_R, a 0-d tensor (no gradient flows into it).
        anchor_fake: α_F, a 0-d tensor.
    """
    check(real_logits.dim() == 1 and fake_logits.dim() == 1,
          f"lecam_penalty expects logits (B,), got shapes {tuple(real_logits.shape)} and {tuple(fake_logits.shape)}")
    return ((real_logits - anchor_fake.detach()) ** 2).mean() + ((fake_logits - anchor_real.detach()) ** 2).mean()


class LeCam(torch.nn.Module):
    """The LeCam term with its anchors: ``lecam(real_logits, fake_logits)`` updates α_R, α_F from this D step's
    mean logits and returns the unweighted R_LC. The anchors are buffers, so they go into checkpoints."""

    def __init__(self, decay: float = LECAM_DECAY, weight: float = LECAM_WEIGHT) -> None:
        super().__init__()
        self.decay, self.weight = decay, weight
        self.register_buffer("anchor_real", torch.zeros(()))
        self.register_buffer("anchor_fake", torch.zeros(()))
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    def update(self, real_logits: Tensor, fake_logits: Tensor) -> None:
        """α ← decay·α + (1 − decay)·mean logit, for reals and fakes; the first update takes the means as they are.
        Stays on the device (no host sync)."""
        decay = torch.where(self.updates > 0, self.decay, 0.0)
        with torch.no_grad():
            self.anchor_real.copy_(decay * self.anchor_real + (1 - decay) * real_logits.detach().float().mean())
            self.anchor_fake.copy_(decay * self.anchor_fake + (1 - decay) * fake_logits.detach().float().mean())
            self.updates.add_(1)

    def forward(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        self.update(real_logits, fake_logits)
        return lecam_penalty(real_logits, fake_logits, self.anchor_real, self.anchor_fake)
