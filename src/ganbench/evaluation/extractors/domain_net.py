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


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """``max_pool2d(x, 2)`` as the maximum of four strided slices (odd sizes lose their last
    row/column, as max_pool2d's floor). A maximum is exact and NaN propagates in both, so the
    values are max_pool2d's; on a CPU, NCHW ``max_pool2d`` is ~7x slower than this."""
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w]
    rows = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
    return torch.maximum(rows[..., 0::2], rows[..., 1::2])


def _is_plain_pool2(m: nn.Module) -> bool:
    return (isinstance(m, nn.MaxPool2d) and m.kernel_size in (2, (2, 2))
            and m.stride in (2, (2, 2)) and m.padding in (0, (0, 0))
            and m.dilation in (1, (1, 1)) and not m.ceil_mode and not m.return_indices)


def forward_inference(net: DomainNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``net(x)`` without autograd, the same numbers bit for bit, faster on a CPU: a ReLU
    followed by a 2x2 max-pool runs as the pool first, then an in-place ReLU on a quarter of
    the values (ReLU is monotone, so it commutes with a maximum), and ReLUs act in place on
    intermediates no one else holds. The features are never modified in place."""
    if torch.is_grad_enabled():
        return net(x)
    layers = list(net.body)
    h, i = x, 0
    while i < len(layers):
        m = layers[i]
        if isinstance(m, nn.ReLU) and h is not x:
            if i + 1 < len(layers) and _is_plain_pool2(layers[i + 1]):
                h = max_pool_2x2(h).relu_()
                i += 2
                continue
            h = h.relu_()
        else:
            h = m(h)
        i += 1
    return h, net.head(h)


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


def to_uint8(x: torch.Tensor, view: bool = False) -> torch.Tensor:
    """Images in [-1, 1] (N, C, H, W) → uint8 (N, 3, H, W), grey repeated to three channels, as
    torch-fidelity requires. ``view``: grey as a read-only stride-0 view of its one channel
    (``expand``) instead of a copy: the same values, for consumers that only read them."""
    u = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if u.shape[1] == 1:
        u = u.expand(-1, 3, -1, -1) if view else u.repeat(1, 3, 1, 1)
    return u
