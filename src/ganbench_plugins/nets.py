"""Network definitions of the built-in models (imported only when a model is built)."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn


def _mlp(sizes: Sequence[int], act: str, out_act: Optional[nn.Module] = None,
         pieces: int = 2, norm: str = "none") -> nn.Sequential:
    """Linear layers with ``act`` between them. ``norm="batch"``: each hidden Linear (without
    a bias, which BatchNorm's shift makes redundant) is followed by BatchNorm1d before ``act``,
    as PacGAN's generator (population statistics updated with momentum 0.05)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        last = i == len(sizes) - 2
        if act == "maxout" and not last:
            layers.append(Maxout(sizes[i], sizes[i + 1], pieces=pieces))
            continue
        batch_norm = norm == "batch" and not last
        layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(sizes[i + 1], momentum=BN_MOMENTUM))
        if not last:
            layers.append(nn.ReLU() if act == "relu" else nn.LeakyReLU(0.2))
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


BN_MOMENTUM = 0.05  # PacGAN's population update: p <- 0.95 p + 0.05 batch statistic


def normal_init(module: nn.Module, std: float) -> None:
    """Weights of every Linear from N(0, std), biases 0 (PacGAN: std 0.02); BatchNorm keeps
    torch's scale 1, shift 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Maxout(nn.Module):
    """Maxout unit (Goodfellow et al. 2013), the activation of the original GAN discriminator."""

    def __init__(self, d_in: int, d_out: int, pieces: int = 2):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(d_in, d_out * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        return y.view(*y.shape[:-1], -1, self.pieces).amax(-1)


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], hidden: Sequence[int], images: bool,
                 num_classes: int = 0, embed_dim: int = 0, norm: str = "none"):
        super().__init__()
        self.shape = tuple(shape)
        out = math.prod(shape)
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.net = _mlp([z_dim + embed_dim, *hidden, out], "relu", nn.Tanh() if images else None,
                        norm=norm)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """MLP D. With ``pack`` m > 1 (PacGAN, Lin et al. 2018) D scores packs: a batch of N
    samples is read as N/m packs of m consecutive samples concatenated, one output per pack."""

    def __init__(self, shape: tuple[int, ...], hidden: Sequence[int], act: str,
                 num_classes: int = 0, embed_dim: int = 0, pack: int = 1, pieces: int = 2):
        super().__init__()
        self.pack = pack
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        self.net = _mlp([pack * math.prod(shape) + embed_dim, *hidden, 1], act, pieces=pieces)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = x.flatten(1)
        if self.pack > 1:
            if h.shape[0] % self.pack:
                raise ValueError(f"PacGAN D packs {self.pack} samples: the batch of "
                                 f"{h.shape[0]} is not a multiple of it")
            h = h.reshape(h.shape[0] // self.pack, -1)
        if self.embed is not None:
            h = torch.cat([h, self.embed(y)], dim=1)
        return self.net(h).squeeze(1)


def spectral_norm_all(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every Linear, Conv and Embedding layer of
    ``module`` (torch's parametrisation: one power iteration per training forward pass)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            spectral_norm(m)
    return module


class LinearGenerator(nn.Module):
    """x = A z + b: can represent any Gaussian N(b, A Aᵀ) exactly."""

    def __init__(self, z_dim: int, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)
        self.net = nn.Linear(z_dim, math.prod(shape))

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.shape)


def dcgan_levels(size: int) -> int:
    """Number of ×2 up-sampling stages from 4×4 to ``size`` (a power of two, 8 to 64)."""
    return int(math.log2(size)) - 2


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2015: weights from N(0, 0.02); BatchNorm scale from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """Project z to 4×4 with a fractionally-strided conv, then ×2 per stage; BN + ReLU; Tanh out.

    Conditional form: the label embedding is concatenated to z (Mirza & Osindero 2014).
    """

    def __init__(self, z_dim: int, channels: int, size: int, width: int,
                 num_classes: int = 0, embed_dim: int = 0):
        super().__init__()
        n = dcgan_levels(size)
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        c = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + embed_dim, c, 4, 1, 0, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """Strided convs ×½ per stage down to 4×4, LeakyReLU(0.2), BN except on the first layer;
    a 4×4 conv gives the logit.

    Conditional form: a projection discriminator (Miyato & Koyama 2018): the logit gets
    ``<embed(y), φ(x)>`` added, where φ(x) are the pooled last-stage features.
    """

    def __init__(self, channels: int, size: int, width: int, num_classes: int = 0,
                 batch_norm: bool = True):
        super().__init__()
        n = dcgan_levels(size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for _ in range(n - 1):
            if batch_norm:
                layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c * 2),
                           nn.LeakyReLU(0.2, True)]
            else:  # spectral norm instead of BatchNorm (SN-GAN): the conv keeps its bias
                layers += [nn.Conv2d(c, c * 2, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            c *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(c, 1, 4, 1, 0)
        self.embed = nn.Embedding(num_classes, c) if num_classes else None

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.features(x)
        out = self.head(h).flatten()
        if self.embed is not None:
            out = out + (self.embed(y) * h.sum(dim=(2, 3))).sum(1)
        return out


class ACDiscriminator(DCGANDiscriminator):
    """AC-GAN D (Odena et al. 2017): DCGAN features, a logit head and a class-logit head; the
    label is not an input (``y`` is accepted and ignored, as the runner passes it)."""

    def __init__(self, channels: int, size: int, width: int, num_classes: int):
        super().__init__(channels, size, width, 0)
        c = self.head.in_channels
        self.classes = nn.Conv2d(c, num_classes, 4, 1, 0)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None):
        h = self.features(x)
        return self.head(h).flatten(), self.classes(h).flatten(1)
