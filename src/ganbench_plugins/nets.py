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


def spectral_norm_all(module: nn.Module, exclude: Sequence[nn.Module] = ()) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every Linear, Conv and Embedding layer of
    ``module`` but those in ``exclude`` (torch's parametrisation: one power iteration per
    training forward pass)."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if any(m is e for e in exclude):
            continue
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


# --- ResNet (SN-GAN / WGAN-GP) and BigGAN nets for 32 x 32 images ----------------------------
#
# Written from the papers' architecture tables (Gulrajani et al. 2017, appendix F; Miyato et al.
# 2018, appendix B, ResNet for CIFAR-10; Miyato & Koyama 2018 for the projection D; Brock et al.
# 2019, appendix B) and checked against the layer shapes of mimicry's sngan_32.py / cgan_pd_32.py
# and StudioGAN's big_resnet.py (facts only, no code taken).


class BatchNorm(nn.Module):
    """Unconditional BatchNorm2d with the conditional norms' call signature ``(h, cond)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, h: torch.Tensor, cond=None) -> torch.Tensor:
        return self.bn(h)


class ClassBatchNorm(nn.Module):
    """Conditional BatchNorm (de Vries et al. 2017; SN-GAN's conditional G): BatchNorm without
    its own affine, then a per-class scale and shift looked up from an embedding (scale 1,
    shift 0 at initialisation). ``cond`` is the label."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.embed = nn.Embedding(num_classes, 2 * channels)
        with torch.no_grad():
            self.embed.weight[:, :channels].fill_(1.0)
            self.embed.weight[:, channels:].zero_()

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.embed(cond).chunk(2, dim=1)
        return self.bn(h) * scale[:, :, None, None] + shift[:, :, None, None]


class VectorBatchNorm(nn.Module):
    """BigGAN's conditional BatchNorm: scale 1 + W_g c and shift W_b c, linear (no bias) in a
    conditioning vector c (the shared class embedding concatenated with a chunk of z)."""

    def __init__(self, channels: int, cond_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(cond_dim, channels, bias=False)
        self.bias = nn.Linear(cond_dim, channels, bias=False)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        g = 1.0 + self.gain(cond)
        return self.bn(h) * g[:, :, None, None] + self.bias(cond)[:, :, None, None]


class UpBlock(nn.Module):
    """G's residual block: norm, ReLU, ×2 nearest up-sampling, 3×3 conv, norm, ReLU, 3×3 conv;
    shortcut: up-sampling and a 1×1 conv."""

    def __init__(self, c_in: int, c_out: int, norm):
        super().__init__()
        self.norm1, self.norm2 = norm(c_in), norm(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1, 1, 0)

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        import torch.nn.functional as F

        h = F.relu(self.norm1(x, cond))
        h = self.conv1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv2(F.relu(self.norm2(h, cond)))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    """D's residual block: ReLU, 3×3 conv, ReLU, 3×3 conv, (2×2 average pooling); shortcut a
    1×1 conv (then pooling) when the block pools or changes the width, else the identity.
    ``first``: the "optimised" first block on the image, without the leading ReLU, whose
    shortcut pools before its 1×1 conv."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1, 1, 0) if (down or c_in != c_out) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.first:
            return h + self.skip(F.avg_pool2d(x, 2))
        s = x if self.skip is None else self.skip(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class SelfAttention(nn.Module):
    """Self-attention over the positions of a feature map (Zhang et al. 2019, SAGAN, as in
    BigGAN): 1×1 convs θ (C/8), φ (C/8) and g (C/2), φ and g max-pooled 2×2; the attended g
    goes through a 1×1 conv o back to C and is added with a learned scale γ, 0 at
    initialisation (so the block starts as the identity)."""

    def __init__(self, channels: int):
        super().__init__()
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.o = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        import torch.nn.functional as F

        n, c, h, w = x.shape
        q = self.theta(x).flatten(2)  # N, C/8, HW
        k = F.max_pool2d(self.phi(x), 2).flatten(2)  # N, C/8, HW/4
        v = F.max_pool2d(self.g(x), 2).flatten(2)  # N, C/2, HW/4
        attn = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # N, HW, HW/4
        out = (v @ attn.transpose(1, 2)).view(n, c // 2, h, w)
        return x + self.gamma * self.o(out)


RESNET_BOTTOM = 4  # G starts from 4×4 and up-samples 3 times to 32×32


class ResNetGenerator(nn.Module):
    """SN-GAN's / WGAN-GP's 32×32 ResNet G: z -> linear to 4×4×width, three up-sampling
    residual blocks, BatchNorm, ReLU, 3×3 conv to the image's channels, Tanh. Conditional
    (``num_classes`` > 0): every BatchNorm in the blocks is a class-conditional BatchNorm
    (Miyato & Koyama 2018)."""

    def __init__(self, z_dim: int, channels: int, width: int, num_classes: int = 0):
        super().__init__()
        self.width = width
        norm = (lambda c: ClassBatchNorm(c, num_classes)) if num_classes else BatchNorm
        self.linear = nn.Linear(z_dim, RESNET_BOTTOM * RESNET_BOTTOM * width)
        self.blocks = nn.ModuleList(UpBlock(width, width, norm) for _ in range(3))
        self.out_bn = nn.BatchNorm2d(width)
        self.out_conv = nn.Conv2d(width, channels, 3, 1, 1)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], self.width, RESNET_BOTTOM, RESNET_BOTTOM)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out_conv(torch.relu(self.out_bn(h))))


class ResNetDiscriminator(nn.Module):
    """SN-GAN's 32×32 ResNet D: an optimised down-sampling block, a down-sampling block and two
    plain blocks, all ``width`` wide; ReLU, global sum pooling, linear to one output.
    Conditional: a projection D, ``<embed(y), φ(x)>`` added to the output (Miyato & Koyama
    2018). ``attention_after``: a self-attention layer after that block (1-based; BigGAN)."""

    def __init__(self, channels: int, width: int, num_classes: int = 0,
                 attention_after: int = 0):
        super().__init__()
        layers: list[nn.Module] = []
        for i, down in enumerate((True, True, False, False)):
            layers.append(DownBlock(channels if i == 0 else width, width, down, first=i == 0))
            if i + 1 == attention_after:
                layers.append(SelfAttention(width))
        self.blocks = nn.Sequential(*layers)
        self.linear = nn.Linear(width, 1)
        self.embed = nn.Embedding(num_classes, width) if num_classes else None

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = torch.relu(self.blocks(x)).sum(dim=(2, 3))
        out = self.linear(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(1)
        return out


def resnet_init(module: nn.Module) -> None:
    """SN-GAN's initialisation (their Chainer code, as mimicry): Xavier-uniform weights, gain
    √2 on the residual 3×3 convs, 1 elsewhere (input linear, shortcuts, output layers)."""
    for m in module.modules():
        if isinstance(m, (UpBlock, DownBlock)):
            nn.init.xavier_uniform_(m.conv1.weight, math.sqrt(2.0))
            nn.init.xavier_uniform_(m.conv2.weight, math.sqrt(2.0))
            if m.skip is not None:
                nn.init.xavier_uniform_(m.skip.weight, 1.0)
    for name in ("linear", "out_conv", "embed"):  # embed: the projection D's class embedding
        m = getattr(module, name, None)
        if m is not None:
            nn.init.xavier_uniform_(m.weight, 1.0)


class BigGANGenerator(nn.Module):
    """BigGAN's 32×32 G (Brock et al. 2019): z split into 4 equal chunks; the first goes through
    a linear layer to 4×4×width, each of the three up-sampling residual blocks gets one chunk,
    concatenated with a shared class embedding, as the conditioning vector of its two
    conditional BatchNorms (hierarchical latents, shared embedding); optional self-attention
    after block ``attention_after``; BatchNorm, ReLU, 3×3 conv, Tanh. Unconditional
    (``num_classes`` 0): the chunks alone condition the BatchNorms."""

    def __init__(self, z_dim: int, channels: int, width: int, num_classes: int = 0,
                 shared_dim: int = 128, attention_after: int = 0):
        super().__init__()
        if z_dim % 4:
            raise ValueError(f"BigGAN splits z into 4 chunks: z_dim {z_dim} is not a multiple "
                             "of 4")
        self.chunk, self.width = z_dim // 4, width
        self.shared = nn.Embedding(num_classes, shared_dim) if num_classes else None
        cond = self.chunk + (shared_dim if num_classes else 0)
        self.linear = nn.Linear(self.chunk, RESNET_BOTTOM * RESNET_BOTTOM * width)
        layers: list[nn.Module] = []
        for i in range(3):
            layers.append(UpBlock(width, width, lambda c: VectorBatchNorm(c, cond)))
            if i + 1 == attention_after:
                layers.append(SelfAttention(width))
        self.blocks = nn.ModuleList(layers)
        self.out_bn = nn.BatchNorm2d(width)
        self.out_conv = nn.Conv2d(width, channels, 3, 1, 1)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        first, *rest = z.split(self.chunk, dim=1)
        if self.shared is not None:
            e = self.shared(y)
            rest = [torch.cat([e, c], dim=1) for c in rest]
        h = self.linear(first).view(z.shape[0], self.width, RESNET_BOTTOM, RESNET_BOTTOM)
        chunks = iter(rest)
        for layer in self.blocks:
            h = layer(h) if isinstance(layer, SelfAttention) else layer(h, next(chunks))
        return torch.tanh(self.out_conv(torch.relu(self.out_bn(h))))


def orthogonal_init(module: nn.Module) -> None:
    """BigGAN's initialisation: every Linear, Conv and Embedding weight orthogonal (Saxe et al.
    2014; the weight read as a matrix, output rows by flattened inputs), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)):
            nn.init.orthogonal_(m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
