"""The domain classifier: a small CNN whose penultimate layer gives FID features.

Input: float images in [-1, 1] at the classifier's native size (``size``). ``features`` is the
128-d penultimate layer, before its ReLU (FID, KID, precision/recall); ``logits`` the class
scores (IS and the label-based metrics).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

FEATURE_DIM = 128


class DomainNet(nn.Module):
    """conv(16)-[pool]-conv(32)-pool-conv(64)-avgpool(2x2)-fc(128)-ReLU-fc(classes).

    ``pools`` is the number of 2x max-pools (1 for 8x8 inputs, 2 for 28x28).
    """

    def __init__(self, channels: int = 1, size: int = 28, num_classes: int = 10,
                 pools: int = 2, width: int = 16):
        super().__init__()
        self.arch = dict(channels=channels, size=size, num_classes=num_classes, pools=pools,
                         width=width)
        w = width
        layers: list[nn.Module] = [nn.Conv2d(channels, w, 3, padding=1), nn.ReLU()]
        if pools >= 2:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                   nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(),
                   nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                   nn.Linear(16 * w, FEATURE_DIM)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(FEATURE_DIM, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, logits) of float images in [-1, 1], shape (N, channels, size, size).

        The features are taken before the ReLU: no unit is constantly zero, so their
        covariance has full rank and the Fréchet distance is numerically well conditioned."""
        f = self.body(x)
        return f, self.head(f)


def build(arch: dict[str, Any]) -> DomainNet:
    return DomainNet(**arch)


def from_uint8(x: torch.Tensor, channels: int, size: int) -> torch.Tensor:
    """uint8 (N, 3, H, W) as torch-fidelity passes them → float [-1, 1] (N, channels, size,
    size). Grayscale nets average the three channels (exact for grey images repeated to RGB);
    other sizes are resized bilinearly (antialiased when shrinking)."""
    x = x.float() / 127.5 - 1.0
    if channels == 1:
        x = x.mean(1, keepdim=True)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                            align_corners=False,
                                            antialias=x.shape[-1] > size)
    return x


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (N, C, H, W) → uint8 (N, 3, H, W), grey repeated to three channels, as
    torch-fidelity requires."""
    u = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if u.shape[1] == 1:
        u = u.repeat(1, 3, 1, 1)
    return u
