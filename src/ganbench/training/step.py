"""One training step (k D updates, one G update) and the per-step statistics it gathers.

The step is the runner's hot loop, so it is built once per run and keeps every cost off it
that can wait: batches are sampled on the device from device-resident tensors with a seeded
generator, and the statistics (losses, D(x), D(G(z)), generator gradient norm) are kept as
device tensors that are reduced only every ``FOLD_EVERY`` steps and read on the host only at
evaluation time: no host synchronisation per step.

Two step closures share that design. The plain one is the GAN loop of a short-form loss
(``d_loss(real, fake)``, ``g_loss(fake)``) with nothing else: it is what the built-in variants
run, with no per-step work for terms they do not use. The general one adds the plugin surface:
context objectives (``StepContext``), regularisers (lazy ones only on their steps), auxiliary D
outputs, and hooks after the D and G optimiser steps (weight clipping, the EMA of G).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, Optional, Sequence

STAT_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")
RAW_STAT_NAMES = ("d_loss", "g_loss", "d_real_raw", "d_fake_raw", "g_grad_norm")
FOLD_EVERY = 64  # steps between reductions of the pending statistics (bounds memory)


class StepStats:
    """Interval means of the training statistics, gathered without host syncs.

    Each step hands over detached tensors (two scalar losses, the last D step's real and fake
    logits, the generator's per-parameter gradient norms); they are reduced in one batch every
    ``FOLD_EVERY`` steps into a float64 accumulator. ``means()`` (one host sync) gives the same
    numbers as a per-step float64 running sum of the per-step values.

    ``output="logit"`` reports D(x) and D(G(z)) as mean sigmoid probabilities (``d_real``,
    ``d_fake``); ``output="raw"`` (critics: Wasserstein, hinge, least squares) as the mean raw
    outputs (``d_real_raw``, ``d_fake_raw``).
    """

    def __init__(self, device: Any, output: str = "logit") -> None:
        import torch

        if output not in ("logit", "raw"):
            raise ValueError(f"output must be 'logit' or 'raw', got {output!r}")
        self.output = output
        self.names = STAT_NAMES if output == "logit" else RAW_STAT_NAMES
        self._torch = torch
        self.device = device
        self.acc = torch.zeros(len(STAT_NAMES), device=device, dtype=torch.float64)
        self.steps = 0
        self._pending: list[tuple[Any, ...]] = []

    def add(self, loss_d, loss_g, real_logits, fake_logits, grad_norms) -> None:
        self._pending.append((loss_d, loss_g, real_logits, fake_logits, grad_norms))
        self.steps += 1
        if len(self._pending) >= FOLD_EVERY:
            self._fold()

    def _fold(self) -> None:
        if not self._pending:
            return
        torch = self._torch
        ld, lg, rl, fl, gn = zip(*self._pending)
        self._pending = []
        n = len(ld)
        # mean over a step's batch, per step, as float64 (every step has the same batch size)
        squash = torch.sigmoid if self.output == "logit" else (lambda t: t)
        d_real = squash(torch.stack(rl)).flatten(1).mean(1).double()
        d_fake = squash(torch.stack(fl)).flatten(1).mean(1).double()
        norms = torch.stack([torch.stack(g) for g in gn]).double().square().sum(1).sqrt()
        per_step = torch.stack([torch.stack(ld).double(), torch.stack(lg).double(),
                                d_real, d_fake, norms])  # 5 x n
        assert per_step.shape == (len(self.names), n)
        self.acc += per_step.sum(1)

    def means(self) -> dict[str, float]:
        """Means since the last ``reset()`` (empty when no step was taken). Syncs once."""
        if not self.steps:
            return {}
        self._fold()
        return dict(zip(self.names, (self.acc / self.steps).tolist()))

    def reset(self) -> None:
        self.acc.zero_()
        self.steps = 0
        self._pending = []


def build_step(
    g_net,
    d_net,
    opt_g,
    opt_d,
    d_loss_fn: Callable,
    g_loss_fn: Callable,
    x,
    y,
    *,
    batch_size: int,
    k: int,
    z_dim: int,
    rng,
    stats: Optional[StepStats] = None,
    fast: Optional[Any] = None,
    d_objective: Optional[Callable] = None,
    g_objective: Optional[Callable] = None,
    regularizers: Sequence[Any] = (),
    after_d: Sequence[Callable] = (),
    after_g: Sequence[Callable] = (),
    aux_outputs: bool = False,
    num_classes: int = 0,
) -> Callable[[], None]:
    """The training step closure: ``k`` D updates on fresh real/fake batches, one G update.

    ``y`` is None for unconditional models. ``fast`` (a ``ganbench.training.fastpath.FastPath``) adds
    autocast, channels_last inputs and CUDA-graph step marks; None is plain fp32.

    The plugin surface (any of these selects the general step): ``d_objective`` /
    ``g_objective`` (functions of a ``StepContext``, replacing ``d_loss_fn`` / ``g_loss_fn``),
    ``regularizers`` (``ganbench.planning.terms.RegTerm``), hooks ``after_d`` / ``after_g`` (functions of
    the ``StepContext``, called after each D / G optimiser step), ``aux_outputs`` (D returns
    ``(out, aux, ...)``). The closure's ``counter`` (a one-element list) holds the number of G
    steps taken; a resumed run sets it, so lazy regularisers keep their phase.
    """
    import torch

    if (d_objective is not None or g_objective is not None or regularizers or after_d
            or after_g or aux_outputs):
        return _general_step(
            g_net, d_net, opt_g, opt_d, d_loss_fn, g_loss_fn, x, y, batch_size=batch_size, k=k,
            z_dim=z_dim, rng=rng, stats=stats, fast=fast, d_objective=d_objective,
            g_objective=g_objective, regularizers=regularizers, after_d=after_d,
            after_g=after_g, aux_outputs=aux_outputs, num_classes=num_classes)

    dev = x.device
    n, bs = x.shape[0], batch_size
    conditional = y is not None
    g_params = [p for p in g_net.parameters() if p.requires_grad]
    autocast = fast.autocast(dev) if fast is not None else None
    amp = autocast if autocast is not None else nullcontext()  # both can be entered repeatedly
    mark_step = fast.step_marker() if fast is not None else None
    prep = fast.input_transform() if fast is not None else None
    upcast = autocast is not None  # losses in fp32 under reduced-precision autocast
    foreach_norm = torch._foreach_norm

    def step() -> None:
        for _ in range(k):
            if mark_step is not None:
                mark_step()
            idx = torch.randint(n, (bs,), device=dev, generator=rng)
            real = x[idx]
            if prep is not None:
                real = prep(real)
            z = torch.randn(bs, z_dim, device=dev, generator=rng)
            yb = y[idx] if conditional else None
            with amp:
                with torch.no_grad():
                    fake = g_net(z, yb) if conditional else g_net(z)
                if conditional:
                    real_logits, fake_logits = d_net(real, yb), d_net(fake, yb)
                else:
                    real_logits, fake_logits = d_net(real), d_net(fake)
                if upcast:
                    real_logits, fake_logits = real_logits.float(), fake_logits.float()
                loss_d = d_loss_fn(real_logits, fake_logits)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        if mark_step is not None:
            mark_step()
        z = torch.randn(bs, z_dim, device=dev, generator=rng)
        with amp:
            if conditional:
                yg = y[torch.randint(n, (bs,), device=dev, generator=rng)]
                logits_g = d_net(g_net(z, yg), yg)
            else:
                logits_g = d_net(g_net(z))
            loss_g = g_loss_fn(logits_g.float() if upcast else logits_g)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        if stats is not None:
            grads = [p.grad for p in g_params if p.grad is not None]
            stats.add(loss_d.detach(), loss_g.detach(), real_logits.detach(),
                      fake_logits.detach(), foreach_norm(grads))
        opt_g.step()

    step.counter = [0]  # type: ignore[attr-defined]  # unused: the plain step has no lazy terms
    return step



class StepContext:
    """What an objective, a regulariser or a step hook sees of one D or G step.

    ``phase`` is ``"d"`` or ``"g"``. ``g`` and ``d`` are the networks; ``real`` the real batch
    and ``labels`` its labels (None when unconditional); ``fake`` the generated batch (no
    gradient in the D phase, G's graph in the G phase) and ``fake_labels`` the labels it was
    generated for. ``real_out`` / ``fake_out`` are D's adversarial outputs on them, computed
    once (in the G phase ``real_out`` is computed on first use, on the last D step's real batch,
    without gradient); ``real_aux`` / ``fake_aux`` D's auxiliary outputs (a tuple, empty
    unless the model has ``aux_outputs``). ``step`` counts the G steps before this one,
    ``d_step`` the D steps; ``rng`` is the run's seeded generator on the training device (use
    it for any randomness, so runs stay deterministic); ``num_classes`` the data's classes.
    """

    __slots__ = ("phase", "g", "d", "real", "labels", "fake", "fake_labels", "fake_out",
                 "fake_aux", "step", "d_step", "rng", "num_classes", "_real_out", "_real_aux",
                 "_real_grad", "_call_d")

    def __init__(self, phase, g, d, real, labels, fake, fake_labels, real_out, real_aux,
                 fake_out, fake_aux, step, d_step, rng, num_classes, call_d, real_grad=False):
        self.phase, self.g, self.d = phase, g, d
        self.real, self.labels, self.fake, self.fake_labels = real, labels, fake, fake_labels
        self._real_out, self._real_aux = real_out, real_aux
        self.fake_out, self.fake_aux = fake_out, fake_aux
        self.step, self.d_step, self.rng, self.num_classes = step, d_step, rng, num_classes
        self._call_d = call_d
        self._real_grad = real_grad

    @property
    def real_out(self):
        if self._real_out is None:
            import torch

            with torch.no_grad():
                self._real_out, self._real_aux = self._call_d(self.real, self.labels)
        return self._real_out

    @property
    def real_aux(self) -> tuple:
        if self._real_out is None:
            self.real_out  # noqa: B018  (computes both)
        return self._real_aux

    def critic(self, x, labels=None):
        """D's adversarial output on ``x`` (with ``labels`` for a conditional D)."""
        return self._call_d(x, labels)[0]

    def run_d(self, x, labels=None) -> tuple:
        """``(adversarial output, auxiliary outputs)`` of D on ``x``."""
        return self._call_d(x, labels)

    def real_input_grad(self):
        """``(real, out)``: the real batch as a leaf that requires grad and D's output on it,
        with its graph (for R1). Reuses this step's D(real) when the step enabled the input
        gradient for a ``real_grad`` regulariser; otherwise runs D once more."""
        if self._real_grad and self.phase == "d":
            return self.real, self._real_out
        real = self.real.detach().requires_grad_(True)
        return real, self.critic(real, self.labels)


def _general_step(g_net, d_net, opt_g, opt_d, d_loss_fn, g_loss_fn, x, y, *, batch_size, k,
                  z_dim, rng, stats, fast, d_objective, g_objective, regularizers, after_d,
                  after_g, aux_outputs, num_classes):
    import torch

    dev = x.device
    n, bs = x.shape[0], batch_size
    conditional = y is not None
    g_params = [p for p in g_net.parameters() if p.requires_grad]
    autocast = fast.autocast(dev) if fast is not None else None
    amp = autocast if autocast is not None else nullcontext()
    mark_step = fast.step_marker() if fast is not None else None
    prep = fast.input_transform() if fast is not None else None
    upcast = autocast is not None
    foreach_norm = torch._foreach_norm
    if d_objective is None:
        def d_objective(ctx):
            return d_loss_fn(ctx.real_out, ctx.fake_out)
    if g_objective is None:
        def g_objective(ctx):
            return g_loss_fn(ctx.fake_out)
    d_regs = [r for r in regularizers if r.spec.phase == "d"]
    g_regs = [r for r in regularizers if r.spec.phase == "g"]
    all_every_one = all(r.every == 1 for r in d_regs)
    real_grad_always = all_every_one and any(r.spec.real_grad for r in d_regs)
    d_terms = [(r.spec.penalty, r.scale, dict(r.options), r.every, r.spec.real_grad)
               for r in d_regs]
    g_terms = [(r.spec.penalty, r.scale, dict(r.options), r.every) for r in g_regs]
    after_d, after_g = list(after_d), list(after_g)
    counter = [0]

    def split(out):
        if aux_outputs:
            out, *aux = out
            if upcast:
                return out.float(), tuple(a.float() for a in aux)
            return out, tuple(aux)
        return (out.float() if upcast else out), ()

    def call_d(inp, labels):
        return split(d_net(inp, labels) if conditional else d_net(inp))

    def step() -> None:
        g_step = counter[0]
        d_base = g_step * k
        ctx = None
        for i in range(k):
            d_step = d_base + i
            if mark_step is not None:
                mark_step()
            idx = torch.randint(n, (bs,), device=dev, generator=rng)
            real = x[idx]
            if prep is not None:
                real = prep(real)
            z = torch.randn(bs, z_dim, device=dev, generator=rng)
            yb = y[idx] if conditional else None
            if all_every_one:
                active = d_terms
                want_grad = real_grad_always
            else:
                active = [t for t in d_terms if d_step % t[3] == 0]
                want_grad = any(t[4] for t in active)
            if want_grad:
                real = real.detach().requires_grad_(True)
            with amp:
                with torch.no_grad():
                    fake = g_net(z, yb) if conditional else g_net(z)
                real_out, real_aux = call_d(real, yb)
                fake_out, fake_aux = call_d(fake, yb)
                ctx = StepContext("d", g_net, d_net, real, yb, fake, yb, real_out, real_aux,
                                  fake_out, fake_aux, g_step, d_step, rng, num_classes, call_d,
                                  want_grad)
                loss_d = d_objective(ctx)
                for penalty, scale, options, _, _ in active:
                    loss_d = loss_d + scale * penalty(ctx, **options)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            for hook in after_d:
                hook(ctx)
        if mark_step is not None:
            mark_step()
        z = torch.randn(bs, z_dim, device=dev, generator=rng)
        last_real = ctx.real.detach()
        with amp:
            if conditional:
                yg = y[torch.randint(n, (bs,), device=dev, generator=rng)]
                fake_g = g_net(z, yg)
            else:
                yg = None
                fake_g = g_net(z)
            out_g, aux_g = call_d(fake_g, yg)
            gctx = StepContext("g", g_net, d_net, last_real, ctx.labels, fake_g, yg, None, (),
                               out_g, aux_g, g_step, d_base + k, rng, num_classes, call_d)
            loss_g = g_objective(gctx)
            for penalty, scale, options, every in g_terms:
                if every == 1 or g_step % every == 0:
                    loss_g = loss_g + scale * penalty(gctx, **options)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        if stats is not None:
            grads = [p.grad for p in g_params if p.grad is not None]
            stats.add(loss_d.detach(), loss_g.detach(), ctx.real_out.detach(),
                      ctx.fake_out.detach(), foreach_norm(grads))
        opt_g.step()
        for hook in after_g:
            hook(gctx)
        counter[0] = g_step + 1

    step.counter = counter  # type: ignore[attr-defined]
    return step


def ema_hook(g_net, ema_net, decay: float) -> Callable[[Any], None]:
    """After each G step: ema ← decay·ema + (1 − decay)·G for every parameter (one fused
    for-each lerp), and G's buffers (BatchNorm statistics) copied."""
    import torch

    ema_params = list(ema_net.parameters())
    g_params = list(g_net.parameters())
    ema_bufs = list(ema_net.buffers())
    g_bufs = list(g_net.buffers())
    weight = 1.0 - decay

    def hook(ctx=None) -> None:
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, g_params, weight)
            for e, b in zip(ema_bufs, g_bufs):
                e.copy_(b)

    return hook
