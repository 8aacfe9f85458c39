"""Evaluation throughput: Inception feature extraction (torch-fidelity's InceptionV3, the FID
feature space) and the Fréchet distance on 2048-d features.

Without GANBENCH_INCEPTION_WEIGHTS (a path to torch-fidelity's weight file) the extractor is a
stand-in with random weights: the same network, so the same time; no FID value is reported.
Figures: ``extra_info["images_per_s"]`` and the Fréchet time per call.
"""

import os

import pytest

from benchutil import inception, synced

N_IMAGES = int(os.environ.get("GANBENCH_BENCH_EVAL_IMAGES", "8"))  # per round (CPU: slow)


@pytest.fixture(scope="module")
def extractor(device):
    return inception(os.environ.get("GANBENCH_INCEPTION_WEIGHTS"), device)


def test_inception_features(benchmark, extractor, device):
    import torch

    n = N_IMAGES if device.type == "cpu" else 500
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g).to(device)

    def extract():
        with torch.no_grad():
            return extractor(images)

    benchmark.pedantic(synced(extract, device), rounds=3, iterations=1, warmup_rounds=1)
    (feats,) = extract()
    assert feats.shape == (n, 2048) and torch.isfinite(feats).all()
    benchmark.extra_info.update(images_per_s=round(n / benchmark.stats.stats.median, 2),
                                images_per_round=n, device=str(device),
                                weights="official" if os.environ.get(
                                    "GANBENCH_INCEPTION_WEIGHTS") else "stand-in (random)")


def test_frechet_2048(benchmark):
    import numpy as np

    from ganbench.evaluation.frechet import frechet_distance, moments

    rng = np.random.default_rng(0)
    a = moments(rng.standard_normal((2500, 2048)))
    b = moments(rng.standard_normal((2500, 2048)) + 0.1)  # moments: untimed set-up
    d = benchmark.pedantic(frechet_distance, args=(*a, *b), rounds=2, iterations=1)
    # FD = ‖Δμ‖² + a non-negative covariance term (large here: 2048 dims from 2500 samples)
    mean_term = float(((a[0] - b[0]) ** 2).sum())
    assert 20 < mean_term < 22 and mean_term <= d < float("inf")
    benchmark.extra_info["dims"] = 2048
