"""The statistics behind every comparison the report prints: t-intervals over seeds, Welch's t-test with an
effect size, rankings with ties, the last-third slope of a curve and the rank correlation of per-class FID with
the class's training count.

* 95% t-interval of a mean over n seeds: x̄ ± t(0.975, n − 1) · s / √n (s = sample std); none for n < 2.
* Welch's t-test (unequal variances; ``scipy.stats.ttest_ind(equal_var=False)``), two-sided, for two groups of
  seeds; the effect size is Hedges' g = (x̄a − x̄b) / s_pooled · (1 − 3 / (4(na + nb) − 9)). A difference is
  significant when p < ALPHA; with fewer than 2 seeds on a side, or no spread at all, it is inconclusive.
* Ranking with ties: rank = 1 + the number of groups significantly better (lower FID) than this one, so groups
  that cannot be told apart share a rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
CONFIDENCE = 0.95


def t_halfwidth(values: np.ndarray | list[float]) -> float:
    """Half-width of the 95% t-interval of the mean of ``values`` (NaN dropped); NaN for fewer than 2."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan
    return float(sps.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


@dataclass(frozen=True)
class Comparison:
    """Welch's test of a − b over seeds."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float  # mean_a − mean_b
    diff_lo: float  # 95% Welch interval of the difference
    diff_hi: float
    p: float  # two-sided; NaN when inconclusive by construction
    hedges_g: float

    @property
    def significant(self) -> bool:
        return bool(np.isfinite(self.p) and self.p < ALPHA)

    @property
    def verdict(self) -> str:
        """``a lower`` | ``b lower`` (significant at ALPHA) | ``not significant`` | ``inconclusive (…)``."""
        if min(self.n_a, self.n_b) < 2:
            return "inconclusive (fewer than 2 seeds)"
        if not np.isfinite(self.p):
            return "inconclusive (no spread)"
        if not self.significant:
            return "not significant"
        return "a lower" if self.diff < 0 else "b lower"


def welch(a: np.ndarray | list[float], b: np.ndarray | list[float]) -> Comparison:
    """Compare the values of two groups of seeds (NaN dropped) by Welch's t-test."""
    x, y = (np.asarray(v, dtype=float) for v in (a, b))
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    n_a, n_b = x.size, y.size
    mean_a = float(x.mean()) if n_a else math.nan
    mean_b = float(y.mean()) if n_b else math.nan
    diff = mean_a - mean_b
    nan = math.nan
    if min(n_a, n_b) < 2:
        return Comparison(n_a, n_b, mean_a, mean_b, diff, nan, nan, nan, nan)
    va, vb = x.var(ddof=1) / n_a, y.var(ddof=1) / n_b
    if va + vb == 0:
        return Comparison(n_a, n_b, mean_a, mean_b, diff, diff, diff, nan, nan)
    dof = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    half = float(sps.t.ppf(0.5 + CONFIDENCE / 2, dof) * math.sqrt(va + vb))
    p = float(sps.ttest_ind(x, y, equal_var=False).pvalue)
    pooled = math.sqrt(((n_a - 1) * x.var(ddof=1) + (n_b - 1) * y.var(ddof=1)) / (n_a + n_b - 2))
    g = diff / pooled * (1 - 3 / (4 * (n_a + n_b) - 9)) if pooled > 0 else nan
    return Comparison(n_a, n_b, mean_a, mean_b, diff, diff - half, diff + half, p, g)


def ranks_with_ties(values: dict[str, list[float]]) -> dict[str, int]:
    """Rank of each group (lower is better): 1 + the number of groups significantly lower than it."""
    return {name: 1 + sum(welch(other, mine).verdict == "a lower" for o, other in values.items() if o != name)
            for name, mine in values.items()}


def last_third_slope(steps: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of ``values`` against ``steps`` over the last third of the evaluations (at least 2),
    per 1,000 steps; NaN with fewer than 2 finite points."""
    order = np.argsort(steps)
    s, v = np.asarray(steps, dtype=float)[order], np.asarray(values, dtype=float)[order]
    keep = np.isfinite(v)
    s, v = s[keep], v[keep]
    if s.size < 2:
        return math.nan
    k = max(2, math.ceil(s.size / 3))
    s, v = s[-k:], v[-k:]
    if np.ptp(s) == 0:
        return math.nan
    return float(np.polyfit(s / 1000.0, v, 1)[0])


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Spearman's ρ and its two-sided p-value over the finite pairs; NaN for fewer than 3 pairs or no spread."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return math.nan, math.nan
    result = sps.spearmanr(x[keep], y[keep])
    return float(result.statistic), float(result.pvalue)


def one_sample(values: np.ndarray | list[float]) -> tuple[float, float, int]:
    """Mean, two-sided p-value of mean = 0 (one-sample t-test) and count of the finite ``values``."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 2 or x.std(ddof=1) == 0:
        return (float(x.mean()) if x.size else math.nan), math.nan, int(x.size)
    return float(x.mean()), float(sps.ttest_1samp(x, 0.0).pvalue), int(x.size)
