"""Training one job: alternating updates under a fixed budget, with periodic evaluation.

The hot loop keeps data on the training device, samples batches there with a seeded generator
and never synchronises with the host between evaluations: per-step statistics accumulate in a
device tensor and are read once per evaluation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

from ganbench.training.checkpoint import Checkpointer, nonfinite_state
from ganbench.api.errors import UsageError
from ganbench.api.evalspec import EvalContext, EvalSpec
from ganbench.training.fastpath import FastPath
from ganbench.planning.plan import JobSpec
from ganbench.registry import Registries
from ganbench.api.specs import DataRequest
from ganbench.training.step import StepStats, build_step


@dataclass
class RunResult:
    job: JobSpec
    rows: list[dict[str, Any]]
    status: str  # "completed" | "diverged"
    images_seen: int
    steps: int
    wall_s: float
    eval_s: float
    device: str
    eval_spec: EvalSpec
    info: dict[str, Any] = field(default_factory=dict)


def resolve_device(name: str = "auto"):
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    import torch

    if not isinstance(name, str) or not name.strip():
        raise UsageError("invalid device '': use auto, cpu, cuda, cuda:N or mps")
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise UsageError(f"invalid device '{name}': use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device '{name}' asked for, but no CUDA GPU is available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"device '{name}' asked for, but only "
                             f"{torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UsageError("device 'mps' asked for, but MPS is not available here")
    elif dev.type != "cpu":
        raise UsageError(f"unsupported device '{name}': use auto, cpu, cuda, cuda:N or mps")
    elif dev.index not in (None, 0):  # torch accepts cpu:99 and runs on the one CPU device
        raise UsageError(f"invalid device '{name}': the CPU is 'cpu' (there is no CPU {dev.index})")
    return dev


def make_optimizer(name: str, params, lr: float, betas: tuple[float, float], *,
                   fused: bool = False, eps: float = 1e-8, weight_decay: float = 0.0,
                   alpha: float = 0.99):
    """The optimiser ``name`` over ``params``; fused Adam/AdamW kernels when ``fused``.
    ``betas[0]`` is SGD's momentum; ``alpha`` is RMSprop's smoothing constant (RMSprop has no
    betas). The defaults of eps, weight_decay and alpha are torch's (AdamW: weight decay 0.01
    unless given)."""
    import torch

    extra = {"fused": True} if fused else {}
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                **extra)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps,
                                 weight_decay=weight_decay or 0.01, **extra)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=betas[0], weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps,
                                   weight_decay=weight_decay)
    raise UsageError(f"unknown optimizer '{name}'")


def make_optimizers(h, g_net, d_net, *, fused: bool = False):
    """(opt_g, opt_d) of hyperparameters ``h``, each with its network's settings
    (``Hyperparams.network``)."""
    out = []
    for net, module in (("g", g_net), ("d", d_net)):
        o = h.network(net)
        out.append(make_optimizer(o["optimizer"], module.parameters(), o["lr"],
                                  tuple(o["betas"]), fused=fused, eps=o["eps"],
                                  weight_decay=o["weight_decay"], alpha=o["alpha"]))
    return tuple(out)


def step_terms(job: JobSpec, reg: Registries, loss, model, g_net, d_net, ema_net=None,
               data_spec=None):
    """The keyword arguments of ``build_step`` for the job's plugin surface: context
    objectives and the loss's options and state, regularisers, step hooks (the G-EMA update
    last), auxiliary outputs, the augmentation of D's inputs and the latent sampler."""
    from ganbench.planning.terms import parse_augment, parse_hook, parse_reg
    from ganbench.training.step import StateInit, ema_hook

    after: dict[str, list] = {"d": [], "g": []}
    for text in job.step_hooks:
        t = parse_hook(reg, text)
        after[t.spec.after].append(t.spec.build(g_net, d_net, **dict(t.options)))
    if ema_net is not None:
        after["g"].append(ema_hook(g_net, ema_net, job.g_ema))
    regs = [parse_reg(reg, text) for text in job.regularizers]
    loss_options = {**dict(loss.options), **dict(job.loss_options)}
    sampler = latent_sampler(reg, job, data_spec)
    init = StateInit(next(iter(g_net.parameters())).device, data_spec, job.hparams.z_dim,
                     sampler)
    terms = dict(d_objective=loss.d_objective, g_objective=loss.g_objective, regularizers=regs,
                 after_d=after["d"], after_g=after["g"], aux_outputs=model.aux_outputs,
                 loss_options=loss_options or None, reg_states={
                     r.spec.name: r.spec.state(replace(init, options=dict(r.options)))
                     for r in regs if r.spec.state is not None})
    if loss.state is not None:
        terms["loss_state"] = loss.state(replace(init, options=loss_options))
    if job.augment:
        a = parse_augment(reg, job.augment)
        terms["augment"] = a.spec.build(data_spec, **dict(a.options))
    if sampler is not None:
        terms["sampler"] = sampler
    return terms


def latent_sampler(reg: Registries, job: JobSpec, data_spec=None):
    """The job's latent sampler (``--latent``), or None for plain Gaussian noise."""
    from ganbench.planning.terms import parse_latent

    if not job.latent:
        return None
    t = parse_latent(reg, job.latent)
    return t.spec.build(job.hparams.z_dim, data_spec, **dict(t.options))


def load_data(reg: Registries, job: JobSpec, split: str, data_root: Optional[str],
              download: bool):
    from ganbench.data.imaging import apply_options

    ds = reg.datasets.get(job.dataset)
    req = DataRequest(split=split, data_root=data_root, download=download,
                      options=dict(job.data_options))
    return ds, apply_options(ds.load(req), req.options)


@dataclass
class _Run:
    """What ``train`` builds once for a job: data, networks, optimisers, the step closure,
    the evaluation protocol, and the objects a checkpoint holds (``saved``)."""

    job: JobSpec
    dev: Any
    ds: Any
    data: Any
    conditional: bool
    g_net: Any
    d_net: Any
    eval_net: Any
    step: Callable[[], None]
    stats: StepStats
    set_lr: Optional[Callable[[float], None]]
    saved: dict[str, Any]  # name -> object with state_dict(): what a checkpoint holds
    rng: Any  # the run's seeded generator (batches, noise, plugins' randomness)
    sampler: Any = None


@dataclass
class _Counters:
    steps: int = 0
    images: int = 0
    wall: float = 0.0
    eval_wall: float = 0.0
    interval_images: int = 0
    interval_wall: float = 0.0


def _build(job: JobSpec, reg: Registries, device: str, data_root, download, fast) -> _Run:
    import torch

    dev = resolve_device(device)
    torch.manual_seed(job.seed)
    model, loss = reg.models.get(job.model), reg.losses.get(job.loss)
    ds, data = load_data(reg, job, "train", data_root, download)
    reason = model.check(data.spec)
    if reason:
        raise UsageError(reason)
    h = job.hparams
    x = data.x.to(dev)
    y = data.y.to(dev) if data.y is not None else None
    if model.conditional and y is None:
        raise UsageError(f"model '{job.model}' is conditional but '{job.dataset}' has no labels")
    g_net, d_net = model.build(data.spec, h.z_dim, **dict(job.model_options))
    g_net.to(dev).train()
    d_net.to(dev).train()
    fast = replace(fast or FastPath(), precision=job.precision)
    opt_g, opt_d = make_optimizers(h, g_net, d_net, fused=fast.use_fused(dev))
    set_lr = _lr_schedule(h, opt_g, opt_d)  # before a restore overwrites the groups' lr
    # G-EMA: a copy of G averaged after every G step; evaluation samples it, not G
    ema_net = ema_copy(g_net) if job.g_ema is not None else None
    rng = torch.Generator(device=dev).manual_seed(job.seed)
    stats = StepStats(dev, output=loss.output)
    g_run, d_run = fast.prepare(g_net, dev), fast.prepare(d_net, dev)
    step = build_step(g_run, d_run, opt_g, opt_d, loss.d_loss, loss.g_loss, x,
                      y if model.conditional else None, batch_size=h.batch_size, k=h.k,
                      z_dim=h.z_dim, rng=rng, stats=stats, fast=fast,
                      num_classes=data.spec.num_classes,
                      **step_terms(job, reg, loss, model, g_run, d_run, ema_net, data.spec))
    saved = {"g": g_net, "d": d_net, "opt_g": opt_g, "opt_d": opt_d}  # what a checkpoint holds
    if ema_net is not None:
        saved["g_ema"] = ema_net
    saved.update({f"state.{n}": obj for n, obj in getattr(step, "states", {}).items()})
    if not hasattr(step, "progress"):  # a step function of another origin (tests' spies)
        step.progress = [0.0]  # type: ignore[attr-defined]
    return _Run(job, dev, ds, data, model.conditional, g_net, d_net,
                ema_net if ema_net is not None else g_net, step, stats, set_lr, saved, rng,
                latent_sampler(reg, job, data.spec))


class _Evaluator:
    """Metrics at the current point: appends rows, returns False when training diverged."""

    def __init__(self, run: _Run, reg: Registries, c: _Counters, artifacts, data_root,
                 download) -> None:
        from ganbench.evaluation.extractors.select import eval_spec_for

        self.run, self.c, self.artifacts = run, c, artifacts
        self.spec, self.extractor, self.reference = eval_spec_for(
            run.job, run.ds, run.data, data_root=data_root, download=download)  # all seeds
        self.metrics = select_metrics(reg, run.job)
        self.cache: dict[str, Any] = {}
        self.rows: list[dict[str, Any]] = []

    def __call__(self) -> bool:
        run, c = self.run, self.c
        t0 = time.perf_counter()
        stats = run.stats.means()
        if stats and c.interval_wall > 0:
            stats["images_per_s"] = c.interval_images / c.interval_wall
        run.eval_net.eval()
        first_row = len(self.rows)
        ctx = EvalContext(job=run.job, dataset=run.ds, data=run.data, generator=run.eval_net,
                          conditional=run.conditional, device=run.dev, eval_spec=self.spec,
                          step=c.steps, images_seen=c.images, wall_s=c.wall, stats=stats,
                          cache=self.cache, extractor=self.extractor,
                          reference=self.reference, sampler=run.sampler)
        for m in self.metrics:
            if m.applies is None or m.applies(ctx):
                for v in m.compute(ctx):
                    self._row(v.metric, v.value, v.unit, v.higher_is_better, v.eval_spec)
        for name in run.stats.scalar_names():  # what plugins logged (StepContext.log)
            self._row(name, stats[name], "", None)
        if self.artifacts is not None:
            self.artifacts.evaluated(ctx, self.rows[first_row:])
        run.eval_net.train()
        run.stats.reset()
        c.interval_images, c.interval_wall = 0, 0.0
        c.eval_wall += time.perf_counter() - t0
        return all(math.isfinite(v) for k2, v in stats.items() if k2 in run.stats.names)

    def _row(self, metric, value, unit, higher_is_better, eval_spec=None) -> None:
        c = self.c
        self.rows.append({"step": c.steps, "images_seen": c.images, "wall_s": round(c.wall, 4),
                          "metric": metric, "value": float(value), "unit": unit,
                          "higher_is_better": higher_is_better,
                          "eval_spec": eval_spec or self.spec.hash})


def train(
    job: JobSpec,
    reg: Registries,
    *,
    device: str = "auto",
    data_root: Optional[str] = None,
    download: bool = True,
    progress: Optional[Callable[[float], None]] = None,
    checkpoint: Optional[Checkpointer] = None,
    fast: Optional[FastPath] = None,
    artifacts: Optional[Any] = None,
) -> RunResult:
    """Train ``job`` to its budget and return its metric rows. With ``checkpoint``, continue
    from its saved state when there is one and save the state at every evaluation point.
    ``fast``: how to execute it (channels_last, torch.compile, fused Adam); the precision is
    the job's. ``artifacts`` (ganbench.store.artifacts.RunArtifacts): draws each evaluation point's
    picture and keeps the evaluated generator."""
    run = _build(job, reg, device, data_root, download, fast)
    c = _Counters()
    evaluate = _Evaluator(run, reg, c, artifacts, data_root, download)
    resumed = _resume(run, evaluate, c, checkpoint)
    if artifacts is not None:
        artifacts.start(resumed.steps if resumed else None)
    if not resumed:
        evaluate()
    status = _loop(run, evaluate, c, checkpoint, progress, resumed is not None)
    kept = artifacts.finish() if artifacts is not None else {}
    return RunResult(job=job, rows=evaluate.rows, status=status, images_seen=c.images,
                     steps=c.steps, wall_s=c.wall, eval_s=c.eval_wall, device=str(run.dev),
                     eval_spec=evaluate.spec,
                     info={"params_g": sum(p.numel() for p in run.g_net.parameters()),
                           "params_d": sum(p.numel() for p in run.d_net.parameters()),
                           "diverged_at_step": c.steps if status == "diverged" else None,
                           "resumed_from_step": resumed.steps if resumed else None, **kept})


def _resume(run: _Run, evaluate: _Evaluator, c: _Counters, checkpoint):
    """Continue from ``checkpoint``'s saved state when it fits this run (None: from scratch)."""
    if not checkpoint:
        return None
    h, job = run.job.hparams, run.job

    def fits(r) -> Optional[str]:
        """Why restored counters cannot be this run's (checkpoints are saved before the
        budget ends, and every step sees batch_size × k real images)."""
        if r.images != r.steps * h.batch_size * h.k:
            return f"{r.images} images seen do not match {r.steps} steps"
        if job.budget.fraction(r.images, r.steps, r.wall) >= 1.0:
            return f"its counters ({r.steps} steps) are at or past the budget {job.budget}"
        return None

    resumed = checkpoint.restore(run.saved, run.rng, evaluate.cache, check=fits)
    if resumed:
        evaluate.rows[:], c.steps, c.images, c.wall, c.eval_wall = resumed
        run.step.counter[0] = c.steps  # lazy regularisers continue on their phase
    return resumed


def _loop(run: _Run, evaluate: _Evaluator, c: _Counters, checkpoint, progress,
          resumed: bool) -> str:
    """Training segments up to each evaluation point until the budget ends: "completed" or
    "diverged"."""
    budget, evals = run.job.budget, max(1, run.job.evals)
    next_eval = 1
    while resumed and next_eval / evals <= budget.fraction(c.images, c.steps, c.wall):
        next_eval += 1
    run.step.progress[0] = min(1.0, budget.fraction(c.images, c.steps, c.wall))
    if run.set_lr:
        run.set_lr(budget.fraction(c.images, c.steps, c.wall))
    while True:
        _segment(run, c, next_eval / evals)
        frac = budget.fraction(c.images, c.steps, c.wall)
        if progress:
            progress(min(frac, 1.0))
        while next_eval / evals <= frac:
            next_eval += 1
        if not evaluate() or nonfinite_state(run.g_net, run.d_net):
            return "diverged"
        if frac >= 1.0:
            return "completed"
        if checkpoint:
            checkpoint.save(run.saved, run.rng, evaluate.cache, evaluate.rows, c.steps,
                            c.images, c.wall, c.eval_wall)


def _segment(run: _Run, c: _Counters, next_frac: float) -> None:
    """Steps until the next evaluation point (``next_frac`` of the budget, or every
    ``eval_every`` steps) or the end of the budget; no host sync in between."""
    import torch

    job, step, set_lr = run.job, run.step, run.set_lr
    per_step_images = job.hparams.batch_size * job.hparams.k
    t0 = time.perf_counter()
    while True:
        step()
        c.steps += 1
        c.images += per_step_images
        c.interval_images += per_step_images
        frac = job.budget.fraction(c.images, c.steps, c.wall + time.perf_counter() - t0)
        step.progress[0] = min(1.0, frac)
        if set_lr:
            set_lr(frac)
        due = c.steps % job.eval_every == 0 if job.eval_every else frac >= next_frac
        if due or frac >= 1.0:
            break
    if run.dev.type == "cuda":
        torch.cuda.synchronize(run.dev)
    seg = time.perf_counter() - t0
    c.wall += seg
    c.interval_wall += seg


def _lr_schedule(h, opt_g, opt_d):
    """``set_lr(fraction)`` for ``h.lr_schedule == "linear"`` (each learning rate × (1 − the
    fraction of the budget used), as SN-GAN's and mimicry's linear decay), else None. A
    function of the run's counters, so a resumed run continues the same schedule."""
    if h.lr_schedule != "linear":
        return None
    opts = (opt_g, opt_d)
    base = [[group["lr"] for group in opt.param_groups] for opt in opts]

    def set_lr(fraction: float) -> None:  # the groups are looked up: a restore replaces them
        scale = max(0.0, 1.0 - fraction)
        for opt, lrs in zip(opts, base):
            for group, lr in zip(opt.param_groups, lrs):
                group["lr"] = lr * scale

    return set_lr


def ema_copy(g_net):
    import copy

    ema = copy.deepcopy(g_net)
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


def select_metrics(reg: Registries, job: JobSpec):
    if job.metrics is None:
        return [m for m in reg.metrics if m.default]
    return [reg.metrics.get(name) for name in job.metrics]
