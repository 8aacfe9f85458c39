"""Embedded datasets: they need no download and work offline.

* ``ring8``: 8 Gaussians with means evenly spaced on a circle of radius 2, std 0.02 (VEEGAN,
  Srivastava et al. 2017).
* ``grid25``: 25 Gaussians with means on the grid {-4, -2, 0, 2, 4}², std 0.05 (PacGAN's grid;
  VEEGAN's std 0.02 leaves every variant at its noise row in CPU minutes).
* ``pacgan-ring`` and ``pacgan-grid``: PacGAN's synthetic sets exactly (Lin et al. 2018,
  section 4.1 and their code, ``synthetic_data_experiments/2D*_GAN&PacGAN/config.py``): 8
  Gaussians on a circle of radius 1 with std 0.01, and 25 on the grid {-4, -2, 0, 2, 4}² with
  std 0.05; 100,000 training points, as their ``num_sample``. The ``modes`` metric uses each
  set's own std (a sample is high quality within 3 std of its nearest centre, their
  ``dis_thre``). ``ring8`` is VEEGAN's ring (radius 2, std 0.02), not PacGAN's.
* ``gaussian``: N(0, Σ) in 3-D for a fixed non-diagonal Σ; a linear generator can match it.
* ``digits``: scikit-learn's 1797 real 8×8 handwritten digits (UCI), labels 0-9, scaled to
  [-1, 1]; a fixed 80/20 train/test split.

The toy sets are drawn from a fixed data seed (independent of the run seed), so every run sees
the same data. Labels of the mixtures are the mode index.
"""

from __future__ import annotations

import math

from ganbench import hookimpl
from ganbench.api.specs import DataRequest, DatasetSpec, DataSpec, DataTensors, Modes

MIXTURE_STD = 0.02  # ring8
GRID_STD = 0.05  # grid25 (PacGAN's)
TRAIN_POINTS = 50_000
PACGAN_TRAIN_POINTS = 100_000  # PacGAN's num_sample
PACGAN_RING_STD = 0.01
TEST_POINTS = 10_000
DATA_SEED = 1234
# Σ = A Aᵀ for this fixed lower-triangular A: unit variances, correlations 0.8, 0.3, -0.12.
GAUSSIAN_A = ((1.0, 0.0, 0.0), (0.8, 0.6, 0.0), (0.3, -0.6, 0.7416198487095663))

RING8 = Modes(
    centers=tuple((2 * math.cos(2 * math.pi * i / 8), 2 * math.sin(2 * math.pi * i / 8))
                  for i in range(8)),
    std=MIXTURE_STD,
)
PACGAN_RING = Modes(
    centers=tuple((math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8))
                  for i in range(8)),
    std=PACGAN_RING_STD,
)
GRID25 = Modes(
    centers=tuple((float(i), float(j)) for i in (-4, -2, 0, 2, 4) for j in (-4, -2, 0, 2, 4)),
    std=GRID_STD,
)


def _n(request: DataRequest, train_points: int = TRAIN_POINTS) -> tuple[int, int]:
    n = train_points if request.split == "train" else TEST_POINTS
    return n, DATA_SEED + (0 if request.split == "train" else 1)


def mixture_loader(modes: Modes, train_points: int = TRAIN_POINTS):
    def load(request: DataRequest) -> DataTensors:
        import torch

        n, seed = _n(request, train_points)
        g = torch.Generator().manual_seed(seed)
        centers = torch.tensor(modes.centers, dtype=torch.float32)
        y = torch.randint(len(centers), (n,), generator=g)
        x = centers[y] + modes.std * torch.randn(n, centers.shape[1], generator=g)
        return DataTensors(DataSpec("points", (centers.shape[1],), len(centers)), x, y)

    return load


def load_gaussian(request: DataRequest) -> DataTensors:
    import torch

    n, seed = _n(request)
    g = torch.Generator().manual_seed(seed)
    a = torch.tensor(GAUSSIAN_A, dtype=torch.float32)
    x = torch.randn(n, 3, generator=g) @ a.T
    return DataTensors(DataSpec("points", (3,)), x)


def load_digits(request: DataRequest) -> DataTensors:
    import numpy as np
    import torch
    from sklearn.datasets import load_digits as sk_load

    d = sk_load()
    order = np.random.RandomState(DATA_SEED).permutation(len(d.target))
    cut = int(0.8 * len(order))
    idx = order[:cut] if request.split == "train" else order[cut:]
    x = torch.from_numpy(d.images[idx].astype("float32") / 8.0 - 1.0).unsqueeze(1)
    y = torch.from_numpy(d.target[idx].astype("int64"))
    return DataTensors(DataSpec("images", (1, 8, 8), 10), x, y)


DATASETS = [
    DatasetSpec("ring8", DataSpec("points", (2,), 8), mixture_loader(RING8),
                "8 Gaussians on a circle of radius 2, std 0.02 (VEEGAN 2-D ring)", modes=RING8),
    DatasetSpec("grid25", DataSpec("points", (2,), 25), mixture_loader(GRID25),
                "25 Gaussians on a 5x5 grid, spacing 2, std 0.05 (PacGAN 2-D grid)", modes=GRID25),
    DatasetSpec("pacgan-ring", DataSpec("points", (2,), 8),
                mixture_loader(PACGAN_RING, PACGAN_TRAIN_POINTS),
                "8 Gaussians on a circle of radius 1, std 0.01, 100k points (PacGAN 2-D ring)",
                modes=PACGAN_RING),
    DatasetSpec("pacgan-grid", DataSpec("points", (2,), 25),
                mixture_loader(GRID25, PACGAN_TRAIN_POINTS),
                "25 Gaussians on a 5x5 grid, spacing 2, std 0.05, 100k points (PacGAN 2-D grid "
                "as in their code)", modes=GRID25),
    DatasetSpec("gaussian", DataSpec("points", (3,)), load_gaussian,
                "N(0, Σ) in 3-D with a fixed non-diagonal Σ (a linear G can match it)"),
    DatasetSpec("digits", DataSpec("images", (1, 8, 8), 10), load_digits,
                "scikit-learn's real 8x8 handwritten digits, 10 classes, [-1, 1], "
                "1437 train / 360 test"),
]


@hookimpl
def ganbench_register_datasets(register):
    for d in DATASETS:
        register(d)
