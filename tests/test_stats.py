import math

import pytest
from scipy import stats as sst

from ganbench import stats


def test_mean_ci_is_the_t_interval():
    ci = stats.mean_ci([1.0, 2.0, 6.0])
    assert ci.mean == 3.0 and ci.n == 3
    assert ci.std == pytest.approx(math.sqrt(7.0))
    half = sst.t.ppf(0.975, 2) * math.sqrt(7.0) / math.sqrt(3)
    assert ci.ci_low == pytest.approx(3.0 - half) and ci.ci_high == pytest.approx(3.0 + half)


def test_one_seed_gives_no_interval():
    assert math.isnan(stats.mean_ci([4.0]).ci_low)
    w = stats.welch([1.0], [2.0, 3.0])
    assert w.delta == 1.5 and math.isnan(w.p_value)
    assert stats.verdict(w, False) == "no interval (1 seed)"


def test_welch_matches_scipy_and_closed_form():
    a, b = [147.0, 130.0, 165.0], [158.0, 145.0, 172.0, 160.0]
    w = stats.welch(a, b)
    assert w.p_value == pytest.approx(sst.ttest_ind(b, a, equal_var=False).pvalue)
    va, vb = sst.tvar(a) / 3, sst.tvar(b) / 4
    dof = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 3)
    half = sst.t.ppf(0.975, dof) * math.sqrt(va + vb)
    assert w.delta == pytest.approx(sum(b) / 4 - sum(a) / 3)
    assert (w.ci_low, w.ci_high) == pytest.approx((w.delta - half, w.delta + half))


def test_verdict_by_direction_and_significance():
    lo, hi = [1.0, 1.1, 0.9], [5.0, 5.1, 4.9]
    assert stats.verdict(stats.welch(lo, hi), True) == "better"
    assert stats.verdict(stats.welch(lo, hi), False) == "worse"
    assert stats.verdict(stats.welch(lo, [1.05, 0.95, 1.0]), True) == "no significant difference"
    assert stats.verdict(stats.welch(lo, hi), None) == "n/a"
