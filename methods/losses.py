"""Loss functions of the benchmarked methods, as pure tensor functions.

Contrastive (conditional) losses, on D's embeddings and class proxies (one proxy row per sample):
    :func:`eco_loss`            ECOGAN's exhaustive contrastive loss (ecogan-upstream.md §5.1)
    :func:`contrastive_2c_loss` ContraGAN's 2C loss (ecogan-upstream.md §5.2, peers.md §1a)
    :func:`d2d_ce_loss`         ReACGAN's D2D-CE loss as StudioGAN implements it (peers.md §1a)
Adversarial losses and the gradient penalty (ecogan-upstream.md §5.4, §5.5; peers.md §3.1 for BAGAN).

Every loss returns a scalar tensor: the mean over the batch. Nothing loops over samples or classes: class
structure enters through label-equality matrices built on the inputs' device. Bad shapes or settings raise
:class:`bench.errors.ConfigError`; these checks look at shapes only, so they never synchronise a GPU.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.config import QUIRKS
from bench.errors import ConfigError, check, closest

GP_WEIGHT = 10.0
"""Weight of the gradient penalty in D's loss (ecogan-upstream.md §5.6); applied by the method."""

__all__ = [
    "ADVERSARIAL_LOSSES",
    "GP_WEIGHT",
    "bagan_d_loss",
    "bagan_g_loss",
    "bce_d_loss",
    "bce_g_loss",
    "contrastive_2c_loss",
    "d2d_ce_loss",
    "eco_loss",
    "gp_mix_weights",
    "gradient_penalty",
    "hinge_d_loss",
    "hinge_g_loss",
]


# -- checks and shared pieces ------------------------------------------------------------------------

def _check_quirks(quirks: str) -> None:
    check(quirks in QUIRKS, f"unknown quirks {quirks!r}{closest(quirks, QUIRKS)}; known: {', '.join(QUIRKS)}")


def _check_contrastive(name: str, embeds: Tensor, proxies: Tensor, labels: Tensor, temperature: float) -> None:
    check(embeds.dim() == 2, f"{name}: embeds must be (B, D), got shape {tuple(embeds.shape)}")
    check(proxies.shape == embeds.shape,
          f"{name}: proxies shape {tuple(proxies.shape)} does not match embeds shape {tuple(embeds.shape)}")
    check(labels.shape == embeds.shape[:1],
          f"{name}: labels shape {tuple(labels.shape)} does not match the batch of embeds ({embeds.shape[0]},)")
    check(not labels.is_floating_point() and not labels.is_complex(),
          f"{name}: labels must be an integer tensor, got {labels.dtype}")
    check(embeds.shape[0] >= 2, f"{name}: need at least 2 samples in the batch, got {embeds.shape[0]}")
    check(temperature > 0, f"{name}: temperature must be > 0, got {temperature}")


def _cosines(embeds: Tensor, proxies: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """L2-normalise both inputs and return (e e^T (B,B), e p^T (B,B), cos(e_i, p_i) (B,))."""
    e = F.normalize(embeds, dim=1)
    p = F.normalize(proxies, dim=1)
    return e @ e.T, e @ p.T, (e * p).sum(dim=1)


def _masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """(same-class matrix M_ij = [y_i = y_j], identity), both bool (B, B) on the labels' device."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(labels.shape[0], dtype=torch.bool, device=labels.device)
    return same, eye


def _masked_logsumexp(logits: Tensor, keep: Tensor) -> Tensor:
    """Row-wise log Σ_{j: keep_ij} exp(logits_ij); -inf for a row that keeps nothing."""
    return torch.logsumexp(logits.masked_fill(~keep, float("-inf")), dim=1)


# -- contrastive losses ------------------------------------------------------------------------------

def eco_loss(embeds: Tensor, proxies: Tensor, labels: Tensor, temperature: float = 1.0,
             quirks: str = "paper") -> Tensor:
    r"""ECOGAN's exhaustive contrastive (ECO) loss, ecogan-upstream.md §5.1 (upstream ``ExhustiveContrastiveLoss``).

    With e_i, p_j L2-normalised and M_ij = 1[y_i = y_j]:

        F_ij = \exp((\cos(e_i, e_j) - m^f_i)/τ) for j ≠ i,   m^f_i = \max_{j≠i} \cos(e_i, e_j)   (no gradient)
        L_ij = \exp((\cos(e_i, p_j) - m^l_i)/τ) for all j,   m^l_i = \max_j \cos(e_i, p_j)      (no gradient)
        ℓ_i  = -\log \frac{\sum_j M_ij L_ij + \sum_{j≠i} M_ij F_ij}{\sum_j L_ij + \sum_{j≠i} F_ij},
        L    = \mathrm{mean}_i ℓ_i.

    Every sample's proxy enters, so a class's proxy counts as often as the class occurs in the batch.

    Quirk reproduced (``quirks="paper"``): the data-data block F and the data-proxy block L are shifted by their
    *own* row maxima, so the ratio is the unshifted one with F re-weighted by exp((m^l_i - m^f_i)/τ).
    ``quirks="fixed"`` uses one shared shift per row over both blocks, i.e. the plain unshifted log-ratio.
    Either way it is evaluated with log-sum-exp, so small temperatures do not overflow.

    Args:
        embeds: (B, D) data embeddings. L2-normalised here (already-normalised inputs are unchanged up to
            rounding), so only their directions matter.
        proxies: (B, D) class proxies, row i the proxy of ``labels[i]``; L2-normalised here as well.
        labels: (B,) integer class labels.
        temperature: τ > 0 (1.0 in every upstream ECOGAN script).
        quirks: ``"paper"`` or ``"fixed"``, see above.

    Returns:
        The scalar mean loss.
    """
    _check_contrastive("eco_loss", embeds, proxies, labels, temperature)
    _check_quirks(quirks)
    sim_ee, sim_ep, _ = _cosines(embeds, proxies)
    same, eye = _masks(labels)
    sim_ee = sim_ee.masked_fill(eye, float("-inf"))  # F has no diagonal
    if quirks == "paper":
        sim_ee = sim_ee - sim_ee.amax(dim=1, keepdim=True).detach()
        sim_ep = sim_ep - sim_ep.amax(dim=1, keepdim=True).detach()
    logits = torch.cat([sim_ep, sim_ee], dim=1) / temperature  # (B, 2B): [L block | F block]
    positives = torch.cat([same, same], dim=1)  # F's diagonal is already -inf, so it drops out of both sums
    loss = torch.logsumexp(logits, dim=1) - _masked_logsumexp(logits, positives)
    return loss.mean()


def contrastive_2c_loss(embeds: Tensor, proxies: Tensor, labels: Tensor, temperature: float = 1.0) -> Tensor:
    r"""ContraGAN's conditional contrastive (2C) loss, ecogan-upstream.md §5.2 and peers.md §1a.

    With e_i, p_i L2-normalised (p_i the proxy of y_i):

        ℓ_i = -\log \frac{\exp(\cos(e_i, p_i)/τ) + \sum_{j≠i, y_j = y_i} \exp(\cos(e_i, e_j)/τ)}
                          {\exp(\cos(e_i, p_i)/τ) + \sum_{j≠i} \exp(\cos(e_i, e_j)/τ)},
        L   = \mathrm{mean}_i ℓ_i.

    Only the sample's own proxy enters (no other-class proxies), as in StudioGAN's
    ``ConditionalContrastiveLoss``. The formula has no max shift; the log-sum-exp used here shifts numerator
    and denominator of a row alike, which cancels exactly.

    Args:
        embeds: (B, D) data embeddings, L2-normalised here.
        proxies: (B, D) proxies, row i the proxy of ``labels[i]``, L2-normalised here.
        labels: (B,) integer class labels.
        temperature: τ > 0 (1.0 for ContraGAN).

    Returns:
        The scalar mean loss.
    """
    _check_contrastive("contrastive_2c_loss", embeds, proxies, labels, temperature)
    sim_ee, _, sim_own = _cosines(embeds, proxies)
    same, eye = _masks(labels)
    logits = torch.cat([sim_own[:, None], sim_ee], dim=1) / temperature  # (B, 1+B): [own proxy | data]
    keep_all = torch.cat([torch.ones_like(eye[:, :1]), ~eye], dim=1)
    keep_pos = torch.cat([torch.ones_like(eye[:, :1]), same & ~eye], dim=1)
    loss = _masked_logsumexp(logits, keep_all) - _masked_logsumexp(logits, keep_pos)
    return loss.mean()


def d2d_ce_loss(embeds: Tensor, proxies: Tensor, labels: Tensor, temperature: float = 0.5,
                margin: float = 0.98) -> Tensor:
    r"""ReACGAN's data-to-data cross-entropy (D2D-CE), as StudioGAN's ``Data2DataCrossEntropyLoss`` (peers.md §1a).

    With e_i, p_i L2-normalised (p_i the proxy of y_i) and m_p = ``margin``:

        s'_ij  = (\cos(e_i, e_j) + m_p - 1)/τ                 for j ≠ i (negative margin m_n = 1 - m_p)
        s''_ij = \mathrm{relu}(s'_ij) - \max_{k≠i} s'_ik       (max taken before the relu, no gradient)
        pos_i  = \mathrm{relu}((m_p - \cos(e_i, p_i))/τ)
        ℓ_i    = pos_i + \log(\exp(-pos_i) + \sum_{j: y_j ≠ y_i} \exp(s''_ij)),
        L      = \mathrm{mean}_i ℓ_i.

    Same-class samples are removed from the negatives (false-negative removal). Quirk reproduced: the row-max
    shift applies to the negative terms only, not to exp(-pos_i), so it changes the value and the gradients;
    it is copied as StudioGAN has it.

    Args:
        embeds: (B, D) data embeddings, L2-normalised here.
        proxies: (B, D) proxies, row i the proxy of ``labels[i]``, L2-normalised here.
        labels: (B,) integer class labels.
        temperature: τ > 0 (0.5 in StudioGAN's ReACGAN config).
        margin: positive margin m_p (0.98 in StudioGAN's ReACGAN config).

    Returns:
        The scalar mean loss.
    """
    _check_contrastive("d2d_ce_loss", embeds, proxies, labels, temperature)
    sim_ee, _, sim_own = _cosines(embeds, proxies)
    same, eye = _masks(labels)
    sim = ((sim_ee + margin - 1.0) / temperature).masked_fill(eye, float("-inf"))
    sim = F.relu(sim) - sim.amax(dim=1, keepdim=True).detach()  # relu(-inf) = 0 on the diagonal; masked below
    pos = F.relu((margin - sim_own) / temperature)
    logits = torch.cat([-pos[:, None], sim], dim=1)  # (B, 1+B): [exp(-pos) term | negatives]
    keep = torch.cat([torch.ones_like(eye[:, :1]), ~same], dim=1)  # ~same excludes the diagonal too
    return (pos + _masked_logsumexp(logits, keep)).mean()


# -- adversarial losses ------------------------------------------------------------------------------

def bce_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Non-saturating GAN loss of D (ecogan-upstream.md §5.4): BCE(D(x), 1) + BCE(D(G(z)), 0), each a batch mean."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def bce_g_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating GAN loss of G (ecogan-upstream.md §5.4): BCE(D(G(z)), 1), a batch mean."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Hinge loss of D (StudioGAN's Table-1 runs): mean relu(1 - D(x)) + mean relu(1 + D(G(z)))."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g_loss(fake_logits: Tensor) -> Tensor:
    """Hinge loss of G (StudioGAN's Table-1 runs): -mean D(G(z))."""
    return -fake_logits.mean()


ADVERSARIAL_LOSSES = {"bce": (bce_d_loss, bce_g_loss), "hinge": (hinge_d_loss, hinge_g_loss)}
"""The (D loss, G loss) pair of each ``adv_loss`` option value."""


def gp_mix_weights(batch: int, real: Tensor, quirks: str = "paper") -> Tensor:
    """The GP's mixing weights α (batch, 1, ..., 1) on ``real``'s device and dtype, from torch's global RNG:
    N(0, 1) under ``quirks="paper"`` (upstream's), U(0, 1) under ``"fixed"`` (see :func:`gradient_penalty`)."""
    draw = torch.randn if quirks == "paper" else torch.rand
    return draw((batch,) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)


def gradient_penalty(d_fn: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, quirks: str = "paper",
                     alpha: Tensor | None = None) -> Tensor:
    r"""WGAN-GP gradient penalty of ECOGAN/EBGAN's D, ecogan-upstream.md §5.5 (unweighted; see :data:`GP_WEIGHT`).

        x̃_i = x_i + α_i (\tilde{x}_i - x_i),   GP = \mathrm{mean}_i (\lVert ∇_{x̃} D(x̃)_i \rVert_2 - 1)^2,

    with one α_i per sample drawn from torch's global RNG on ``real``'s device. Quirk reproduced
    (``quirks="paper"``): α ~ N(0, 1), as upstream (its U(0, 1) line is commented out), so x̃ can lie beyond
    the real-fake segment. ``quirks="fixed"``: α ~ U(0, 1). The gradient graph is kept (``create_graph=True``)
    so that the penalty trains D; x̃ is a fresh leaf, so nothing flows back into G or the data.

    Args:
        d_fn: maps x̃ (B, ...) to adversarial logits (B,) or (B, 1); closes over the labels if D needs them.
        real: (B, ...) real samples.
        fake: (B, ...) generated samples (detached here).
        quirks: ``"paper"`` or ``"fixed"``, see above.
        alpha: the mixing weights (B, 1, ..., 1) when the caller draws them (data-parallel ranks draw the
            global batch's and keep their rows); None = :func:`gp_mix_weights` here.

    Returns:
        The scalar penalty.
    """
    _check_quirks(quirks)
    check(fake.shape == real.shape,
          f"gradient_penalty: fake shape {tuple(fake.shape)} does not match real shape {tuple(real.shape)}")
    check(real.dim() >= 2 and real.shape[0] >= 1,
          f"gradient_penalty: real must be (B, ...) with B >= 1, got shape {tuple(real.shape)}")
    batch = real.shape[0]
    alpha = gp_mix_weights(batch, real, quirks) if alpha is None else alpha
    x_hat = (real + alpha * (fake.detach() - real)).detach().requires_grad_(True)
    out = d_fn(x_hat)
    if out.shape not in ((batch,), (batch, 1)):
        raise ConfigError(f"gradient_penalty: d_fn must return logits of shape ({batch},) or ({batch}, 1), "
                          f"got {tuple(out.shape)}")
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((torch.linalg.vector_norm(grad.flatten(1), dim=1) - 1.0) ** 2).mean()


def bagan_d_loss(real_logits: Tensor, real_labels: Tensor, fake_logits: Tensor) -> Tensor:
    """BAGAN's D loss (peers.md §3.1, ecogan-upstream.md §4.3): CE(D(x), y) + CE(D(G(z)), C), each a batch mean.

    D has C + 1 outputs; the last index C is the "fake" class. Labels are not range-checked (that would
    synchronise a GPU); a label above C fails inside cross-entropy.

    Args:
        real_logits: (B, C + 1) logits of real samples.
        real_labels: (B,) their classes in 0..C-1.
        fake_logits: (B', C + 1) logits of generated samples.
    """
    check(real_logits.dim() == 2 and real_logits.shape[1] >= 2,
          f"bagan_d_loss: real_logits must be (B, C+1) with C >= 1, got shape {tuple(real_logits.shape)}")
    check(fake_logits.dim() == 2 and fake_logits.shape[1] == real_logits.shape[1],
          f"bagan_d_loss: fake_logits shape {tuple(fake_logits.shape)} does not match real_logits' "
          f"{real_logits.shape[1]} columns")
    check(real_labels.shape == real_logits.shape[:1],
          f"bagan_d_loss: real_labels shape {tuple(real_labels.shape)} does not match the batch "
          f"({real_logits.shape[0]},)")
    fake_class = real_logits.shape[1] - 1
    fake_target = torch.full(fake_logits.shape[:1], fake_class, dtype=torch.long, device=fake_logits.device)
    return F.cross_entropy(real_logits, real_labels) + F.cross_entropy(fake_logits, fake_target)


def bagan_g_loss(fake_logits: Tensor, target_labels: Tensor) -> Tensor:
    """BAGAN's G loss (peers.md §3.1): CE(D(G(z_c)), c), a batch mean over the (C + 1)-way logits.

    Args:
        fake_logits: (B, C + 1) logits of generated samples.
        target_labels: (B,) the classes c they were generated for.
    """
    check(fake_logits.dim() == 2 and fake_logits.shape[1] >= 2,
          f"bagan_g_loss: fake_logits must be (B, C+1) with C >= 1, got shape {tuple(fake_logits.shape)}")
    check(target_labels.shape == fake_logits.shape[:1],
          f"bagan_g_loss: target_labels shape {tuple(target_labels.shape)} does not match the batch "
          f"({fake_logits.shape[0]},)")
    return F.cross_entropy(fake_logits, target_labels)
