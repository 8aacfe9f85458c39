"""The runner's overhead: ganbench's training loop against a bare hand-written PyTorch loop.

Both sides train the same G and D (built by the job's model plugin from the same seed), with the
same loss, the same optimisers and the same device-resident data, sampled the same way (same
batch size, same ``k``). The bare loop does nothing else: no statistics, no budget checks, no
evaluation. ganbench's side is ``runner.train`` with no metrics, timed by its own training
clock (which excludes data loading, model building and evaluation, exactly what the bare loop's
clock excludes).

The two are measured in interleaved pairs (A B, B A, A B, ...) and the figure is the median of
the per-pair ratios: on a noisy shared machine a slow spell slows both halves of a pair, so
ratios stay stable where absolute times do not. On the CPU both clocks are the process's CPU
time (``time.process_time``), which other processes' load barely moves (wall time on a loaded
2-core machine doubles and jitters); on a GPU they are wall time after a synchronisation.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ganbench.planning.budget import Budget
from ganbench.planning.plan import JobSpec
from ganbench.registry import Registries


@dataclass
class Trainable:
    """What a training loop needs, built exactly as ``runner.train`` builds it."""

    g: Any
    d: Any
    opt_g: Any
    opt_d: Any
    loss: Any
    x: Any
    y: Optional[Any]
    rng: Any
    device: Any
    model: Any = None  # the job's ModelSpec
    num_classes: int = 0


def build(job: JobSpec, reg: Registries, device: Any, *, fused: bool = False) -> Trainable:
    """G, D, optimisers, data and batch generator for ``job``, seeded as the runner seeds them."""
    import torch

    from ganbench.training.runner import load_data, make_optimizers

    torch.manual_seed(job.seed)
    model = reg.models.get(job.model)
    _, data = load_data(reg, job, "train", None, False)
    h = job.hparams
    g, d = model.build(data.spec, h.z_dim, **dict(job.model_options))
    g.to(device).train()
    d.to(device).train()
    opt_g, opt_d = make_optimizers(h, g, d, fused=fused)
    return Trainable(
        g=g, d=d, opt_g=opt_g, opt_d=opt_d,
        loss=reg.losses.get(job.loss), x=data.x.to(device),
        y=data.y.to(device) if model.conditional and data.y is not None else None,
        rng=torch.Generator(device=device).manual_seed(job.seed), device=device, model=model,
        num_classes=data.spec.num_classes)


def job_step(t: Trainable, job: JobSpec, reg: Registries, stats: Any = None,
             fast: Any = None) -> Callable[[], None]:
    """The runner's step closure for ``job`` on ``t`` (its loss, regularisers, step hooks,
    auxiliary outputs and G-EMA), as ``runner.train`` builds it."""
    from ganbench.training.runner import ema_copy, step_terms
    from ganbench.training.step import build_step

    h = job.hparams
    ema = ema_copy(t.g) if job.g_ema is not None else None
    return build_step(t.g, t.d, t.opt_g, t.opt_d, t.loss.d_loss, t.loss.g_loss, t.x, t.y,
                      batch_size=h.batch_size, k=h.k, z_dim=h.z_dim, rng=t.rng, stats=stats,
                      fast=fast, num_classes=t.num_classes,
                      **step_terms(job, reg, t.loss, t.model, t.g, t.d, ema))


def train_step(job: JobSpec, reg: Registries, device: Any):
    """The runner's own step function for ``job`` (``job_step``: its loss, regularisers, step
    hooks, auxiliary outputs, G-EMA and statistics, on the runner's default execution path) on
    G and D built as ``runner.train`` builds them. Returns ``(step, images_per_step, stats)``."""
    from ganbench.training.fastpath import FastPath
    from ganbench.training.step import StepStats

    fast = FastPath()
    t = build(job, reg, device, fused=fast.use_fused(device))
    h = job.hparams
    stats = StepStats(device, output=t.loss.output)
    step = job_step(t, job, reg, stats=stats, fast=fast)
    return step, h.batch_size * h.k, stats


def bare_loop(t: Trainable, job: JobSpec, steps: int,
              record: Optional[list] = None) -> float:
    """``steps`` G steps of a plain PyTorch GAN loop; returns its wall seconds (synchronised).

    ``record`` (tests only) receives each step's (D loss, G loss) tensors.
    """
    import torch

    g, d, opt_g, opt_d, x, y, rng, dev = t.g, t.d, t.opt_g, t.opt_d, t.x, t.y, t.rng, t.device
    d_loss, g_loss = t.loss.d_loss, t.loss.g_loss
    h = job.hparams
    n, bs, z_dim = x.shape[0], h.batch_size, h.z_dim
    clock = clock_for(dev)
    sync(dev)
    t0 = clock()
    for _ in range(steps):
        for _ in range(h.k):
            idx = torch.randint(n, (bs,), device=dev, generator=rng)
            real = x[idx]
            z = torch.randn(bs, z_dim, device=dev, generator=rng)
            if y is None:
                with torch.no_grad():
                    fake = g(z)
                ld = d_loss(d(real), d(fake))
            else:
                yb = y[idx]
                with torch.no_grad():
                    fake = g(z, yb)
                ld = d_loss(d(real, yb), d(fake, yb))
            opt_d.zero_grad(set_to_none=True)
            ld.backward()
            opt_d.step()
        z = torch.randn(bs, z_dim, device=dev, generator=rng)
        if y is None:
            lg = g_loss(d(g(z)))
        else:
            yg = y[torch.randint(n, (bs,), device=dev, generator=rng)]
            lg = g_loss(d(g(z, yg), yg))
        opt_g.zero_grad(set_to_none=True)
        lg.backward()
        opt_g.step()
        if record is not None:
            record.append((ld.detach(), lg.detach()))
    sync(dev)
    return clock() - t0


def bare_wgan_gp_loop(t: Trainable, job: JobSpec, steps: int,
                      record: Optional[list] = None) -> float:
    """``steps`` G steps of a hand-written WGAN-GP loop (Gulrajani et al. 2017, Algorithm 1:
    k critic steps with the Wasserstein loss plus λ E(||grad D(x_hat)|| - 1)^2, then a G step),
    drawing its random numbers in the runner's order; returns its seconds as ``bare_loop``.
    For an unconditional job whose terms are one ``gp`` regulariser (the ``wgan-gp`` variant)."""
    import torch

    from ganbench.registry import registries
    from ganbench.planning.terms import parse_reg

    (term,) = [parse_reg(registries(), r) for r in job.regularizers]
    assert term.spec.name == "gp" and term.every == 1 and t.y is None and not job.step_hooks
    lam = term.weight
    g, d, opt_g, opt_d, x, rng, dev = t.g, t.d, t.opt_g, t.opt_d, t.x, t.rng, t.device
    h = job.hparams
    n, bs, z_dim = x.shape[0], h.batch_size, h.z_dim
    clock = clock_for(dev)
    sync(dev)
    t0 = clock()
    for _ in range(steps):
        for _ in range(h.k):
            idx = torch.randint(n, (bs,), device=dev, generator=rng)
            real = x[idx]
            z = torch.randn(bs, z_dim, device=dev, generator=rng)
            with torch.no_grad():
                fake = g(z)
            ld = d(fake).mean() - d(real).mean()
            eps = torch.rand((bs,) + (1,) * (real.dim() - 1), device=dev, generator=rng)
            x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
            ld = ld + lam * (grad.flatten(1).norm(dim=1) - 1).square().mean()
            opt_d.zero_grad(set_to_none=True)
            ld.backward()
            opt_d.step()
        z = torch.randn(bs, z_dim, device=dev, generator=rng)
        lg = -d(g(z)).mean()
        opt_g.zero_grad(set_to_none=True)
        lg.backward()
        opt_g.step()
        if record is not None:
            record.append((ld.detach(), lg.detach()))
    sync(dev)
    return clock() - t0


def bare_loop_for(job: JobSpec) -> Callable[..., float]:
    """The bare loop that computes what the runner computes for ``job``."""
    if job.regularizers or job.step_hooks or job.g_ema is not None:
        if job.loss == "wasserstein" and [r.split(":")[0] for r in job.regularizers] == ["gp"]:
            return bare_wgan_gp_loop
        raise ValueError(f"no bare loop for {job.variant}'s terms")
    return bare_loop


def ganbench_loop(job: JobSpec, reg: Registries, device: Any, steps: int) -> float:
    """``steps`` G steps of ``runner.train`` (no metrics, one evaluation at each end); returns
    its training seconds, clocked by the runner with ``clock_for(device)``."""
    from ganbench.training import runner

    j = dataclasses.replace(job, budget=Budget.parse(f"{steps}steps"), evals=1, eval_every=None,
                            metrics=())
    real_time = runner.time
    runner.time = types.SimpleNamespace(perf_counter=clock_for(device))  # the runner's clock
    try:
        return runner.train(j, reg, device=str(device), download=False).wall_s
    finally:
        runner.time = real_time


@dataclass
class Overhead:
    """Interleaved timings of the two loops and their ratio."""

    steps: int
    ganbench_s: list[float] = field(default_factory=list)
    bare_s: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.ganbench_s, self.bare_s)]

    @property
    def ratio(self) -> float:
        """Median over pairs of ganbench time / bare time (1.0 = no overhead)."""
        return statistics.median(self.ratios)

    def summary(self) -> dict[str, Any]:
        r = sorted(self.ratios)
        q = statistics.quantiles(r, n=4) if len(r) >= 2 else [r[0]] * 3
        return {"overhead_ratio": round(self.ratio, 4), "ratio_q1": round(q[0], 4),
                "ratio_q3": round(q[2], 4), "pairs": len(r), "steps_per_run": self.steps,
                "ganbench_median_s": round(statistics.median(self.ganbench_s), 5),
                "bare_median_s": round(statistics.median(self.bare_s), 5)}


def measure_pair(job: JobSpec, reg: Registries, device: Any, steps: int, result: Overhead,
                 *, bare_first: bool) -> None:
    """One more interleaved pair into ``result`` (order alternated by the caller)."""
    loop = bare_loop_for(job)

    def bare() -> None:
        result.bare_s.append(loop(build(job, reg, device, fused=_fused(device)), job, steps))

    def ours() -> None:
        result.ganbench_s.append(ganbench_loop(job, reg, device, steps))

    first, second = (bare, ours) if bare_first else (ours, bare)
    first()
    second()


def measure(job: JobSpec, reg: Registries, device: Any, *, steps: int = 200, pairs: int = 9,
            warmup_steps: int = 20) -> Overhead:
    """The overhead ratio of ``job``'s training loop, from ``pairs`` interleaved pairs."""
    ganbench_loop(job, reg, device, warmup_steps)  # warm caches, allocator, lazy imports
    bare_loop_for(job)(build(job, reg, device, fused=_fused(device)), job, warmup_steps)
    result = Overhead(steps=steps)
    for i in range(pairs):
        measure_pair(job, reg, device, steps, result, bare_first=i % 2 == 0)
    return result


def clock_for(device: Any) -> Callable[[], float]:
    """CPU time of this process on the CPU; wall time on an accelerator."""
    return time.process_time if getattr(device, "type", "cpu") == "cpu" else time.perf_counter


def _fused(device: Any) -> bool:
    """The runner's default optimiser kernels on ``device`` (the bare loop uses the same)."""
    from ganbench.training.fastpath import FastPath

    return FastPath().use_fused(device)


def sync(device: Any) -> None:
    """Wait for queued GPU work, so a timer sees it finished (no-op on the CPU)."""
    if getattr(device, "type", None) == "cuda":
        import torch

        torch.cuda.synchronize(device)
