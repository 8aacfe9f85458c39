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


def step_terms(job: JobSpec, reg: Registries, loss, model, g_net, d_net, ema_net=None):
    """The keyword arguments of ``build_step`` for the job's plugin surface: context
    objectives, regularisers, step hooks (the G-EMA update last) and auxiliary outputs."""
    from ganbench.planning.terms import parse_hook, parse_reg
    from ganbench.training.step import ema_hook

    after: dict[str, list] = {"d": [], "g": []}
    for text in job.step_hooks:
        t = parse_hook(reg, text)
        after[t.spec.after].append(t.spec.build(g_net, d_net, **dict(t.options)))
    if ema_net is not None:
        after["g"].append(ema_hook(g_net, ema_net, job.g_ema))
    return dict(d_objective=loss.d_objective, g_objective=loss.g_objective,
                regularizers=[parse_reg(reg, text) for text in job.regularizers],
                after_d=after["d"], after_g=after["g"], aux_outputs=model.aux_outputs)


def load_data(reg: Registries, job: JobSpec, split: str, data_root: Optional[str],
              download: bool):
    from ganbench.data.imaging import apply_options

    ds = reg.datasets.get(job.dataset)
    req = DataRequest(split=split, data_root=data_root, download=download,
                      options=dict(job.data_options))
    return ds, apply_options(ds.load(req), req.options)


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
    import torch

    dev = resolve_device(device)
    torch.manual_seed(job.seed)
    variant_model = reg.models.get(job.model)
    loss = reg.losses.get(job.loss)
    ds, train_data = load_data(reg, job, "train", data_root, download)
    reason = variant_model.check(train_data.spec)
    if reason:
        raise UsageError(reason)

    h = job.hparams
    x = train_data.x.to(dev)
    y = train_data.y.to(dev) if train_data.y is not None else None
    conditional = variant_model.conditional
    if conditional and y is None:
        raise UsageError(f"model '{job.model}' is conditional but '{job.dataset}' has no labels")
    g_net, d_net = variant_model.build(train_data.spec, h.z_dim, **dict(job.model_options))
    g_net.to(dev).train()
    d_net.to(dev).train()
    fast = replace(fast or FastPath(), precision=job.precision)
    fused = fast.use_fused(dev)
    opt_g, opt_d = make_optimizers(h, g_net, d_net, fused=fused)
    set_lr = _lr_schedule(h, opt_g, opt_d)  # before a restore overwrites the groups' lr
    # G-EMA: a copy of G averaged after every G step; evaluation samples it, not G
    ema_net = ema_copy(g_net) if job.g_ema is not None else None

    rng = torch.Generator(device=dev).manual_seed(job.seed)
    bs, k = h.batch_size, h.k
    train_stats = StepStats(dev, output=loss.output)
    g_run, d_run = fast.prepare(g_net, dev), fast.prepare(d_net, dev)
    step = build_step(g_run, d_run, opt_g, opt_d,
                      loss.d_loss, loss.g_loss, x, y if conditional else None, batch_size=bs,
                      k=k, z_dim=h.z_dim, rng=rng, stats=train_stats, fast=fast,
                      num_classes=train_data.spec.num_classes,
                      **step_terms(job, reg, loss, variant_model, g_run, d_run, ema_net))
    eval_net = ema_net if ema_net is not None else g_net

    from ganbench.evaluation.extractors.select import eval_spec_for

    spec, extractor, reference = eval_spec_for(job, ds, train_data, data_root=data_root,
                                               download=download)  # same for all seeds
    metric_specs = select_metrics(reg, job)
    cache: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    images = steps = 0
    wall = eval_wall = 0.0
    interval = {"images": 0, "wall": 0.0}
    status = "completed"
    saved = {"g": g_net, "d": d_net, "opt_g": opt_g, "opt_d": opt_d}  # what a checkpoint holds
    if ema_net is not None:
        saved["g_ema"] = ema_net

    def evaluate() -> bool:
        """Metrics at the current point; False if training has diverged."""
        nonlocal eval_wall
        t0 = time.perf_counter()
        stats = train_stats.means()
        if stats:
            if interval["wall"] > 0:
                stats["images_per_s"] = interval["images"] / interval["wall"]
        eval_net.eval()
        first_row = len(rows)
        ctx = EvalContext(job=job, dataset=ds, data=train_data, generator=eval_net,
                          conditional=conditional, device=dev, eval_spec=spec, step=steps,
                          images_seen=images, wall_s=wall, stats=stats, cache=cache,
                          extractor=extractor, reference=reference)
        for m in metric_specs:
            if m.applies is None or m.applies(ctx):
                for v in m.compute(ctx):
                    rows.append({"step": steps, "images_seen": images, "wall_s": round(wall, 4),
                                 "metric": v.metric, "value": float(v.value), "unit": v.unit,
                                 "higher_is_better": v.higher_is_better,
                                 "eval_spec": spec.hash})
        if artifacts is not None:
            artifacts.evaluated(ctx, rows[first_row:])
        eval_net.train()
        train_stats.reset()
        interval["images"], interval["wall"] = 0, 0.0
        eval_wall += time.perf_counter() - t0
        finite = all(math.isfinite(v) for k2, v in stats.items() if k2 in train_stats.names)
        return finite

    def fits(r) -> Optional[str]:
        """Why restored counters cannot be this run's (checkpoints are saved before the
        budget ends, and every step sees batch_size × k real images)."""
        if r.images != r.steps * h.batch_size * h.k:
            return f"{r.images} images seen do not match {r.steps} steps"
        if job.budget.fraction(r.images, r.steps, r.wall) >= 1.0:
            return f"its counters ({r.steps} steps) are at or past the budget {job.budget}"
        return None

    resumed = checkpoint.restore(saved, rng, cache, check=fits) if checkpoint else None
    if resumed:
        rows[:], steps, images, wall, eval_wall = resumed
        step.counter[0] = steps  # lazy regularisers continue on their phase
    if artifacts is not None:
        artifacts.start(resumed.steps if resumed else None)
    if not resumed:
        evaluate()
    budget = job.budget
    next_eval = 1
    evals = max(1, job.evals)
    while resumed and next_eval / evals <= budget.fraction(images, steps, wall):
        next_eval += 1
    per_step_images = bs * k
    sync = dev.type == "cuda"
    if set_lr:
        set_lr(budget.fraction(images, steps, wall))
    while True:
        t0 = time.perf_counter()
        # a training segment: run until the next evaluation point or the end of the budget
        while True:
            step()
            steps += 1
            images += per_step_images
            interval["images"] += per_step_images
            now = time.perf_counter()
            frac = budget.fraction(images, steps, wall + now - t0)
            if set_lr:
                set_lr(frac)
            if job.eval_every:
                due = steps % job.eval_every == 0
            else:
                due = frac >= next_eval / evals
            if due or frac >= 1.0:
                break
        if sync:
            torch.cuda.synchronize(dev)
        seg = time.perf_counter() - t0
        wall += seg
        interval["wall"] += seg
        frac = budget.fraction(images, steps, wall)
        if progress:
            progress(min(frac, 1.0))
        while next_eval / evals <= frac:
            next_eval += 1
        if not evaluate() or nonfinite_state(g_net, d_net):
            status = "diverged"
            break
        if frac >= 1.0:
            break
        if checkpoint:
            checkpoint.save(saved, rng, cache, rows, steps, images, wall, eval_wall)

    kept = artifacts.finish() if artifacts is not None else {}
    return RunResult(job=job, rows=rows, status=status, images_seen=images, steps=steps,
                     wall_s=wall, eval_s=eval_wall, device=str(dev), eval_spec=spec,
                     info={"params_g": sum(p.numel() for p in g_net.parameters()),
                           "params_d": sum(p.numel() for p in d_net.parameters()),
                           "diverged_at_step": steps if status == "diverged" else None,
                           "resumed_from_step": resumed.steps if resumed else None, **kept})


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
