"""Sampling error of one evaluation: bootstrap intervals of FID (overall, head/tail, per class), and the two
halves of the reference used to choose the best step on one half and report it on the other.

Resampling is stratified by class: each resample redraws, with replacement, as many rows of class c as the set
holds, in both the real and the fake features (the label mixes are fixed by the protocol, not random), so one
resample gives every group's FID at once. A resample is a vector of multiplicities w (how often each row was
drawn), and the FID of a weighted set follows the formula of :mod:`bench.metrics.fid` with weighted moments:

    μ = Σ wᵢxᵢ / n,   Σ = Σ wᵢ(xᵢ − μ)(xᵢ − μ)ᵀ / (n − 1),   n = Σ wᵢ,
    FID = ‖μr − μf‖² + Tr Σr + Tr Σf − 2 Tr (Σr Σf)^{1/2}.

With R = diag(√w)(X − μ)/√(n − 1) (so Σ = RᵀR), Tr (Σr Σf)^{1/2} is the sum of the square roots of the
eigenvalues of P Pᵀ, P = Rr Rfᵀ: an n × n problem when a group holds at most as many rows as features (a class;
every group of a small evaluation), else the F × F form Lᵀ Σf L with Σr = L Lᵀ, whose Σ come from the second
moments of the head and the tail rows (the overall Σ is their pooled sum).
Every resample and every group of a call is one batched product and one
batched SVD or eigendecomposition (float64), in chunks of resamples that bound the memory.

A group of classes that each hold one image on both sides (classes with one image each) cannot vary under such
resampling (:func:`resamplable_groups`); its interval is NaN rather than zero-width.

The interval is the basic (reverse-percentile) bootstrap interval [2θ̂ − q(1 − α/2), 2θ̂ − q(α/2)], which
corrects the upward bias of FID on finite samples, where the percentile interval would inherit it twice
(Efron & Tibshirani 1993, §13.4; checked by simulation in tests/metrics/test_bootstrap.py).

Cost at the cpu scale (1,000 real and 1,000 fake rows of 128 classifier features, 10 classes, 200 resamples):
see ``benchmarks/bench_bootstrap.py``; it grows as resamples × rows × features², so a paper-scale run with
2,048-d Inception features on the CPU should lower ``bootstrap`` (0 turns the intervals off).
"""

from __future__ import annotations

import math

import torch

CONFIDENCE = 0.95
_CHUNK_BYTES = 64 * 2**20  # float64 working set per chunk of resamples


def stratified_counts(labels: torch.Tensor, resamples: int, generator: torch.Generator) -> torch.Tensor:
    """(resamples, N) float64 multiplicities: each resample draws n_c rows of class c with replacement.

    Row i is replaced by a uniform draw from the rows of its own class, so class sizes stay as they are.
    """
    labels = labels.cpu()
    n = labels.numel()
    order = torch.argsort(labels, stable=True)
    sizes = torch.bincount(labels)
    start = torch.cumsum(sizes, 0) - sizes
    u = torch.rand(resamples, n, generator=generator, dtype=torch.float64)
    pick = start[labels] + (u * sizes[labels]).long().clamp_max(sizes[labels] - 1)
    return torch.zeros(resamples, n, dtype=torch.float64).scatter_add_(1, order[pick], torch.ones(resamples, n,
                                                                                                   dtype=torch.float64))


def _padded(features: torch.Tensor, groups: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows laid out by group: (G, n_max, F) features (zeros as padding) and the (G, n_max) row index into the
    set (-1 for padding)."""
    order = torch.argsort(groups, stable=True)
    sizes = torch.bincount(groups, minlength=num_groups)
    start = torch.cumsum(sizes, 0) - sizes
    rank = torch.arange(groups.numel(), device=groups.device) - start[groups[order]]
    n_max = max(int(sizes.max()), 1)
    index = torch.full((num_groups, n_max), -1, dtype=torch.long, device=groups.device)
    index[groups[order], rank] = order
    padded = torch.zeros(num_groups, n_max, features.shape[1], dtype=torch.float64, device=features.device)
    padded[groups[order], rank] = features[order].double()
    return padded, index


def _padded_groups(features: torch.Tensor, labels: torch.Tensor,
                   member: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """As :func:`_padded` for groups of classes that may overlap (overall, head, tail): (G, n_max, F), (G, n_max)."""
    rows = [member[g][labels].nonzero().flatten() for g in range(member.shape[0])]  # G is 3: not a class loop
    n_max = max(max((r.numel() for r in rows), default=1), 1)
    index = torch.full((len(rows), n_max), -1, dtype=torch.long, device=labels.device)
    for g, r in enumerate(rows):
        index[g, :r.numel()] = r
    padded = torch.where((index >= 0)[..., None], features.double()[index.clamp_min(0)],
                         torch.zeros((), dtype=torch.float64, device=features.device))
    return padded, index


def _class_moments(padded: torch.Tensor, index: torch.Tensor, weights: torch.Tensor):
    """For (B, N) weights: per class n (B, C), means (B, C, F), traces of Σ (B, C) and factors R (B, C, n_max, F)."""
    w = torch.where(index >= 0, weights[:, index.clamp_min(0)], torch.zeros((), dtype=weights.dtype))  # (B,C,n)
    n = w.sum(-1)
    mean = torch.einsum("bcn,cnf->bcf", w, padded) / n.clamp_min(1)[..., None]
    factor = (padded[None] - mean[:, :, None, :]) * (w / (n - 1).clamp_min(1)[..., None]).sqrt()[..., None]
    return n, mean, factor.square().sum((-1, -2)), factor


def _part_second_moments(features: torch.Tensor, part_of_row: torch.Tensor, num_parts: int,
                         weights: torch.Tensor) -> torch.Tensor:
    """Σ wᵢxᵢxᵢᵀ over the rows of each part: (B, P, F, F), one large product per part (P is 1 to 3 here)."""
    x = features.double()
    out = []
    for part in range(num_parts):  # the parts of a partition of the classes (head, tail), not the classes
        rows = part_of_row == part
        xp = x[rows]
        out.append((weights[:, rows, None] * xp).transpose(-1, -2) @ xp)
    return torch.stack(out, 1)


def _sqrt_eigen_sum(symmetric: torch.Tensor) -> torch.Tensor:
    return torch.linalg.eigvalsh(symmetric).clamp_min(0).sqrt().sum(-1)


def _trace_sqrt_rows(factor_r: torch.Tensor, factor_f: torch.Tensor) -> torch.Tensor:
    """Tr (Σr Σf)^{1/2} from factors (…, n, F): the eigenvalues of P Pᵀ, P = Rr Rfᵀ, are those of Σr Σf."""
    product = factor_r @ factor_f.transpose(-1, -2)
    return _sqrt_eigen_sum(product @ product.transpose(-1, -2))


def _trace_sqrt_cov(cov_r: torch.Tensor, cov_f: torch.Tensor) -> torch.Tensor:
    """Tr (Σr Σf)^{1/2} from covariances (…, F, F): the eigenvalues of Lᵀ Σf L with Σr = L Lᵀ (Cholesky; the
    symmetric square root where Σr is singular) are those of Σr Σf."""
    root, info = torch.linalg.cholesky_ex(cov_r)
    singular = info != 0
    if singular.any():
        evals, evecs = torch.linalg.eigh(cov_r[singular])
        root[singular] = evecs * evals.clamp_min(0).sqrt()[..., None, :]
    return _sqrt_eigen_sum(root.transpose(-1, -2) @ cov_f @ root)


def _pooled(n: torch.Tensor, mean: torch.Tensor, second: torch.Tensor, member: torch.Tensor,
           part_member: torch.Tensor):
    """n (B, G), mean (B, G, F), covariance (B, G, F, F) of the groups of classes ``member`` (G, C) bool, from
    per-class n and means and the second moments of the parts (``part_member``: (G, P) bool)."""
    m = member.to(n.dtype)
    n_g = n @ m.T
    mean_g = torch.einsum("bc,gc,bcf->bgf", n, m, mean) / n_g.clamp_min(1)[..., None]
    second_g = torch.einsum("gp,bpfe->bgfe", part_member.to(second.dtype), second)
    cov = (second_g - n_g[..., None, None] * mean_g[..., :, None] * mean_g[..., None, :]) / (n_g - 1).clamp_min(1)[
        ..., None, None]
    return n_g, mean_g, cov


def resampled_fids(real: torch.Tensor, real_labels: torch.Tensor, real_weights: torch.Tensor, fake: torch.Tensor,
                   fake_labels: torch.Tensor, fake_weights: torch.Tensor, num_classes: int,
                   groups: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FIDs of the resampled sets: per class (B, C) and per group of classes (B, G); NaN where a class or group
    has fewer than 2 rows on either side.

    Args:
        real, fake: (Nr, F), (Nf, F) features; real_labels, fake_labels: (N,) int64 class of each row.
        real_weights, fake_weights: (B, Nr), (B, Nf) multiplicities (:func:`stratified_counts`).
        num_classes: C.
        groups: (G, C) bool, the classes each group pools (all of them for the overall FID; head; tail).
    """
    device = real.device
    real_labels, fake_labels, member = real_labels.to(device), fake_labels.to(device), groups.to(device)
    real_pad, real_index = _padded(real, real_labels, num_classes)
    fake_pad, fake_index = _padded(fake, fake_labels, num_classes)
    # the classes fall into parts by the groups they belong to (head / tail): second moments per part suffice
    signatures, part_of_class = torch.unique(member.T, dim=0, return_inverse=True)
    part_member = signatures.T  # (G, P)
    d = real.shape[1]
    real_sizes = torch.bincount(real_labels, minlength=num_classes).clamp_min(1)
    fake_sizes = torch.bincount(fake_labels, minlength=num_classes).clamp_min(1)
    few_rows = torch.maximum(real_sizes, fake_sizes) <= d
    route_classes = [(few_rows.nonzero().flatten(), True), ((~few_rows).nonzero().flatten(), False)]
    route_classes = [(members, few) for members, few in route_classes if members.numel()]
    groups_real = _padded_groups(real, real_labels, member)
    groups_fake = _padded_groups(fake, fake_labels, member)
    small_groups = max(groups_real[0].shape[1], groups_fake[0].shape[1]) <= d
    pooled_bytes = (len(member) * (groups_real[0].shape[1] + groups_fake[0].shape[1]) * d * 2 if small_groups
                    else 4 * len(signatures) * d * d)
    per_resample = 8 * (num_classes * (real_pad.shape[1] + fake_pad.shape[1]) * d * 2 + pooled_bytes)
    chunk = max(1, _CHUNK_BYTES // per_resample)
    classes, pooled = [], []
    for w_real, w_fake in zip(real_weights.to(device).split(chunk), fake_weights.to(device).split(chunk),
                              strict=True):
        b = w_real.shape[0]
        n_r = torch.zeros(b, num_classes, dtype=torch.float64, device=device)
        n_f, mean_r, mean_f = n_r.clone(), real_pad.new_zeros(b, num_classes, d), real_pad.new_zeros(b, num_classes, d)
        fid = torch.full((b, num_classes), math.nan, dtype=torch.float64, device=device)
        for members, few in route_classes:  # two routes (classes of <= F rows, larger ones), not a class loop
            rows_r, rows_f = int(real_sizes[members].max()), int(fake_sizes[members].max())
            cn_r, cmean_r, ctrace_r, cfactor_r = _class_moments(real_pad[members, :rows_r],
                                                                real_index[members, :rows_r], w_real)
            cn_f, cmean_f, ctrace_f, cfactor_f = _class_moments(fake_pad[members, :rows_f],
                                                                fake_index[members, :rows_f], w_fake)
            if few:
                tr_sqrt = _trace_sqrt_rows(cfactor_r, cfactor_f)
            else:
                tr_sqrt = _trace_sqrt_cov(cfactor_r.transpose(-1, -2) @ cfactor_r,
                                          cfactor_f.transpose(-1, -2) @ cfactor_f)
            n_r[:, members], n_f[:, members], mean_r[:, members], mean_f[:, members] = cn_r, cn_f, cmean_r, cmean_f
            fid[:, members] = (cmean_r - cmean_f).square().sum(-1) + ctrace_r + ctrace_f - 2 * tr_sqrt
        classes.append(fid.where((n_r >= 2) & (n_f >= 2), torch.full_like(fid, math.nan)))
        if small_groups:  # every group has at most F rows: the n x n form on the groups' own rows
            g_n_r, g_mean_r, g_trace_r, g_factor_r = _class_moments(*groups_real, w_real)
            g_n_f, g_mean_f, g_trace_f, g_factor_f = _class_moments(*groups_fake, w_fake)
            fid = (g_mean_r - g_mean_f).square().sum(-1) + g_trace_r + g_trace_f - 2 * _trace_sqrt_rows(g_factor_r,
                                                                                                         g_factor_f)
        else:  # the F x F form, from the second moments of the parts
            second_r = _part_second_moments(real, part_of_class[real_labels], len(signatures), w_real)
            second_f = _part_second_moments(fake, part_of_class[fake_labels], len(signatures), w_fake)
            g_n_r, g_mean_r, cov_r = _pooled(n_r, mean_r, second_r, member, part_member)
            g_n_f, g_mean_f, cov_f = _pooled(n_f, mean_f, second_f, member, part_member)
            fid = ((g_mean_r - g_mean_f).square().sum(-1) + cov_r.diagonal(dim1=-2, dim2=-1).sum(-1)
                   + cov_f.diagonal(dim1=-2, dim2=-1).sum(-1) - 2 * _trace_sqrt_cov(cov_r, cov_f))
        pooled.append(fid.where((g_n_r >= 2) & (g_n_f >= 2), torch.full_like(fid, math.nan)))
    return torch.cat(classes).cpu(), torch.cat(pooled).cpu()


def basic_interval(point: torch.Tensor, replicates: torch.Tensor,
                   confidence: float = CONFIDENCE) -> tuple[torch.Tensor, torch.Tensor]:
    """The basic bootstrap interval (lo, hi) = (2θ̂ − q(1 − α/2), 2θ̂ − q(α/2)) of each column of (B, G)
    replicates around its (G,) point value; NaN where the point or any replicate is NaN."""
    alpha = 1 - confidence
    q = torch.quantile(replicates, torch.tensor([alpha / 2, 1 - alpha / 2], dtype=replicates.dtype), dim=0)
    bad = replicates.isnan().any(0) | point.isnan()
    lo, hi = 2 * point - q[1], 2 * point - q[0]
    nan = torch.full_like(lo, math.nan)
    return lo.where(~bad, nan), hi.where(~bad, nan)


def resamplable_groups(real_labels: torch.Tensor, fake_labels: torch.Tensor, groups: torch.Tensor,
                       num_classes: int) -> torch.Tensor:
    """Bool (G,): whether a class-stratified resample can differ from the set itself for each group of classes
    (``groups``: (G, C) bool). It cannot when every class of the group holds at most one row among the real and
    among the fake features (one image per class): each resample then draws every row exactly once, and the
    "interval" has zero width while saying nothing about the sampling error."""
    real_sizes = torch.bincount(real_labels.cpu(), minlength=num_classes)
    fake_sizes = torch.bincount(fake_labels.cpu(), minlength=num_classes)
    varies = (real_sizes >= 2) | (fake_sizes >= 2)  # (C,)
    return (groups.cpu() & varies).any(1)


def reference_halves(labels: torch.Tensor) -> torch.Tensor:
    """Bool (N,): True for half A of a reference set, False for half B — alternate rows within each class
    (rank 0, 2, 4 … of a class go to A), so both halves keep the class histogram (within one row per class)."""
    labels = labels.cpu()
    order = torch.argsort(labels, stable=True)
    sizes = torch.bincount(labels)
    start = torch.cumsum(sizes, 0) - sizes
    rank = torch.empty_like(order)
    rank[order] = torch.arange(labels.numel()) - start[labels[order]]
    return rank % 2 == 0
