import math

import numpy as np
import pytest
import torch

from ganbench.evaluation.frechet import frechet_distance, moments
from ganbench_plugins.datasets import RING8
from ganbench_plugins.metrics import mode_stats


def test_frechet_closed_form():
    # two Gaussians with known parameters: FD = |mu1-mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2)
    s1 = np.diag([1.0, 4.0])
    s2 = np.diag([9.0, 1.0])
    mu1, mu2 = np.array([0.0, 0.0]), np.array([3.0, 4.0])
    expected = 25 + (1 + 4 + 9 + 1) - 2 * (3 + 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-12)


def test_frechet_non_diagonal_against_scipy():
    from scipy import linalg

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T, b @ b.T
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_moments_are_float64_and_unbiased():
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, cov = moments(x)
    assert mu.dtype == np.float64
    assert np.allclose(mu, [2, 4]) and np.allclose(cov, np.cov(x.numpy().T))


def _ring_samples(modes, per_mode, spread, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = torch.tensor(RING8.centers)[list(modes)]
    return (c.repeat_interleave(per_mode, 0)
            + spread * torch.randn(len(modes) * per_mode, 2, generator=g))


def test_modes_all_covered_by_real_data():
    s = mode_stats(_ring_samples(range(8), 300, RING8.std), RING8.centers, RING8.std)
    assert s["modes_covered"] == 8
    # within 3 std in 2-D: P(chi2_2 <= 9) = 1 - exp(-4.5) = 98.9%
    assert s["high_quality_pct"] == pytest.approx(100 * (1 - math.exp(-4.5)), abs=1.0)
    assert s["reverse_kl"] == pytest.approx(0, abs=0.01)


def test_mode_collapse_is_detected():
    s = mode_stats(_ring_samples([2], 1000, RING8.std), RING8.centers, RING8.std)
    assert s["modes_covered"] == 1
    assert s["reverse_kl"] == pytest.approx(math.log(8), rel=1e-9)
    half = mode_stats(_ring_samples([0, 1, 2, 3], 500, RING8.std), RING8.centers, RING8.std)
    assert half["modes_covered"] == 4
    assert half["reverse_kl"] == pytest.approx(math.log(2), abs=0.01)


def test_low_quality_samples_cover_nothing():
    far = torch.zeros(500, 2)  # the centre of the ring: 2 away from every mode
    s = mode_stats(far, RING8.centers, RING8.std)
    assert s["modes_covered"] == 0 and s["high_quality_pct"] == 0
