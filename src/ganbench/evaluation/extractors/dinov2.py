"""torch-fidelity's DINOv2 extractors (``dinov2-vit-s-14`` and its larger siblings), for the
Fréchet distance in DINOv2 feature space, FD_DINOv2 (Stein et al. 2023, "Exposing flaws of
generative model evaluation metrics"; ViT-S/14 by default).

torch-fidelity 0.4.0's ``FeatureExtractorDinoV2`` builds its network with
``torch.hub.load("facebookresearch/dinov2", ...)``, which downloads the code and the weights,
and refuses a weights file (``feature_extractor_weights_path`` raises NotImplementedError). So
ganbench registers a subclass, ``ganbench-dinov2-vit-s-14`` (etc.), that differs only in where
the network comes from; its ``forward`` (TF-style bilinear resize to 224, ImageNet
normalisation, the CLS embedding) is torch-fidelity's, so the features are the same numbers:

* the code: the ``facebookresearch/dinov2`` repository in torch's hub cache
  (``$TORCH_HOME/hub/facebookresearch_dinov2_main``, where ``torch.hub`` puts it), loaded with
  ``torch.hub.load(..., source="local", pretrained=False)`` — no network;
* the weights: a file given by path, else torch hub's download location
  (``$TORCH_HOME/hub/checkpoints/dinov2_vits14_pretrain.pth``).

Either missing: one line saying where it was looked for and how to get it; with downloads
allowed ganbench fetches them first (``torch.hub.list`` for the code, the release URL for the
weights), never with ``--no-download``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

from ganbench.api.errors import DataUnavailableError, UsageError

REPO = "facebookresearch/dinov2"
BASE_URL = "https://dl.fbaipublicfiles.com/dinov2"
# torch-fidelity's extractor name -> the repository's hub entry point
MODELS = {
    "dinov2-vit-s-14": "dinov2_vits14",
    "dinov2-vit-b-14": "dinov2_vitb14",
    "dinov2-vit-l-14": "dinov2_vitl14",
    "dinov2-vit-g-14": "dinov2_vitg14",
}
DEFAULT = "dinov2-vit-s-14"
PREFIX = "ganbench-"  # + the model: the name ganbench's subclass is registered under
LAYER = "dinov2"  # the features torch-fidelity's DINOv2 extractor provides (the CLS token)


def metric_name(model: str) -> str:
    """The row name of the Fréchet distance on ``model``: ``fd_dinov2`` for ViT-S/14 (the
    default everyone reports), ``fd_dinov2_vit_b_14`` etc. for the others."""
    return "fd_dinov2" if model == DEFAULT else "fd_" + model.replace("-", "_")


METRICS = {metric_name(m): False for m in MODELS}  # all lower is better


def filename(model: str) -> str:
    entry = MODELS[model]
    return f"{entry}_pretrain.pth"


def url(model: str) -> str:
    entry = MODELS[model]
    return f"{BASE_URL}/{entry}/{filename(model)}"


def hub_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir())


def default_path(model: str) -> Path:
    """Where the repository's own loader downloads the weights (torch hub's checkpoints)."""
    return hub_dir() / "checkpoints" / filename(model)


def code_dir() -> Optional[Path]:
    """The repository in torch's hub cache (``owner_name_branch``), or None."""
    for ref in ("main", "master"):
        d = hub_dir() / f"{REPO.replace('/', '_')}_{ref}"
        if (d / "hubconf.py").is_file():
            return d
    return None


def _hint(model: str) -> str:
    return (f"run python -c \"import torch; torch.hub.load('{REPO}', '{MODELS[model]}')\" once "
            f"where there is a network (or download {url(model)} and pass --extractor "
            f"auto,{model}=PATH), or leave {model} out of --extractor")


def find_code(model: str, download: bool = True) -> Path:
    """The DINOv2 repository's directory in the hub cache; DataUnavailableError without it."""
    d = code_dir()
    if d is not None:
        return d
    where = hub_dir() / f"{REPO.replace('/', '_')}_main"
    if not download:
        raise DataUnavailableError(f"the DINOv2 code ({REPO}) is not in torch's hub cache at "
                                   f"{where} and downloads are off (--no-download): "
                                   f"{_hint(model)}")
    import torch

    try:
        torch.hub.list(REPO, trust_repo=True, verbose=False)  # downloads into the hub cache
    except Exception as exc:  # no network, proxy, HTTP error...
        raise DataUnavailableError(f"the DINOv2 code ({REPO}) could not be downloaded into "
                                   f"{where} ({type(exc).__name__}: {exc}): "
                                   f"{_hint(model)}") from None
    d = code_dir()
    if d is None:
        raise DataUnavailableError(f"torch.hub put no {REPO} checkout under {hub_dir()}: "
                                   f"{_hint(model)}")
    return d


def weights_path(model: str, path: Optional[str], download: bool = True) -> str:
    """The weights file of ``model``: ``path`` when given, else torch hub's checkpoint
    (downloaded there when allowed); UsageError for a missing given file,
    DataUnavailableError when there is none."""
    if path:
        if not os.path.isfile(path):
            raise UsageError(f"--extractor {model}=PATH: no such file '{path}'")
        return os.path.abspath(path)
    dst = default_path(model)
    if dst.is_file():
        return str(dst)
    if not download:
        raise DataUnavailableError(f"the {model} weights are not at {dst} and downloads are "
                                   f"off (--no-download): {_hint(model)}")
    import torch

    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url(model), str(dst), progress=False)
    except Exception as exc:
        raise DataUnavailableError(f"the {model} weights could not be downloaded "
                                   f"({type(exc).__name__}: {exc}): {_hint(model)}") from None
    return str(dst)


def load_network(model: str, weights: str, code: "str | Path"):
    """The DINOv2 backbone ``model`` built by the repository's hub entry point in ``code``
    (no download) with the state dict in ``weights`` (every parameter must be there)."""
    import torch

    os.environ["XFORMERS_DISABLED"] = "1"  # as torch-fidelity's extractor: plain attention
    net = torch.hub.load(str(code), MODELS[model], source="local", pretrained=False,
                         verbose=False)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DataUnavailableError(f"{model} weights '{weights}' could not be read "
                                   f"({type(exc).__name__}: {exc})") from None
    try:
        missing, _ = net.load_state_dict(state, strict=False)  # the repository's own loader
    except RuntimeError as exc:  # shapes of another model
        raise DataUnavailableError(f"'{weights}' are not {model} weights: "
                                   f"{str(exc).splitlines()[1].strip()}") from None
    if missing:
        raise DataUnavailableError(f"'{weights}' are not {model} weights: no "
                                   f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    return net


@lru_cache(maxsize=None)
def fidelity_class(model: str):
    """torch-fidelity's DINOv2 extractor for ``model`` whose network comes from the hub cache's
    code and the file ``feature_extractor_weights_path`` (the forward is torch-fidelity's)."""
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.feature_extractor_dinov2 import FeatureExtractorDinoV2
    from torch_fidelity.helpers import text_to_dtype, vassert

    class DinoV2FromFile(FeatureExtractorDinoV2):
        MODEL = model

        def __init__(self, name, features_list, feature_extractor_weights_path=None,
                     feature_extractor_internal_dtype=None, **kwargs):
            FeatureExtractorBase.__init__(self, name, features_list)
            vassert(feature_extractor_internal_dtype in ("float32", "float64", None),
                    "Only 32-bit floats are supported for internal dtype of this feature "
                    "extractor")
            vassert(feature_extractor_weights_path is not None,
                    f"{name} needs feature_extractor_weights_path")
            self.feature_extractor_internal_dtype = text_to_dtype(
                feature_extractor_internal_dtype, "float32")
            self.model = load_network(self.MODEL, feature_extractor_weights_path,
                                      find_code(self.MODEL, download=False))
            self.to(self.feature_extractor_internal_dtype)
            self.requires_grad_(False)
            self.eval()

    DinoV2FromFile.__name__ = "DinoV2FromFile_" + model.replace("-", "_")
    return DinoV2FromFile


def register(model: str) -> str:
    """Register ganbench's file-loading extractor for ``model`` with torch-fidelity (once);
    returns its name."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    name = PREFIX + model
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, fidelity_class(model))
    return name


def standin_hub(root: "str | Path", model: str = DEFAULT, seed: int = 0) -> Path:
    """A torch hub directory under ``root`` (use it as ``$TORCH_HOME/hub``) holding a stand-in
    for ``model``'s repository and weights, for tests and benchmarks on machines without the
    real ones: ``hubconf.py`` builds torchvision's VisionTransformer with the model's patch
    size, width, depth and heads (ViT-S/14: 14, 384, 12, 6; 22M parameters) at 224x224, its
    classifier removed (the 384-d CLS embedding, as DINOv2's), loading
    ``checkpoints/<model>_pretrain.pth`` from the release URL's cache entry as the real one
    does; the weights are its seeded random initialisation. Its FD values mean nothing; its
    shapes and cost are the real network's."""
    import torch

    root = Path(root)
    code = root / f"{REPO.replace('/', '_')}_main"
    code.mkdir(parents=True, exist_ok=True)
    (code / "hubconf.py").write_text(HUBCONF)
    ckpt = root / "checkpoints" / filename(model)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    ns: dict = {}
    exec(compile(HUBCONF, str(code / "hubconf.py"), "exec"), ns)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = ns[MODELS[model]](pretrained=False)
    torch.save(net.state_dict(), ckpt)
    return root


# the stand-in repository's hub entry points (see standin_hub)
HUBCONF = '''"""Stand-in for the DINOv2 hub entry points (ganbench.evaluation.extractors.dinov2):
torchvision's VisionTransformer with the real widths, random weights."""
dependencies = ["torch", "torchvision"]

SIZES = {"dinov2_vits14": (384, 12, 6), "dinov2_vitb14": (768, 12, 12),
         "dinov2_vitl14": (1024, 24, 16), "dinov2_vitg14": (1536, 40, 24)}
URL = "''' + BASE_URL + '''/{0}/{0}_pretrain.pth"


def _build(entry, pretrained):
    import torch
    from torchvision.models.vision_transformer import VisionTransformer

    width, depth, heads = SIZES[entry]
    net = VisionTransformer(image_size=224, patch_size=14, num_layers=depth, num_heads=heads,
                            hidden_dim=width, mlp_dim=4 * width)
    net.heads = torch.nn.Identity()
    if pretrained:  # from the hub cache when there; never downloaded by ganbench's tests
        net.load_state_dict(torch.hub.load_state_dict_from_url(URL.format(entry),
                                                               map_location="cpu"))
    return net


def dinov2_vits14(*, pretrained=True, **kwargs):
    return _build("dinov2_vits14", pretrained)


def dinov2_vitb14(*, pretrained=True, **kwargs):
    return _build("dinov2_vitb14", pretrained)


def dinov2_vitl14(*, pretrained=True, **kwargs):
    return _build("dinov2_vitl14", pretrained)


def dinov2_vitg14(*, pretrained=True, **kwargs):
    return _build("dinov2_vitg14", pretrained)
'''
