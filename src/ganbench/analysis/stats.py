"""Statistics over seeds: the 95% t-interval of a mean and tests of a difference of means.

GAN results vary a lot between seeds, so every summary and comparison carries an interval.
Public functions, reused by ``ganbench results``/``compare`` and ``ganbench check``:

* :func:`mean_ci` — mean, sample std and the t-interval of the mean (n - 1 dof).
* :func:`welch` — delta of means (B − A), its Welch–Satterthwaite t-interval and a two-sided
  p-value: Welch's unequal-variances t-test, or the exact permutation test where values tie.
* :func:`permutation_p` — the permutation test of a difference of means (exact for the small
  seed counts of a benchmark), valid for any distribution, ties and discrete metrics included.
* :func:`holm` — Holm's step-down adjustment of many p-values (family-wise error).

Ties. A t-test needs a spread, and seeds that happen to agree do not make a population variance
of zero: ``[7, 7, 7]`` vs ``[8, 8, 8]`` (modes covered, a discrete metric) is no certain
difference. Where any two of the pooled values are equal — which happens for discrete metrics
(counts, percentages of a fixed sample) and identical runs, and with probability zero for a
continuous one — the p-value is the exact permutation test's instead: under exchangeability it is
valid whatever the distribution, and it is never below ``1 / C(n_a + n_b, n_b)`` (3 vs 3 seeds:
0.05 one-sided, 0.1 two-sided; 1 vs 4: 0.2). The Welch interval is not given there (NaN).

With fewer than two finite values on a side no interval can be given: the bounds and p are NaN.
"""

from __future__ import annotations

import math
from typing import Iterable, NamedTuple, Sequence

ALPHA = 0.05  # 95% intervals


class MeanCI(NamedTuple):
    mean: float
    std: float
    n: int
    ci_low: float
    ci_high: float


class Welch(NamedTuple):
    delta: float
    ci_low: float
    ci_high: float
    p_value: float


def _finite(values: Iterable[float]) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def _mean(x: list[float]) -> float:
    """The mean of finite ``x`` (exact: fsum); for values near the float limit (±1.7e308, where
    fsum overflows) computed on the values scaled by the largest."""
    try:
        return math.fsum(x) / len(x)
    except OverflowError:
        s = max(abs(v) for v in x)
        return math.fsum(v / s for v in x) / len(x) * s


def mean_ci(values: Iterable[float], alpha: float = ALPHA) -> MeanCI:
    """Mean, std (ddof 1) and the (1 − alpha) t-interval of the mean of the finite ``values``."""
    from scipy import stats

    x = _finite(values)
    n = len(x)
    nan = float("nan")
    if n == 0:
        return MeanCI(nan, nan, 0, nan, nan)
    mean = _mean(x)
    if n < 2:
        return MeanCI(mean, nan, 1, nan, nan)
    try:
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in x) / (n - 1))
    except OverflowError:  # values beyond ±1e154: on values scaled by the largest
        s = max(abs(v) for v in x)
        std = math.sqrt(math.fsum((v / s - mean / s) ** 2 for v in x) / (n - 1)) * s
    half = stats.t.ppf(1 - alpha / 2, n - 1) * std / math.sqrt(n)
    return MeanCI(mean, std, n, mean - half, mean + half)


def welch_se2_dof(xa: list[float], xb: list[float]) -> tuple[float, float]:
    """Squared standard error of the difference of means of two samples (at least two values
    each) and its Welch–Satterthwaite degrees of freedom (inf when the error is 0)."""
    try:
        ma, mb = math.fsum(xa) / len(xa), math.fsum(xb) / len(xb)
        va = math.fsum((v - ma) ** 2 for v in xa) / (len(xa) - 1) / len(xa)
        vb = math.fsum((v - mb) ** 2 for v in xb) / (len(xb) - 1) / len(xb)
        se2 = va + vb
        if se2 == 0:
            return 0.0, math.inf
        return se2, se2 ** 2 / (va ** 2 / (len(xa) - 1) + vb ** 2 / (len(xb) - 1))
    except OverflowError:  # values near the float limit: the dof does not change with scale
        s = max(abs(v) for v in xa + xb)
        se2, dof = welch_se2_dof([v / s for v in xa], [v / s for v in xb])
        return se2 * s * s, dof  # inf when it exceeds the float range


def has_ties(*samples: Iterable[float]) -> bool:
    """Whether any two of the pooled values are equal (a discrete metric, or identical runs)."""
    pooled = [v for x in samples for v in x]
    return len(set(pooled)) < len(pooled)


PERMUTATIONS = 99_999  # exact up to this many splits of the pooled seeds, else sampled (seed 0)


def permutation_p(a: Iterable[float], b: Iterable[float], alternative: str = "greater") -> float:
    """p-value of the permutation test of ``mean(b) - mean(a)`` (``greater``: B larger;
    ``two-sided``: twice the smaller one-sided p, as scipy's). Exact (every split of the pooled
    values into the two sides) when there are at most :data:`PERMUTATIONS` splits, otherwise
    from that many random splits (seeded, so the result is reproducible). Ties count against
    rejection."""
    import numpy as np
    from scipy import stats

    xa, xb = _finite(a), _finite(b)
    if not xa or not xb or len(xa) + len(xb) < 3:
        return float("nan")
    if len(xa) == 1 or len(xb) == 1:  # scipy needs two per side; one value: its rank, exactly
        one, rest, sign = (xb[0], xa, 1.0) if len(xb) == 1 else (xa[0], xb, -1.0)
        pooled = rest + [one]
        # mean(b) - mean(a) is monotone in the single value: the split that puts each pooled
        # value on its side is as extreme as the observed one when that value is as extreme
        greater = sum(1 for v in pooled if sign * v >= sign * one) / len(pooled)
        if alternative == "greater":
            return greater
        less = sum(1 for v in pooled if sign * v <= sign * one) / len(pooled)
        return min(1.0, 2 * min(greater, less))  # two-sided as scipy's: twice the smaller

    def diff(x, y, axis):
        return np.mean(y, axis=axis) - np.mean(x, axis=axis)

    res = stats.permutation_test((np.asarray(xa), np.asarray(xb)), diff, vectorized=True,
                                 permutation_type="independent", alternative=alternative,
                                 n_resamples=PERMUTATIONS, rng=np.random.default_rng(0))
    return float(res.pvalue)


def welch(a: Iterable[float], b: Iterable[float], alpha: float = ALPHA) -> Welch:
    """Delta of means B − A, its (1 − alpha) Welch t-interval and Welch's two-sided p-value;
    where values tie, no interval and the exact permutation test's p (module docstring)."""
    from scipy import stats

    xa, xb = _finite(a), _finite(b)
    nan = float("nan")
    if not xa or not xb:
        return Welch(nan, nan, nan, nan)
    scale = max(abs(v) for v in xa + xb)
    if scale > 1e150:  # squares would overflow: the same test on values scaled by the largest
        w = welch([v / scale for v in xa], [v / scale for v in xb], alpha)
        return Welch(w.delta * scale, w.ci_low * scale, w.ci_high * scale, w.p_value)
    delta = _mean(xb) - _mean(xa)
    if len(xa) < 2 or len(xb) < 2:
        return Welch(delta, nan, nan, nan)
    if has_ties(xa, xb):  # a discrete metric: no t-interval; the exact permutation test
        return Welch(delta, nan, nan, permutation_p(xa, xb, "two-sided"))
    se2, dof = welch_se2_dof(xa, xb)
    half = stats.t.ppf(1 - alpha / 2, dof) * math.sqrt(se2)
    # Welch's two-sided p from t and the Welch-Satterthwaite dof (scipy's ttest_ind gives the
    # same number but warns when one side's values are all equal, e.g. 8 of 8 modes per seed)
    p = float(2 * stats.t.sf(abs(delta) / math.sqrt(se2), dof))
    return Welch(delta, delta - half, delta + half, p)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order; a
    NaN p (no test) stays NaN and does not count in the family."""
    idx = [i for i, p in enumerate(p_values) if p == p]
    m = len(idx)
    adjusted = [float("nan")] * len(p_values)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: p_values[j])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def verdict(w: Welch, higher_is_better, alpha: float = ALPHA) -> str:
    """``better``/``worse`` when p < alpha (by the metric's direction), else ``no significant
    difference``; ``no interval (1 seed)`` without one; ``n/a`` for a metric with no direction."""
    if isinstance(higher_is_better, str):
        higher_is_better = {"true": True, "false": False}.get(higher_is_better.lower())
    if higher_is_better is None or higher_is_better != higher_is_better:
        return "n/a"
    if w.p_value != w.p_value:
        return "no interval (1 seed)"
    if w.p_value >= alpha:
        return "no significant difference"
    return "better" if (w.delta > 0) == bool(higher_is_better) else "worse"
