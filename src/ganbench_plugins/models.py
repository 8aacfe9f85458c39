"""Built-in architectures. torch is imported only when a model is built."""

from __future__ import annotations

from typing import Optional

from ganbench import hookimpl
from ganbench.api.specs import DataSpec, ModelSpec

MLP_OPTIONS = {"g_hidden": (256, 256), "d_hidden": (256, 256), "d_activation": "leakyrelu",
               "d_norm": "none", "pack": 1, "g_norm": "none", "maxout_pieces": 2, "init_std": 0.0}
DCGAN_OPTIONS = {"width": 64, "d_norm": "batch"}
# SN-GAN's CIFAR-10 ResNet (Miyato et al. 2018; mimicry's sngan_32): G 256 wide, D 128;
# WGAN-GP's (Gulrajani et al. 2017) is g_width 128, d_norm none
RESNET_OPTIONS = {"g_width": 256, "d_width": 128, "d_norm": "spectral"}
# BigGAN at 32x32 as StudioGAN's CIFAR-10 config (src/configs/CIFAR10/BigGAN-Mod.yaml): conv dims
# 96 (G 4x96 = 384 wide, D 2x96 = 192), shared embedding 128, self-attention after G's block 2
# and D's block 1 (on by default, as there)
BIGGAN32_OPTIONS = {"g_width": 384, "d_width": 192, "shared_dim": 128, "attention": True}
EMBED_DIM = 16


def _opts(defaults: dict, options: dict, model: str) -> dict:
    from ganbench.api.errors import UsageError

    extra = set(options) - set(defaults)
    if extra:
        raise UsageError(
            f"model '{model}' has no option(s) {', '.join(sorted(extra))}; "
            f"it takes {', '.join(sorted(defaults))}"
        )
    return {**defaults, **options}


def _check_mlp_options(o: dict, conditional: bool) -> None:
    from ganbench.api.errors import UsageError

    if o["d_activation"] not in ("leakyrelu", "maxout", "relu"):
        raise UsageError("d_activation must be leakyrelu, maxout or relu")
    if o["d_norm"] not in ("none", "spectral"):
        raise UsageError("d_norm must be none or spectral")
    if o["g_norm"] not in ("none", "batch"):
        raise UsageError(f"g_norm must be none or batch, got {o['g_norm']!r}")
    for name, lo, hi in (("pack", 1, 16), ("maxout_pieces", 2, 16)):
        v = o[name]
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise UsageError(f"{name} must be an integer from {lo} to {hi}, got {v!r}")
    if o["maxout_pieces"] != MLP_OPTIONS["maxout_pieces"] and o["d_activation"] != "maxout":
        raise UsageError("maxout_pieces applies only with d_activation maxout, "
                         f"not {o['d_activation']}")
    std = o["init_std"]
    if not isinstance(std, (int, float)) or isinstance(std, bool) or not 0 <= std < 1:
        raise UsageError(f"init_std must be a number in [0, 1) (0: torch's default init), "
                         f"got {std!r}")
    if o["pack"] > 1 and conditional:
        raise UsageError("pack > 1 (PacGAN) is for unconditional models")


def build_mlp(data: DataSpec, z_dim: int, conditional: bool = False, **options):
    from ganbench_plugins import nets

    o = _opts(MLP_OPTIONS, options, "cmlp" if conditional else "mlp")
    _check_mlp_options(o, conditional)
    nc, ed = (data.num_classes, EMBED_DIM) if conditional else (0, 0)
    images = data.kind == "images"
    g = nets.MLPGenerator(z_dim, data.shape, o["g_hidden"], images, nc, ed, norm=o["g_norm"])
    d = nets.MLPDiscriminator(data.shape, o["d_hidden"], o["d_activation"], nc, ed,
                              pack=o["pack"], pieces=o["maxout_pieces"])
    if o["init_std"]:
        nets.normal_init(g, o["init_std"])
        nets.normal_init(d, o["init_std"])
    if o["d_norm"] == "spectral":
        nets.spectral_norm_all(d)
    return g, d


def build_linear(data: DataSpec, z_dim: int, **options):
    from ganbench_plugins import nets

    o = _opts({"d_hidden": (128, 128)}, options, "linear")
    return nets.LinearGenerator(z_dim, data.shape), nets.MLPDiscriminator(
        data.shape, o["d_hidden"], "leakyrelu"
    )


def build_dcgan(data: DataSpec, z_dim: int, conditional: bool = False, **options):
    from ganbench_plugins import nets

    o = _opts(DCGAN_OPTIONS, options, "cdcgan" if conditional else "dcgan")
    if o["d_norm"] not in ("batch", "spectral", "none"):
        from ganbench.api.errors import UsageError

        raise UsageError("d_norm must be batch, spectral or none")
    c, size, _ = data.shape
    nc = data.num_classes if conditional else 0
    spectral = o["d_norm"] == "spectral"
    g = nets.DCGANGenerator(z_dim, c, size, int(o["width"]), nc, EMBED_DIM if nc else 0)
    d = nets.DCGANDiscriminator(c, size, int(o["width"]), nc, batch_norm=o["d_norm"] == "batch")
    nets.dcgan_init(g)
    nets.dcgan_init(d)
    if spectral:
        nets.spectral_norm_all(d)
    return g, d


def build_acdcgan(data: DataSpec, z_dim: int, **options):
    """AC-GAN (Odena et al. 2017) on the DCGAN architecture: G conditioned on the label
    (embedding concatenated to z); D sees the image only and returns (logit, class logits)."""
    from ganbench_plugins import nets

    o = _opts({"width": 64}, options, "acdcgan")
    c, size, _ = data.shape
    nc = data.num_classes
    g = nets.DCGANGenerator(z_dim, c, size, int(o["width"]), nc, EMBED_DIM)
    d = nets.ACDiscriminator(c, size, int(o["width"]), nc)
    nets.dcgan_init(g)
    nets.dcgan_init(d)
    return g, d


def _check_widths(o: dict, names: tuple[str, ...], multiple: int = 1) -> None:
    from ganbench.api.errors import UsageError

    for name in names:
        v = o[name]
        if (not isinstance(v, int) or isinstance(v, bool) or not 8 <= v <= 2048
                or v % multiple):
            raise UsageError(f"{name} must be an integer from 8 to 2048"
                             + (f", a multiple of {multiple}" if multiple > 1 else "")
                             + f", got {v!r}")


def build_resnet(data: DataSpec, z_dim: int, conditional: bool = False, **options):
    """SN-GAN's / WGAN-GP's 32x32 ResNet G and D; conditional: class-conditional BatchNorm in G,
    projection D (Miyato & Koyama 2018)."""
    from ganbench.api.errors import UsageError
    from ganbench_plugins import nets

    o = _opts(RESNET_OPTIONS, options, "cresnet" if conditional else "resnet")
    if o["d_norm"] not in ("spectral", "none"):
        raise UsageError(f"d_norm must be spectral or none, got {o['d_norm']!r}")
    _check_widths(o, ("g_width", "d_width"))
    c = data.shape[0]
    nc = data.num_classes if conditional else 0
    g = nets.ResNetGenerator(z_dim, c, o["g_width"], nc)
    d = nets.ResNetDiscriminator(c, o["d_width"], nc)
    nets.resnet_init(g)
    nets.resnet_init(d)
    if o["d_norm"] == "spectral":
        nets.spectral_norm_all(d)
    return g, d


def build_biggan32(data: DataSpec, z_dim: int, conditional: bool = True, **options):
    """BigGAN's 32x32 G and D (Brock et al. 2019): hierarchical z and a shared class embedding
    into conditional BatchNorms, projection D, orthogonal init, spectral norm in G (but its
    shared embedding) and D, optional self-attention."""
    from ganbench.api.errors import UsageError
    from ganbench_plugins import nets

    o = _opts(BIGGAN32_OPTIONS, options, "biggan32")
    _check_widths(o, ("g_width", "d_width"), multiple=8)  # attention's C/8 channels
    _check_widths(o, ("shared_dim",))
    if not isinstance(o["attention"], bool):
        raise UsageError(f"attention must be true or false, got {o['attention']!r}")
    if z_dim % 4:
        raise UsageError(f"biggan32 splits z into 4 chunks: z_dim must be a multiple of 4, "
                         f"got {z_dim}")
    c = data.shape[0]
    nc = data.num_classes if conditional else 0
    att = o["attention"]
    g = nets.BigGANGenerator(z_dim, c, o["g_width"], nc, o["shared_dim"],
                             attention_after=2 if att else 0)
    d = nets.ResNetDiscriminator(c, o["d_width"], nc, attention_after=1 if att else 0)
    nets.orthogonal_init(g)
    nets.orthogonal_init(d)
    nets.spectral_norm_all(g, exclude=(g.shared,) if g.shared is not None else ())
    nets.spectral_norm_all(d)
    return g, d


def resnet_supports(data: DataSpec) -> Optional[str]:
    if data.kind != "images" or len(data.shape) != 3:
        return "the ResNet models need image data (C, H, W)"
    if tuple(data.shape[1:]) != (32, 32):
        h, w = data.shape[1:]
        return (f"the ResNet models are the 32x32 nets of the literature, got {h}x{w} "
                "(resize the dataset to 32)")
    return None


def dcgan_supports(data: DataSpec) -> Optional[str]:
    if data.kind != "images" or len(data.shape) != 3:
        return "dcgan needs image data (C, H, W)"
    _, h, w = data.shape
    if h != w or h not in (8, 16, 32, 64):
        return (f"dcgan needs square images of size 8, 16, 32 or 64, got {h}x{w} "
                "(resize the dataset, e.g. 28 -> 32)")
    return None


def linear_supports(data: DataSpec) -> Optional[str]:
    return None if data.kind == "points" else "the linear generator is meant for point data"


MODELS = [
    ModelSpec(
        name="mlp",
        build=build_mlp,
        description="fully connected G (ReLU) and D (LeakyReLU or maxout), after Goodfellow et al. "
                    "2014; d_norm spectral: spectral norm on every D layer; pack m: D sees m "
                    "samples concatenated (PacGAN); g_norm batch: BatchNorm after each hidden "
                    "G layer; maxout_pieces k: pieces of each maxout unit; init_std s: weights "
                    "N(0, s), biases 0 (0: torch's default)",
        options=MLP_OPTIONS,
    ),
    ModelSpec(
        name="cmlp",
        build=lambda data, z_dim, **o: build_mlp(data, z_dim, conditional=True, **o),
        description="conditional MLP (Mirza & Osindero 2014): label embedding concatenated to "
                    "the input of G and of D",
        conditional=True,
        options=MLP_OPTIONS,
    ),
    ModelSpec(
        name="linear",
        build=build_linear,
        description="linear generator x = Az + b (matches any Gaussian exactly) with an MLP D",
        supports=linear_supports,
        options={"d_hidden": (128, 128)},
    ),
    ModelSpec(
        name="dcgan",
        build=build_dcgan,
        description="Radford et al. 2015: strided convs, BatchNorm, ReLU/Tanh G, LeakyReLU D, "
                    "N(0, 0.02) init; square images 8-64; d_norm spectral: spectral norm on "
                    "every D layer instead of BatchNorm; d_norm none: neither (WGAN-GP)",
        supports=dcgan_supports,
        options=DCGAN_OPTIONS,
    ),
    ModelSpec(
        name="cdcgan",
        build=lambda data, z_dim, **o: build_dcgan(data, z_dim, conditional=True, **o),
        description="conditional DCGAN: label embedding concatenated to z in G, projection "
                    "discriminator (Miyato & Koyama 2018) in D",
        conditional=True,
        supports=dcgan_supports,
        options=DCGAN_OPTIONS,
    ),
    ModelSpec(
        name="acdcgan",
        build=build_acdcgan,
        description="AC-GAN (Odena et al. 2017) on DCGAN: label-conditioned G; D sees the image "
                    "only and returns (logit, class logits)",
        conditional=True,
        supports=dcgan_supports,
        options={"width": 64},
        aux_outputs=True,
    ),
    ModelSpec(
        name="resnet",
        build=build_resnet,
        description="32x32 ResNet of SN-GAN / WGAN-GP (Miyato et al. 2018, Gulrajani et al. "
                    "2017): G linear to 4x4, 3 up-sampling residual blocks (BN, ReLU), 3x3 conv, "
                    "Tanh; D an optimised block, 3 residual blocks (2 down-sampling), ReLU, "
                    "global sum pooling, linear; d_norm spectral (SN-GAN, default) or none "
                    "(WGAN-GP, with g_width 128)",
        supports=resnet_supports,
        options=RESNET_OPTIONS,
    ),
    ModelSpec(
        name="cresnet",
        build=lambda data, z_dim, **o: build_resnet(data, z_dim, conditional=True, **o),
        description="conditional 32x32 ResNet (cGAN with projection discriminator, Miyato & "
                    "Koyama 2018): class-conditional BatchNorm in G, projection D",
        conditional=True,
        supports=resnet_supports,
        options=RESNET_OPTIONS,
    ),
    ModelSpec(
        name="biggan32",
        build=build_biggan32,
        description="BigGAN's 32x32 G/D (Brock et al. 2019, StudioGAN's CIFAR-10 config): "
                    "shared class embedding and hierarchical z into conditional BN, projection "
                    "D, orthogonal init, spectral norm in G and D, self-attention after G's "
                    "block 2 and D's block 1 (attention false: none); z_dim a multiple of 4",
        conditional=True,
        supports=resnet_supports,
        options=BIGGAN32_OPTIONS,
    ),
]


@hookimpl
def ganbench_register_models(register):
    for m in MODELS:
        register(m)
