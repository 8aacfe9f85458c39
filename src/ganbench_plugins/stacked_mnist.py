"""Stacked MNIST: the mode-collapse benchmark of VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018).

Each sample stacks three MNIST digits as its red, green and blue channels, so there are
10 × 10 × 10 = 1000 modes; the label is ``100·d_red + 10·d_green + d_blue``. Construction:
for sample ``i`` the three source images are drawn independently and uniformly (with
replacement) from the MNIST split of the same name, by a ``torch.Generator`` seeded with
``STACK_SEED`` (train) or ``STACK_SEED + 1`` (test). So the data are the same on every machine
and for every run seed: 60,000 train and 10,000 test samples.
"""

from __future__ import annotations

STACK_SEED = 2017
SIZES = {"train": 60_000, "test": 10_000}


def stack(images, labels, n: int, seed: int):
    """``(x uint8 (n, 3, H, W), y int64 (n,))`` numpy arrays from MNIST ``images``
    (N, H, W) and ``labels`` (N,)."""
    import numpy as np
    import torch

    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(images), (n, 3), generator=g).numpy()
    x = np.asarray(images)[idx]  # (n, 3, H, W)
    d = np.asarray(labels, dtype=np.int64)[idx]
    y = 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]
    return x, y


def seed_for(split: str) -> int:
    return STACK_SEED + (0 if split == "train" else 1)
