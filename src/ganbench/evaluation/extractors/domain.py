"""Shipped domain extractors: weights inside the package, checked against their sha256, wrapped
as torch-fidelity feature extractors named ``ganbench-DATASET``.

Each ``weights/DATASET.pt`` (a state dict, loaded with ``weights_only=True``) has a
``weights/DATASET.json`` beside it: architecture, sha256, test accuracy, seed, epochs and the
command that made it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from ganbench.api.errors import DataUnavailableError

WEIGHTS_DIR = Path(__file__).parent / "weights"
PREFIX = "ganbench-"


class PredictionTap:
    """Collects the classes a ganbench extractor predicts for the generated batches torch-fidelity
    feeds it, so label metrics need no second pass of the classifier over the same samples.

    The generated-samples input calls :meth:`expect` with each batch it hands out; the extractor's
    next forward (torch-fidelity runs it on that batch straight away) is recorded if it has that
    many rows. Reference-split batches are never announced, so they are never recorded."""

    def __init__(self, dataset: str):
        self.dataset = dataset
        self.pending: Optional[int] = None
        self.parts: list = []

    def expect(self, n: int) -> None:
        self.pending = n

    def take(self, dataset: str, logits) -> None:
        if self.pending is not None and dataset == self.dataset and len(logits) == self.pending:
            self.parts.append(logits.argmax(1).cpu())
        self.pending = None

    def predictions(self, n: int):
        """The ``n`` predicted classes in sample order, or None unless exactly ``n`` were seen."""
        import torch

        if sum(len(p) for p in self.parts) != n:
            return None
        return torch.cat(self.parts)


_tap: Optional[PredictionTap] = None


@contextmanager
def tapping(tap: Optional[PredictionTap]):
    """Make ``tap`` receive the predictions of every ganbench extractor while inside."""
    global _tap
    previous, _tap = _tap, tap
    try:
        yield tap
    finally:
        _tap = previous


def sha256_file(path: "str | Path") -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shipped() -> list[str]:
    """Datasets with a shipped extractor."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.json"))


def info(dataset: str, weights_dir: "Optional[Path]" = None) -> Optional[dict[str, Any]]:
    """The record stored next to ``dataset``'s weights, or None when none is shipped."""
    path = Path(weights_dir or WEIGHTS_DIR) / f"{dataset}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def load_net(dataset: str, weights_dir: Optional[str] = None):
    """The trained classifier for ``dataset`` (eval mode, CPU), after checking its sha256."""
    import torch

    from ganbench.evaluation.extractors.domain_net import build

    rec = info(dataset, Path(weights_dir) if weights_dir else None)
    pt = Path(weights_dir or WEIGHTS_DIR) / f"{dataset}.pt"
    if rec is None or not pt.exists():
        raise DataUnavailableError(f"no ganbench extractor for '{dataset}' (shipped: "
                                   f"{', '.join(shipped()) or 'none'}); train one with "
                                   f"'ganbench train-extractor --dataset {dataset}'")
    digest = sha256_file(pt)
    if digest != rec["sha256"]:
        raise DataUnavailableError(f"extractor weights '{pt}' have sha256 {digest[:12]}, "
                                   f"expected {rec['sha256'][:12]}: the file is damaged")
    net = build(rec["arch"])
    net.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    net.requires_grad_(False)
    return net.eval()


CPU_CHUNK = 128  # images per forward on a CPU: activations stay in cache (~2x faster than 500)


def features_and_logits(net, x):
    """``net``'s (features, logits) of uint8 Nx3xHxW images, as torch-fidelity feeds the
    extractor: the same numbers as ``net(from_uint8(x, ...))`` bit for bit (each image's
    result does not depend on its batch), computed without autograd by
    ``domain_net.forward_inference`` and, on a CPU, in chunks of ``CPU_CHUNK`` images."""
    import torch

    from ganbench.evaluation.extractors.domain_net import forward_inference, from_uint8

    arch = net.arch
    chunk = CPU_CHUNK if x.device.type == "cpu" else len(x)
    with torch.no_grad():
        parts = [forward_inference(net, from_uint8(c, arch["channels"], arch["size"]))
                 for c in x.split(max(1, chunk))]
    if len(parts) == 1:
        return parts[0]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@lru_cache(maxsize=None)
def fidelity_class(dataset: str):
    """A torch-fidelity FeatureExtractorBase subclass for ``dataset``'s shipped classifier."""
    import torch
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    class DomainExtractor(FeatureExtractorBase):
        DATASET = dataset

        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            self.net = copy.deepcopy(load_net(self.DATASET))  # torch-fidelity may move it
            self.channels = self.net.arch["channels"]
            self.size = self.net.arch["size"]

        @staticmethod
        def get_provided_features_list():
            return ("features", "features_f32", "logits")

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            # precision/recall only compares k-NN distances: float32 halves its 10k x 10k cdist
            return {"isc": "logits", "fid": "features", "kid": "features",
                    "prc": "features_f32"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

        def forward(self, x):
            if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
                raise ValueError(f"expected uint8 Nx3xHxW images, got {x.dtype} {tuple(x.shape)}")
            f, logits = features_and_logits(self.net, x)
            # float64 features: torch-fidelity takes their mean in the features' dtype, and a
            # float32 mean alone moves FID by ~1e-6 relative
            if _tap is not None:
                _tap.take(self.DATASET, logits)
            out = {"features": f.double(), "features_f32": f.float(), "logits": logits}
            return tuple(out[k] for k in self.features_list)

    DomainExtractor.__name__ = f"DomainExtractor_{dataset.replace('-', '_')}"
    return DomainExtractor


def register(dataset: str) -> str:
    """Register ``dataset``'s extractor with torch-fidelity (once); returns its name."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    name = PREFIX + dataset
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, fidelity_class(dataset))
    return name
