"""Built-in architectures. torch is imported only when a model is built."""

from __future__ import annotations

from typing import Optional

from ganbench import hookimpl
from ganbench.specs import DataSpec, ModelSpec

MLP_OPTIONS = {"g_hidden": (256, 256), "d_hidden": (256, 256), "d_activation": "leakyrelu",
               "d_norm": "none", "pack": 1, "g_norm": "none", "maxout_pieces": 2, "init_std": 0.0}
DCGAN_OPTIONS = {"width": 64, "d_norm": "batch"}
EMBED_DIM = 16


def _opts(defaults: dict, options: dict, model: str) -> dict:
    from ganbench.errors import UsageError

    extra = set(options) - set(defaults)
    if extra:
        raise UsageError(
            f"model '{model}' has no option(s) {', '.join(sorted(extra))}; "
            f"it takes {', '.join(sorted(defaults))}"
        )
    return {**defaults, **options}


def _check_mlp_options(o: dict, conditional: bool) -> None:
    from ganbench.errors import UsageError

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
        from ganbench.errors import UsageError

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
]


@hookimpl
def ganbench_register_models(register):
    for m in MODELS:
        register(m)
