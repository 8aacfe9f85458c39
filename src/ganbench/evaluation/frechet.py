"""Fréchet distance between Gaussians fitted to two sets of vectors, in float64."""

from __future__ import annotations

import numpy as np


def moments(x) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of the rows of ``x`` (array or tensor), in float64."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """‖μ1-μ2‖² + tr(Σ1 + Σ2 - 2 (Σ1^½ Σ2 Σ1^½)^½).

    Uses symmetric eigen-decompositions, which stay real and stable for the singular covariances
    that small sample sets give (tr (Σ1Σ2)^½ = tr (Σ1^½ Σ2 Σ1^½)^½).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if not all(np.isfinite(a).all() for a in (mu1, mu2, s1, s2)):
        return float("nan")  # e.g. samples of a diverged generator: undefined, not an error
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ s2 @ root1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)
