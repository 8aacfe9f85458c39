"""Planning: suites, variants, datasets and seeds → a list of small, picklable JobSpecs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from ganbench.planning.budget import Budget
from ganbench.api.errors import UsageError
from ganbench.api.specs import Hyperparams, SuiteEntry, VariantSpec

Registries = Any  # a ganbench.registry.Registries: the registry checks plans' terms, so it
# imports planning, and planning takes the registries it is handed without importing them

DEFAULT_SUITE = "quick"


@dataclass(frozen=True)
class JobSpec:
    """One training run: names and numbers only, no objects."""

    variant: str
    model: str
    loss: str
    dataset: str
    seed: int
    budget: Budget
    hparams: Hyperparams
    model_options: tuple[tuple[str, Any], ...] = ()
    suite: str = ""
    evals: int = 10
    eval_every: Optional[int] = None
    eval_samples: int = 2000
    metrics: Optional[tuple[str, ...]] = None
    data_options: tuple[tuple[str, Any], ...] = field(default=())
    eval_options: tuple[tuple[str, Any], ...] = ()  # extractor, fid_weights, reference, ...
    precision: str = "fp32"  # "bf16": autocast forward passes (ganbench.training.fastpath)
    regularizers: tuple[str, ...] = ()  # canonical ``--reg`` specs (ganbench.planning.terms)
    step_hooks: tuple[str, ...] = ()
    g_ema: Optional[float] = None  # EMA decay of G; evaluation then samples the EMA copy
    loss_options: tuple[tuple[str, Any], ...] = ()  # ``--loss NAME:KEY=VALUE`` (given ones)
    augment: str = ""  # canonical ``--augment`` spec ("": none)
    latent: str = ""  # canonical ``--latent`` spec ("": z ~ N(0, I))
    # a trial of a hyperparameter study (``ganbench sweep``): space, space_seed, trial, params
    study: tuple[tuple[str, Any], ...] = ()

    def config(self) -> dict[str, Any]:
        """Everything that defines the run's numbers (not where it runs or is written)."""
        d = dataclasses.asdict(self)
        if self.precision == "fp32":
            del d["precision"]  # the default: run ids of fp32 runs are unchanged
        if self.study:
            d["study"] = {k: (dict(v) if k == "params" else v) for k, v in self.study}
        else:
            del d["study"]
        for name in ("regularizers", "step_hooks", "g_ema"):  # likewise, when unused
            if not d[name]:
                del d[name]
            elif name != "g_ema":
                d[name] = list(d[name])
        for name in ("loss_options", "augment", "latent"):  # later axes: only when given
            if not d[name]:
                del d[name]
        if self.loss_options:
            d["loss_options"] = {k: _jsonable(v) for k, v in self.loss_options}
        d["budget"] = str(self.budget)
        d["hparams"] = self.hparams.to_dict()
        d["model_options"] = {k: _jsonable(v) for k, v in self.model_options}
        d["data_options"] = {k: _jsonable(v) for k, v in self.data_options}
        d["metrics"] = list(self.metrics) if self.metrics is not None else None
        d["eval_options"] = dict(self.eval_options)
        if not self.eval_options:  # run ids from before evaluation options stay the same
            del d["eval_options"]
        return d

    @property
    def run_id(self) -> str:
        """Readable and deterministic: the same job always gets the same id."""
        blob = json.dumps(self.config(), sort_keys=True, default=str).encode()
        digest = hashlib.sha256(blob).hexdigest()[:10]
        return f"{self.variant}__{self.dataset}__s{self.seed}__{digest}"

    @property
    def label(self) -> str:
        return f"{self.variant} on {self.dataset} (seed {self.seed}, {self.budget})"


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


@dataclass
class Overrides:
    """Hyperparameter overrides from the command line (None: keep the variant's value)."""

    optimizer: Optional[str] = None
    lr: Optional[float] = None
    lr_g: Optional[float] = None
    lr_d: Optional[float] = None
    betas: Optional[tuple[float, float]] = None
    k: Optional[int] = None
    batch_size: Optional[int] = None
    z_dim: Optional[int] = None
    regularizers: tuple[str, ...] = ()  # --reg: added to (or replacing) the variant's
    g_ema: Optional[float] = None  # --g-ema DECAY (0: off, even where the variant has one)
    augment: Optional[str] = None  # --augment SPEC ("none": off, even where the variant has one)
    latent: Optional[str] = None  # --latent SPEC

    def apply(self, h: Hyperparams) -> Hyperparams:
        changes: dict[str, Any] = {}
        if self.lr is not None:
            changes["lr_g"] = changes["lr_d"] = self.lr
        for name in ("optimizer", "lr_g", "lr_d", "betas", "k", "batch_size", "z_dim"):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        return dataclasses.replace(h, **changes)


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LR_SCHEDULES = ("none", "linear")


def _real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def _check_optimizer_options(o: dict[str, Any], where: str) -> None:
    if o["optimizer"] not in OPTIMIZERS:
        raise UsageError(f"{where}: unknown optimizer '{o['optimizer']}' "
                         f"(use {', '.join(OPTIMIZERS)})")
    b = o["betas"]
    if not isinstance(b, (tuple, list)) or len(b) != 2 or not all(
            _real(x) and 0 <= x < 1 for x in b):
        raise UsageError(f"{where}: betas must be two numbers in [0, 1), got {b!r}")
    if not (_real(o["eps"]) and 0 < o["eps"] < 1):
        raise UsageError(f"{where}: eps must be in (0, 1), got {o['eps']!r}")
    if not (_real(o["weight_decay"]) and 0 <= o["weight_decay"] < 1):
        raise UsageError(f"{where}: weight_decay must be in [0, 1), got {o['weight_decay']!r}")
    if not (_real(o["alpha"]) and 0 <= o["alpha"] < 1):
        raise UsageError(f"{where}: alpha (RMSprop) must be in [0, 1), got {o['alpha']!r}")


def check_hparams(h: Hyperparams, where: str) -> None:
    from ganbench.api.specs import OPTIMIZER_OPTIONS

    if h.optimizer not in OPTIMIZERS:
        raise UsageError(f"{where}: unknown optimizer '{h.optimizer}' (use {', '.join(OPTIMIZERS)})")
    for name in ("lr_g", "lr_d"):
        v = getattr(h, name)
        if not (_real(v) and 0 < v < 10):
            raise UsageError(f"{where}: {name} must be in (0, 10), got {v}")
    if len(h.betas) != 2 or not all(_real(b) and 0 <= b < 1 for b in h.betas):
        raise UsageError(f"{where}: betas must be two numbers in [0, 1), got {h.betas}")
    for net in ("g", "d"):
        opts = getattr(h, f"{net}_options")
        if not isinstance(opts, tuple) or not all(isinstance(p, tuple) and len(p) == 2
                                                  for p in opts):
            raise UsageError(f"{where}: {net}_options must be a mapping, got {opts!r}")
        bad = [k for k, _ in opts if k not in OPTIMIZER_OPTIONS]
        if bad:
            raise UsageError(f"{where}: {net}_options has unknown key(s) {', '.join(bad)} "
                             f"(use {', '.join(OPTIMIZER_OPTIONS)})")
        _check_optimizer_options(h.network(net), f"{where} ({net}_options)" if opts else where)
    if h.lr_schedule not in LR_SCHEDULES:
        raise UsageError(f"{where}: lr_schedule must be {' or '.join(LR_SCHEDULES)}, "
                         f"got {h.lr_schedule!r}")
    for name, hi in (("k", 100), ("batch_size", 1 << 16), ("z_dim", 1 << 14)):
        v = getattr(h, name)
        if not isinstance(v, int) or not (1 <= v <= hi):
            raise UsageError(f"{where}: {name} must be an integer from 1 to {hi}, got {v}")


def resolve_variant(reg: Registries, variant: Optional[str], model: Optional[str],
                    loss: Optional[str], entry: Optional[SuiteEntry] = None,
                    suite_name: str = "") -> VariantSpec:
    """A registered variant (with suite ``entry``'s recipe, when given), optionally with its
    model and/or loss swapped; or an ad-hoc ``MODEL+LOSS`` variant with default
    hyperparameters when no variant is named."""
    if variant is not None:
        v = reg.variants.get(variant)
        if entry is not None:
            v = _suite_variant(reg, v, entry, suite_name)
    else:
        if model is None or loss is None:
            raise UsageError("name a --variant, or both --model and --loss")
        v = VariantSpec(name=f"{model}+{loss}", model=model, loss=loss,
                        description="ad-hoc model + loss", hparams=Hyperparams())
    if model is not None or loss is not None:
        m = model or v.model
        lo = loss or v.loss
        if (m, lo) != (v.model, v.loss):
            name = v.name if variant is None else f"{v.name}[{m}+{lo}]"
            options = v.model_options if m == v.model else {}
            v = dataclasses.replace(v, name=name, model=m, loss=lo, model_options=options)
    reg.models.get(v.model)
    reg.losses.get(v.loss)
    return v


def fit_data(reg: Registries, variant: VariantSpec, dataset: str,
             data_options: dict[str, Any]) -> tuple[dict[str, Any], Optional[str]]:
    """The data options the job runs with (an automatic resize added where the model needs
    one, see ganbench.data.imaging) and None, or the reason the model cannot train on the data."""
    from ganbench.data.imaging import fit_options

    ds = reg.datasets.get(dataset)
    return fit_options(reg.models.get(variant.model), ds.spec, data_options, dataset)


def plan(
    reg: Registries,
    *,
    suite: Optional[str] = None,
    run_all: bool = False,
    variants: Sequence[str] = (),
    model: Optional[str] = None,
    loss: Optional[str] = None,
    datasets: Sequence[str] = (),
    budget: Optional[Budget] = None,
    seeds: Optional[Sequence[int]] = None,
    overrides: Optional[Overrides] = None,
    evals: Optional[int] = None,
    eval_every: Optional[int] = None,
    eval_samples: Optional[int] = None,
    data_options: Optional[dict[str, Any]] = None,
    eval_options: Optional[dict[str, Any]] = None,
    metrics: Sequence[str] = (),
) -> list[JobSpec]:
    """Expand the request into jobs. Raises UsageError for anything unknown or unfit.
    ``metrics``: metrics computed besides each entry's (opt-in ones such as memorisation);
    a job's metric list then names them all (its run id changes only then)."""
    overrides = overrides or Overrides()
    loss, loss_options = _loss_arg(reg, loss)
    for name in metrics:
        reg.metrics.get(name)
    for d in datasets:
        reg.datasets.get(d)
    suite_name = suite or DEFAULT_SUITE
    entries: list[SuiteEntry] = []
    if run_all or not (variants or model or loss):
        if not run_all:
            raise UsageError(
                "say what to run: --all (the whole suite), --variant NAME, or --model NAME --loss NAME"
            )
        entries = list(reg.suites.get(suite_name).resolve(reg))
        if variants:
            for name in variants:
                reg.variants.get(name)
            entries = [e for e in entries if e.variant in variants]
        if datasets:
            entries = [e for e in entries if e.dataset in datasets]
        if not entries:
            raise UsageError(f"suite '{suite_name}' has no entries for that selection")
        pairs = [(e, resolve_variant(reg, e.variant, model, loss, e, suite_name))
                 for e in entries]
    else:
        names: Sequence[Optional[str]] = list(variants) or [None]
        chosen = [(name, resolve_variant(reg, name, model, loss)) for name in names]
        suite_entries = reg.suites.get(suite_name).resolve(reg)  # budgets/datasets to default to
        pairs = []
        for base, v in chosen:
            if datasets:
                ds_list = list(datasets)
            else:
                ds_list = [e.dataset for e in suite_entries if e.variant == base]
                if not ds_list:
                    raise UsageError(f"give --dataset for '{v.name}' (e.g. --dataset "
                                     f"{_fitting_example(reg, v)})")
            for d in ds_list:
                tpl = next((e for e in suite_entries if e.variant == base and e.dataset == d), None)
                if tpl is not None and not suite:  # the default suite lends budgets, not seeds
                    tpl = dataclasses.replace(tpl, seeds=(0,))
                pairs.append((tpl or SuiteEntry(variant=v.name, dataset=d, budget="10000img"), v))
        if not suite:
            suite_name = ""

    jobs: list[JobSpec] = []
    for entry, v in pairs:
        opts, reason = fit_data(reg, v, entry.dataset,
                                {**entry.data_options, **(data_options or {})})
        if reason:
            if run_all and not (model or loss):
                raise UsageError(f"suite '{suite_name}': {reason} ('{entry.dataset}')")
            raise UsageError(f"variant '{v.name}' cannot run on '{entry.dataset}': {reason}")
        h = overrides.apply(v.hparams)
        check_hparams(h, f"variant '{v.name}'")
        terms = _terms(reg, v, overrides)
        b = budget or Budget.parse(entry.budget)
        for s in (seeds if seeds is not None else entry.seeds):
            jobs.append(JobSpec(
                variant=v.name, model=v.model, loss=v.loss, dataset=entry.dataset, seed=int(s),
                budget=b, hparams=h,
                model_options=tuple(sorted((k, _freeze(x)) for k, x in v.model_options.items())),
                suite=suite_name, evals=evals or entry.evals, eval_every=eval_every,
                eval_samples=eval_samples or entry.eval_samples,
                metrics=_with_metrics(reg, entry.metrics, metrics),
                data_options=tuple(sorted(opts.items())),
                eval_options=tuple(sorted((eval_options or {}).items())),
                loss_options=loss_options if v.loss == loss else (),
                **terms,
            ))
    ids = [j.run_id for j in jobs]
    if len(set(ids)) != len(ids):  # the same job listed twice: keep the first
        seen: set[str] = set()
        jobs = [j for j in jobs if not (j.run_id in seen or seen.add(j.run_id))]
    return jobs


def _with_metrics(reg: Registries, chosen: Optional[tuple[str, ...]],
                  extra: Sequence[str]) -> Optional[tuple[str, ...]]:
    """An entry's metrics (None: every default one) with ``extra`` added, in order."""
    if not extra:
        return chosen
    base = chosen if chosen is not None else tuple(m.name for m in reg.metrics if m.default)
    return base + tuple(dict.fromkeys(m for m in extra if m not in base))


def _suite_variant(reg: Registries, v: VariantSpec, entry: SuiteEntry,
                   suite_name: str) -> VariantSpec:
    """The variant with the suite entry's recipe changes (applied with ``--all`` only): its
    hyperparameters, model options (merged over the variant's; like them, dropped when
    ``--model`` replaces the model), G-EMA decay, regularisers and step hooks (merged as
    ``--reg`` merges)."""
    from ganbench.planning.terms import merge_regs, parse_hook

    where = f"suite '{suite_name}', entry {v.name} on {entry.dataset}"
    changes = dict(entry.hparams or {})
    names = {f.name for f in dataclasses.fields(Hyperparams)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise UsageError(f"{where}: unknown hyperparameter(s) {', '.join(unknown)} (known: "
                         f"{', '.join(sorted(names))})")
    try:
        regs = merge_regs(reg, v.regularizers, entry.regularizers) if entry.regularizers \
            else v.regularizers
        hooks = merge_regs(reg, v.step_hooks, entry.step_hooks, parse=parse_hook) \
            if entry.step_hooks else v.step_hooks
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    ema = v.g_ema if entry.g_ema is None else (entry.g_ema or None)
    return dataclasses.replace(
        v, hparams=dataclasses.replace(v.hparams, **changes) if changes else v.hparams,
        model_options={**v.model_options, **dict(entry.model_options or {})}, g_ema=ema,
        regularizers=regs, step_hooks=hooks)


def _terms(reg: Registries, v: VariantSpec, overrides: Overrides) -> dict[str, Any]:
    """The job's regularisers, step hooks and G-EMA decay: the variant's, with the command
    line's ``--reg`` / ``--g-ema`` applied; specs in canonical form."""
    from ganbench.planning.terms import canonical_hooks, merge_regs

    where = f"variant '{v.name}'"
    try:
        regs = merge_regs(reg, v.regularizers, overrides.regularizers)
        hooks = canonical_hooks(reg, v.step_hooks)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    ema = v.g_ema if overrides.g_ema is None else (overrides.g_ema or None)
    if ema is not None and not (0 < ema < 1):
        raise UsageError(f"{where}: the G-EMA decay must be in (0, 1) (0: off), got {ema}")
    return {"regularizers": regs, "step_hooks": hooks,
            "g_ema": float(ema) if ema is not None else None,
            **_option_terms(reg, v, overrides)}


def _option_terms(reg: Registries, v: VariantSpec, overrides: Overrides) -> dict[str, str]:
    """The job's augmentation and latent sampler: the variant's, or the command line's
    (``none``: off); canonical text."""
    from ganbench.planning.terms import parse_augment, parse_latent

    out = {}
    for name, parse in (("augment", parse_augment), ("latent", parse_latent)):
        text = getattr(overrides, name)
        text = getattr(v, name) if text is None else text
        if text and text.strip() != "none":
            try:
                out[name] = parse(reg, text).text()
            except UsageError as exc:
                raise UsageError(f"variant '{v.name}': {exc}") from None
    return out


def _loss_arg(reg: Registries, loss: Optional[str]):
    """``--loss NAME[:KEY=VALUE...]`` -> (NAME, the given options as sorted pairs)."""
    from ganbench.planning.terms import parse_loss

    if loss is None or ":" not in loss:
        return loss, ()
    term = parse_loss(reg, loss)
    return term.spec.name, term.given


def _freeze(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _fitting_example(reg: Registries, v: VariantSpec) -> str:
    for ds in reg.datasets:
        if reg.models.get(v.model).check(ds.spec) is None:
            return ds.name
    return "NAME"
