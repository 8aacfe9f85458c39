"""The plain, frozen dataclasses that plugins register.

Every registry (models, losses, variants, datasets, metrics, suites) holds one of these types.
They carry names and callables only: nothing heavy is built until a run asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ganbench.evaluation import EvalContext

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data.

    ``kind`` is ``"points"`` (shape ``(d,)``) or ``"images"`` (shape ``(C, H, W)``, values in
    [-1, 1]). ``num_classes`` is 0 for unlabelled data.
    """

    kind: str
    shape: tuple[int, ...]
    num_classes: int = 0

    @property
    def dim(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


@dataclass(frozen=True)
class Hyperparams:
    """Optimisation recipe of a variant. ``k`` is the number of D steps per G step."""

    optimizer: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    k: int = 1
    batch_size: int = 64
    z_dim: int = 64

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "lr_g": self.lr_g,
            "lr_d": self.lr_d,
            "betas": list(self.betas),
            "k": self.k,
            "batch_size": self.batch_size,
            "z_dim": self.z_dim,
        }


@dataclass(frozen=True)
class ModelSpec:
    """An architecture: ``build(data_spec, z_dim, **options) -> (G, D)``.

    G is called as ``G(z)`` (or ``G(z, y)`` when ``conditional``) and returns samples shaped like
    the data; D is called as ``D(x)`` (or ``D(x, y)``) and returns one logit per sample, shape
    ``(N,)``. ``supports(data_spec)`` returns None when the model fits the data, else the reason
    it does not.
    """

    name: str
    build: Callable[..., tuple["torch.nn.Module", "torch.nn.Module"]]
    description: str
    conditional: bool = False
    supports: Optional[Callable[[DataSpec], Optional[str]]] = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def check(self, data: DataSpec) -> Optional[str]:
        if self.conditional and data.num_classes < 2:
            return f"model '{self.name}' is conditional and needs labelled data"
        return self.supports(data) if self.supports else None


@dataclass(frozen=True)
class LossSpec:
    """A GAN objective on logits. Both functions return the mean loss (a scalar tensor)."""

    name: str
    d_loss: Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
    g_loss: Callable[["torch.Tensor"], "torch.Tensor"]
    description: str


@dataclass(frozen=True)
class VariantSpec:
    """A named recipe: model + loss + hyperparameters."""

    name: str
    model: str
    loss: str
    description: str
    hparams: Hyperparams = Hyperparams()
    model_options: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""


@dataclass(frozen=True)
class Modes:
    """Mixture components of a toy dataset: centres ``(M, d)`` and the per-axis std."""

    centers: tuple[tuple[float, ...], ...]
    std: float


@dataclass
class DataTensors:
    """Loaded data. ``x`` is float32, ``y`` int64 labels or None."""

    spec: DataSpec
    x: "torch.Tensor"
    y: Optional["torch.Tensor"] = None


@dataclass(frozen=True)
class DataRequest:
    """What a dataset loader is asked for."""

    split: str = "train"  # "train" or "test"
    data_root: Optional[str] = None
    download: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: ``load(request) -> DataTensors``. ``spec`` describes it without loading it."""

    name: str
    spec: DataSpec
    load: Callable[[DataRequest], DataTensors]
    description: str
    modes: Optional[Modes] = None
    source: str = "embedded"  # "embedded" (no files needed) or "files"


@dataclass(frozen=True)
class MetricValue:
    metric: str
    value: float
    unit: str = ""
    higher_is_better: Optional[bool] = None


@dataclass(frozen=True)
class MetricSpec:
    """A metric: ``compute(ctx) -> list[MetricValue]``; ``applies(ctx)`` says if it fits the run."""

    name: str
    compute: Callable[["EvalContext"], Sequence[MetricValue]]
    description: str
    applies: Optional[Callable[["EvalContext"], bool]] = None
    default: bool = True


@dataclass(frozen=True)
class SuiteEntry:
    """One (variant, dataset, budget, evaluation protocol) line of a suite."""

    variant: str
    dataset: str
    budget: str
    seeds: tuple[int, ...] = (0,)
    evals: int = 10
    eval_samples: int = 2000
    metrics: Optional[tuple[str, ...]] = None  # None: every default metric that applies
    data_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"resize": 32}


@dataclass(frozen=True)
class SuiteSpec:
    """A named list of suite entries, or a function of the loaded registries that returns one
    (so a suite such as ``quick`` can include every registered variant, third-party ones too)."""

    name: str
    entries: Any  # Sequence[SuiteEntry] | Callable[[Registries], Sequence[SuiteEntry]]
    description: str

    def resolve(self, registries: Any) -> tuple[SuiteEntry, ...]:
        entries = self.entries(registries) if callable(self.entries) else self.entries
        return tuple(entries)


REGISTRY_TYPES: dict[str, type] = {
    "models": ModelSpec,
    "losses": LossSpec,
    "variants": VariantSpec,
    "datasets": DatasetSpec,
    "metrics": MetricSpec,
    "suites": SuiteSpec,
}
