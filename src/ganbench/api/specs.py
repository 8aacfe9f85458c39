"""The plain, frozen dataclasses that plugins register.

Every registry (models, losses, variants, datasets, metrics, suites) holds one of these types.
They carry names and callables only: nothing heavy is built until a run asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import torch

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


OPTIMIZER_OPTIONS = ("optimizer", "betas", "eps", "weight_decay", "alpha")
"""Keys of ``Hyperparams.g_options`` / ``d_options`` (per-network overrides)."""


def _pairs(value: Any) -> tuple[tuple[str, Any], ...]:
    """A mapping (or pairs) as sorted, hashable ``(key, value)`` pairs (lists become tuples)."""
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), tuple(v) if isinstance(v, list) else v) for k, v in items))


@dataclass(frozen=True)
class Hyperparams:
    """Optimisation recipe of a variant. ``k`` is the number of D steps per G step.

    ``optimizer`` is ``adam``, ``adamw``, ``sgd`` (momentum ``betas[0]``) or ``rmsprop``
    (smoothing constant ``alpha``; it has no betas). ``lr_g`` / ``lr_d`` are the two learning
    rates (TTUR, Heusel et al. 2017). ``eps`` and ``weight_decay`` apply to both optimisers;
    ``g_options`` / ``d_options`` override any of ``optimizer``, ``betas``, ``eps``,
    ``weight_decay``, ``alpha`` for one network, e.g. ``d_options={"betas": (0.0, 0.9)}``.
    ``lr_schedule``: ``"none"`` or ``"linear"``: both learning rates decay linearly to 0 over
    the budget, lr x (1 - the fraction of the budget used before the step) (SN-GAN's and
    mimicry's schedule).

    The defaults (Adam 2e-4, betas (0.5, 0.999), batch 64, z_dim 64) are those of an ad-hoc
    ``--model M --loss L`` run; each built-in variant sets its own (README's variants table
    lists both).
    """

    optimizer: str = "adam"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    k: int = 1
    batch_size: int = 64
    z_dim: int = 64
    eps: float = 1e-8
    weight_decay: float = 0.0
    alpha: float = 0.99
    g_options: Any = ()  # a Mapping[str, Any]; stored as sorted (key, value) pairs
    d_options: Any = ()
    lr_schedule: str = "none"

    def __post_init__(self) -> None:
        for name in ("g_options", "d_options"):
            v = getattr(self, name)
            if isinstance(v, Mapping) or (isinstance(v, (list, tuple)) and all(
                    isinstance(p, (list, tuple)) and len(p) == 2 for p in v)):
                object.__setattr__(self, name, _pairs(v))
        if isinstance(self.betas, list):
            object.__setattr__(self, "betas", tuple(self.betas))

    def network(self, net: str) -> dict[str, Any]:
        """Optimiser settings of network ``net`` (``"g"`` or ``"d"``): optimizer, lr, betas,
        eps, weight_decay, alpha, with that network's overrides applied."""
        base = {"optimizer": self.optimizer, "lr": self.lr_g if net == "g" else self.lr_d,
                "betas": tuple(self.betas), "eps": self.eps, "weight_decay": self.weight_decay,
                "alpha": self.alpha}
        base.update(dict(self.g_options if net == "g" else self.d_options))
        return base

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "optimizer": self.optimizer,
            "lr_g": self.lr_g,
            "lr_d": self.lr_d,
            "betas": list(self.betas),
            "k": self.k,
            "batch_size": self.batch_size,
            "z_dim": self.z_dim,
        }
        # options added later appear only when set, so the run ids of earlier recipes stay
        for name, default in (("eps", 1e-8), ("weight_decay", 0.0), ("alpha", 0.99),
                              ("lr_schedule", "none")):
            if getattr(self, name) != default:
                d[name] = getattr(self, name)
        for name in ("g_options", "d_options"):
            if getattr(self, name):
                d[name] = {k: list(v) if isinstance(v, tuple) else v
                           for k, v in getattr(self, name)}
        return d


@dataclass(frozen=True)
class ModelSpec:
    """An architecture: ``build(data_spec, z_dim, **options) -> (G, D)``.

    G is called as ``G(z)`` (or ``G(z, y)`` when ``conditional``) and returns samples shaped like
    the data; D is called as ``D(x)`` (or ``D(x, y)``) and returns one output per sample, shape
    ``(N,)`` (a logit or a critic value, as the loss reads it). With ``aux_outputs`` D returns a
    tuple ``(out, aux, ...)``: the adversarial output first, then auxiliary outputs that a
    context objective reads as ``ctx.real_aux`` / ``ctx.fake_aux`` (AC-GAN's class logits).
    ``supports(data_spec)`` returns None when the model fits the data, else the reason it does
    not.
    """

    name: str
    build: Callable[..., tuple["torch.nn.Module", "torch.nn.Module"]]
    description: str
    conditional: bool = False
    supports: Optional[Callable[[DataSpec], Optional[str]]] = None
    options: Mapping[str, Any] = field(default_factory=dict)
    aux_outputs: bool = False

    def check(self, data: DataSpec) -> Optional[str]:
        if self.conditional and data.num_classes < 2:
            return f"model '{self.name}' is conditional and needs labelled data"
        return self.supports(data) if self.supports else None


OUTPUT_KINDS = ("logit", "raw")


@dataclass(frozen=True)
class LossSpec:
    """A GAN objective. The short form reads D's outputs only::

        LossSpec("hinge", d_loss=lambda real, fake: ..., g_loss=lambda fake: ...,
                 description="...")

    ``d_loss(real_out, fake_out)`` and ``g_loss(fake_out)`` return the mean loss (a scalar
    tensor) from D's adversarial outputs on the real and on the fake batch.

    The context form is for objectives that need more (the real outputs in G's loss, labels,
    D's auxiliary outputs): ``d_objective(ctx)`` / ``g_objective(ctx)`` take a
    ``ganbench.training.step.StepContext`` and return the scalar loss; each replaces its short
    form.

    ``output`` says what D's adversarial output is, and so how the training statistics report
    it: ``"logit"`` (D(x) = sigmoid(out): ``d_real`` / ``d_fake`` are mean probabilities) or
    ``"raw"`` (a critic value, as in Wasserstein, hinge and least-squares losses:
    ``d_real_raw`` / ``d_fake_raw`` are the mean raw outputs).

    ``options``: named parameters with their defaults (``--loss topk:k=0.5``, the ``--reg``
    syntax); the objectives (short or context form) receive them as keyword arguments, and a
    job that sets one has it in its run id. ``state(init)``: builds, once per run, an object
    with ``state_dict()`` / ``load_state_dict()`` (a ``torch.nn.Module`` or any such object)
    that the context objectives read as ``ctx.state``; it is saved in checkpoints and restored
    on resume. ``init`` is a ``StateInit`` (device, data spec, z_dim,
    latent sampler, options; ``ganbench.api.specs.StateInit``).
    """

    name: str
    d_loss: Optional[Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]] = None
    g_loss: Optional[Callable[["torch.Tensor"], "torch.Tensor"]] = None
    description: str = ""
    d_objective: Optional[Callable[[Any], "torch.Tensor"]] = None
    g_objective: Optional[Callable[[Any], "torch.Tensor"]] = None
    output: str = "logit"
    options: Mapping[str, Any] = field(default_factory=dict)
    state: Optional[Callable[[Any], Any]] = None
    reference: str = ""

    @property
    def uses_context(self) -> bool:
        return self.d_objective is not None or self.g_objective is not None


@dataclass(frozen=True)
class RegularizerSpec:
    """A term added to D's (or G's) loss that needs D itself and its inputs.

    ``penalty(ctx, **options)`` returns the unweighted penalty (a scalar tensor) from a
    ``ganbench.training.step.StepContext``; the step adds ``weight * penalty``. ``weight`` is the
    default coefficient (λ, γ), ``every`` the default interval: with ``every=N`` (lazy
    regularisation, Karras et al. 2020) the term is computed on every N-th D step only and
    multiplied by N, so its average strength is unchanged. ``options`` are further named
    parameters with their defaults. Command line and ``VariantSpec.regularizers``:
    ``NAME[:WEIGHT][:every=N][:OPTION=VALUE...]``.

    ``real_grad``: the penalty differentiates D's output on the real batch with respect to that
    batch (R1). The step then runs D(real) once with the input gradient enabled, and the penalty
    reads it with ``ctx.real_with_input_grad()`` instead of running D again.

    ``state(init)``: as ``LossSpec.state``, an object built once per run, read by the
    penalty as ``ctx.state``, saved in checkpoints (LeCam's moving averages).
    """

    name: str
    penalty: Callable[..., "torch.Tensor"]
    description: str
    weight: float = 1.0
    every: int = 1
    phase: str = "d"  # "d": added to D's loss; "g": to G's
    options: Mapping[str, Any] = field(default_factory=dict)
    real_grad: bool = False
    reference: str = ""
    state: Optional[Callable[[Any], Any]] = None


@dataclass(frozen=True)
class StepHookSpec:
    """Code run after an optimiser step (weight clipping, ...).

    ``build(g, d, **options)`` is called once per run with the two networks and returns the
    hook: a function of the ``ganbench.training.step.StepContext``, called after every D optimiser
    step (``after="d"``) or every G step (``after="g"``). Command line and
    ``VariantSpec.step_hooks``: ``NAME[:VALUE][:OPTION=VALUE...]`` (a bare value sets the first
    option). A hook that has ``state_dict()`` / ``load_state_dict()`` is saved in checkpoints
    and restored on resume.
    """

    name: str
    build: Callable[..., Callable[[Any], None]]
    description: str
    after: str = "d"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StateInit:
    """What a plugin's ``state(init)`` factory gets, once per run: the training ``device``,
    the data's ``data_spec`` (``ganbench.api.specs.DataSpec``), G's input width ``z_dim``, the
    run's latent ``sampler`` (its options as attributes, e.g. InfoGAN's ``cat``/``cont``) and
    the term's ``options``."""

    device: Any
    data_spec: Any = None
    z_dim: int = 0
    sampler: Any = None
    options: dict = field(default_factory=dict)


class Latent(NamedTuple):
    """A draw of G's input: ``input`` (what G is called with), its noise part ``z`` and the
    named ``codes`` (empty for plain Gaussian noise)."""

    input: Any
    z: Any
    codes: dict


@dataclass(frozen=True)
class AugmentSpec:
    """A transform of D's inputs (DiffAugment, ADA): applied to the real and the fake batch in
    D steps and to the fake batch in G steps, before D sees them; the losses, regularisers and
    the D(x) statistics see the transformed batches.

    ``build(data_spec, **options)`` is called once per run and returns the augmentation: a
    callable ``aug(x, rng) -> x`` (differentiable in ``x``: G's gradient flows through it; draw
    randomness from ``rng``, the run's seeded generator). If the object has ``observe(ctx)`` it
    is called after every D step with that step's ``StepContext`` (ADA reads
    ``ctx.real_out`` there); if it has ``state_dict()`` / ``load_state_dict()`` it is saved in
    checkpoints. Command line and ``VariantSpec.augment``: ``NAME[:VALUE][:KEY=VALUE...]``, the
    bare value setting the first option (``diffaugment:translation,cutout``).
    """

    name: str
    build: Callable[..., Callable[[Any, Any], Any]]
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""


@dataclass(frozen=True)
class LatentSamplerSpec:
    """How G's input is drawn: ``build(z_dim, data_spec, **options)`` returns a sampler,
    ``sampler(n, rng, device) -> Latent(input, z, codes)`` (``ganbench.api.specs.Latent``):
    ``input`` the ``(n, z_dim)`` tensor G is called with, ``z`` its noise part and ``codes`` a
    dict of named code tensors (InfoGAN's categorical and continuous codes). The step context
    carries ``z`` and ``codes``; evaluation samples through the same sampler. Command line:
    ``--latent NAME[:VALUE][:KEY=VALUE...]``.
    """

    name: str
    build: Callable[..., Callable[..., Any]]
    description: str
    options: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""


@dataclass(frozen=True)
class VariantSpec:
    """A named recipe: model + loss + hyperparameters; optionally regularisers (``("gp:10",)``,
    the ``--reg`` syntax), step hooks (``("clip:0.01",)``) and an EMA of G whose weights are the
    ones evaluated (``g_ema=0.999``: ema <- 0.999 ema + 0.001 G after every G step).
    ``suite_only``: a paper's recipe registered for its own suite (``pacgan-paper-gan``), left
    out of the ``quick`` suite. ``quick``: whether the variant joins the ``quick`` suite
    (``ganbench run --all``); ``None`` (the default) means yes for ganbench's built-ins and no
    for a third-party plugin's, which joins only with ``quick=True`` — installing a plugin does
    not silently change ``run --all``, its time, or what a CI quality gate compares."""

    name: str
    model: str
    loss: str
    description: str
    hparams: Hyperparams = Hyperparams()
    model_options: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""
    regularizers: tuple[str, ...] = ()
    step_hooks: tuple[str, ...] = ()
    g_ema: Optional[float] = None
    suite_only: bool = False
    quick: Optional[bool] = None
    augment: str = ""  # an ``--augment`` spec, e.g. "diffaugment:translation,cutout"
    latent: str = ""  # a ``--latent`` spec, e.g. "infogan:cat=10:cont=2"


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
    """A dataset: ``load(request) -> DataTensors``. ``spec`` describes it without loading it.

    ``main_metrics``: the metrics a ranking of variants on this dataset reads, most important
    first: the first that a results set has is the dataset's *main metric* (the leaderboard's
    order, ``results --anytime``, a study's ranking, ``compare``'s default), the next ones
    are shown beside it. Empty (the default) takes the rule of :meth:`headline`.
    """

    name: str
    spec: DataSpec
    load: Callable[[DataRequest], DataTensors]
    description: str
    modes: Optional[Modes] = None
    source: str = "embedded"  # "embedded" (no files needed) or "files"
    main_metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        m = self.main_metrics
        m = (m,) if isinstance(m, str) else tuple(m or ())  # "fid" or a list: a tuple
        if not all(isinstance(x, str) and x for x in m):
            raise TypeError(f"dataset '{self.name}': main_metrics must be metric names, got "
                            f"{self.main_metrics!r}")
        object.__setattr__(self, "main_metrics", m)

    def headline(self) -> tuple[str, ...]:
        """``main_metrics``, or the default rule: % high quality then modes covered on a
        mixture (``modes`` set), FID on images, frechet_data otherwise (each followed by the
        metrics that stand in where the first is missing)."""
        if self.main_metrics:
            return tuple(self.main_metrics)
        if self.modes is not None:
            return ("high_quality_pct", "modes_covered", "reverse_kl")
        if self.spec.kind == "images":
            return ("fid", "frechet_data")
        return ("frechet_data",)


@dataclass(frozen=True)
class MetricValue:
    metric: str
    value: float
    unit: str = ""
    higher_is_better: Optional[bool] = None
    # hash of the EvalSpec the value was computed under, when not the run's (a second feature
    # space, e.g. FD_DINOv2 beside FID); None: the run's
    eval_spec: Optional[str] = None


@dataclass(frozen=True)
class MetricSpec:
    """A metric: ``compute(ctx) -> list[MetricValue]``; ``applies(ctx)`` says if it fits the run."""

    name: str
    # ctx: a ganbench.api.evalspec.EvalContext (which holds specs: it imports this module)
    compute: Callable[[Any], Sequence[MetricValue]]
    description: str
    applies: Optional[Callable[[Any], bool]] = None
    default: bool = True
    # the values it reports -> higher_is_better (None: no better direction). ``ganbench check``
    # and ``compare`` take a metric's direction from here, never from a results file.
    directions: Mapping[str, Optional[bool]] = field(default_factory=dict)


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
    # changes to the variant's Hyperparams in this suite, e.g. {"lr_g": 1e-3, "lr_d": 1e-3};
    # recorded in every run (its recipe), applied only when the suite runs (``--all``)
    hparams: Mapping[str, Any] = field(default_factory=dict)
    # likewise for the model's options (merged over the variant's, e.g. {"g_hidden": (128,)})
    # and the G-EMA decay (None: the variant's; 0: off)
    model_options: Mapping[str, Any] = field(default_factory=dict)
    g_ema: Optional[float] = None
    # and its regularisers and step hooks (``--reg`` / ``clip:0.05`` specs): one naming a term
    # the variant has replaces it, a new one is added, "none" drops the variant's
    regularizers: tuple[str, ...] = ()
    step_hooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuiteSpec:
    """A named list of suite entries, or a function of the loaded registries that returns one
    (so a suite such as ``quick`` can include the variants of the plugins that ask for it)."""

    name: str
    entries: Any  # Sequence[SuiteEntry] | Callable[[Registries], Sequence[SuiteEntry]]
    description: str

    def resolve(self, registries: Any) -> tuple[SuiteEntry, ...]:
        entries = self.entries(registries) if callable(self.entries) else self.entries
        return tuple(entries)


@dataclass(frozen=True)
class ExecutorSpec:
    """Where jobs train: ``build(args) -> Executor`` (see ``ganbench.execution.executors.Executor``).
    ``args`` is the ``ganbench run``/``sweep`` namespace; a plugin executor reads its own
    settings from ``args.executor_options`` (``--executor-option KEY=VALUE``, a dict)."""

    name: str
    build: Callable[[Any], Any]
    description: str


@dataclass(frozen=True)
class SearchSpaceSpec:
    """A hyperparameter search space for ``ganbench sweep``: ``params`` maps a parameter
    (``lr``, ``lr_g``, ``lr_d``, ``beta1``, ``beta2``, ``k``, ``batch_size``, ``z_dim``,
    ``reg_weight``) to a distribution (``ganbench.analysis.study.LogUniform/Uniform/Choice``).
    Parameters that do not apply to a variant (betas under RMSprop, ``reg_weight`` without a
    regulariser) are left out of its trials. Checked at plugin load
    (``ganbench.planning.space.space_problem``): known parameters, non-empty ranges,
    log-uniform bounds > 0, values ``run`` accepts."""

    name: str
    params: Mapping[str, Any]
    description: str
    reference: str = ""


REGISTRY_TYPES: dict[str, type] = {
    "models": ModelSpec,
    "losses": LossSpec,
    "regularizers": RegularizerSpec,
    "step_hooks": StepHookSpec,
    "variants": VariantSpec,
    "datasets": DatasetSpec,
    "metrics": MetricSpec,
    "suites": SuiteSpec,
    "executors": ExecutorSpec,
    "search_spaces": SearchSpaceSpec,
    "augmentations": AugmentSpec,
    "latent_samplers": LatentSamplerSpec,
}
