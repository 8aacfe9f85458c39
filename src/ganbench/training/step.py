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

from ganbench.api.specs import Latent, StateInit  # noqa: F401  (re-exported)

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
        self.d_steps = 0  # steps whose D outputs were computed (lazy outputs: maybe fewer)
        self._pending: list[tuple[Any, ...]] = []
        self.scalars: dict[str, list] = {}  # name -> [device sum, count] of logged scalars

    def add(self, loss_d, loss_g, real_logits, fake_logits, grad_norms) -> None:
        """One step's statistics; ``real_logits`` / ``fake_logits`` None when the step never
        computed D's outputs (an objective that ran D itself): D(x) averages the others."""
        self._pending.append((loss_d, loss_g, real_logits, fake_logits, grad_norms))
        self.steps += 1
        if len(self._pending) >= FOLD_EVERY:
            self._fold()

    def log(self, name: str, value) -> None:
        """Add a plugin's scalar (``StepContext.log``): its mean is reported by ``means()``."""
        torch = self._torch
        v = value.detach().double().reshape(()) if isinstance(value, torch.Tensor) \
            else torch.tensor(float(value), dtype=torch.float64, device=self.device)
        if name in self.scalars:
            self.scalars[name][0] += v
            self.scalars[name][1] += 1
        else:
            self.scalars[name] = [v.clone(), 1]

    def _fold(self) -> None:
        if not self._pending:
            return
        torch = self._torch
        ld, lg, rl, fl, gn = zip(*self._pending)
        self._pending = []
        # mean over a step's batch, per step, as float64 (every step has the same batch size)
        squash = torch.sigmoid if self.output == "logit" else (lambda t: t)
        norms = torch.stack([torch.stack(g) for g in gn]).double().square().sum(1).sqrt()
        have = [i for i, (r, f) in enumerate(zip(rl, fl)) if r is not None and f is not None]
        self.d_steps += len(have)
        if len(have) == len(ld):  # every step computed D's outputs (the usual case)
            d_real = squash(torch.stack(rl)).flatten(1).mean(1).double()
            d_fake = squash(torch.stack(fl)).flatten(1).mean(1).double()
        else:  # steps without them add nothing (their count is left out of the mean)
            zero = torch.zeros(len(ld), dtype=torch.float64, device=self.device)
            d_real, d_fake = zero.clone(), zero.clone()
            if have:
                for dst, outs in ((d_real, rl), (d_fake, fl)):
                    dst[have] = squash(torch.stack([outs[i] for i in have])).flatten(1) \
                        .mean(1).double()
        per_step = torch.stack([torch.stack(ld).double(), torch.stack(lg).double(),
                                d_real, d_fake, norms])  # 5 x n
        self.acc += per_step.sum(1)

    def means(self) -> dict[str, float]:
        """Means since the last ``reset()`` (empty when no step was taken), then the plugins'
        scalars. Syncs once."""
        if not self.steps:
            return {}
        self._fold()
        torch = self._torch
        counts = torch.tensor([self.steps, self.d_steps or 1, self.d_steps or 1, self.steps,
                               self.steps], dtype=torch.float64, device=self.device)
        out = dict(zip(self.names, (self.acc / counts).tolist()))
        if not self.d_steps:
            del out[self.names[2]], out[self.names[3]]
        if self.scalars:
            means = torch.stack([v / n for v, n in self.scalars.values()]).tolist()
            out.update(zip(self.scalars, means))
        return out

    def scalar_names(self) -> list[str]:
        return list(self.scalars)

    def reset(self) -> None:
        self.acc.zero_()
        self.steps = self.d_steps = 0
        self._pending = []
        self.scalars = {}


def normal_latent(z_dim: int):
    """The default sampler: z ~ N(0, I) of width ``z_dim``, no codes (one ``torch.randn``)."""
    import torch

    def sample(n: int, rng, device) -> Latent:
        z = torch.randn(n, z_dim, device=device, generator=rng)
        return Latent(z, z, {})

    return sample


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
    loss_options: Optional[dict] = None,
    loss_state: Any = None,
    augment: Optional[Callable] = None,
    sampler: Optional[Callable] = None,
    reg_states: Optional[dict] = None,
) -> Callable[[], None]:
    """The training step closure: ``k`` D updates on fresh real/fake batches, one G update.

    ``y`` is None for unconditional models. ``fast`` (a ``ganbench.training.fastpath.FastPath``) adds
    autocast, channels_last inputs and CUDA-graph step marks; None is plain fp32.

    The plugin surface (any of these selects the general step): ``d_objective`` /
    ``g_objective`` (functions of a ``StepContext``, replacing ``d_loss_fn`` / ``g_loss_fn``),
    ``loss_options`` (keyword arguments of the loss functions) and ``loss_state`` (the loss's
    per-run state, ``ctx.state``), ``regularizers`` (``ganbench.planning.terms.RegTerm``;
    ``reg_states`` maps a regulariser's name to its per-run state),
    hooks ``after_d`` / ``after_g`` (functions of the ``StepContext``, called after each D / G
    optimiser step), ``aux_outputs`` (D returns ``(out, aux, ...)``), ``augment`` (a transform
    of D's inputs, ``aug(x, rng)``) and ``sampler`` (G's input, ``sampler(n, rng, device) ->
    Latent``).

    The closure's ``counter`` (a one-element list) holds the number of G steps taken (a resumed
    run sets it, so lazy regularisers keep their phase), ``progress`` (a one-element list) the
    fraction of the budget used, which the runner updates, and ``states`` maps names to the
    per-run state objects of the step's terms (saved in checkpoints).
    """
    general = (d_objective is not None or g_objective is not None or regularizers or after_d
               or after_g or aux_outputs or loss_options or loss_state is not None
               or augment is not None or sampler is not None or reg_states)
    if not general:
        return _plain_step(g_net, d_net, opt_g, opt_d, d_loss_fn, g_loss_fn, x, y,
                           batch_size=batch_size, k=k, z_dim=z_dim, rng=rng, stats=stats,
                           fast=fast)
    return _GeneralStep(
        g_net, d_net, opt_g, opt_d, x, y, batch_size=batch_size, k=k, rng=rng, stats=stats,
        fast=fast, d_objective=_objective("d", d_objective, d_loss_fn, loss_options),
        g_objective=_objective("g", g_objective, g_loss_fn, loss_options),
        regularizers=regularizers, after_d=after_d, after_g=after_g, aux_outputs=aux_outputs,
        num_classes=num_classes, loss_state=loss_state, augment=augment,
        sampler=sampler or normal_latent(z_dim), reg_states=reg_states or {}).closure()


class _Exec:
    """How the step executes on its device (``fast``: autocast, CUDA-graph marks, NHWC)."""

    def __init__(self, fast, dev) -> None:
        autocast = fast.autocast(dev) if fast is not None else None
        self.amp = autocast if autocast is not None else nullcontext()  # re-enterable
        self.mark_step = fast.step_marker() if fast is not None else None
        self.prep = fast.input_transform() if fast is not None else None
        self.upcast = autocast is not None  # losses in fp32 under reduced precision

    def mark(self) -> None:
        if self.mark_step is not None:
            self.mark_step()


def _plain_step(g_net, d_net, opt_g, opt_d, d_loss_fn, g_loss_fn, x, y, *, batch_size, k,
                z_dim, rng, stats, fast):
    """The GAN loop of a short-form loss with nothing else (the built-in variants' step)."""
    import torch

    dev, n, bs = x.device, x.shape[0], batch_size
    conditional = y is not None
    g_params = [p for p in g_net.parameters() if p.requires_grad]
    ex = _Exec(fast, dev)
    amp, prep, upcast = ex.amp, ex.prep, ex.upcast
    foreach_norm = torch._foreach_norm

    def step() -> None:
        for _ in range(k):
            ex.mark()
            idx = torch.randint(n, (bs,), device=dev, generator=rng)
            real = x[idx] if prep is None else prep(x[idx])
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
        ex.mark()
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
    step.progress = [0.0]  # type: ignore[attr-defined]
    step.states = {}  # type: ignore[attr-defined]
    return step


def _objective(phase: str, objective, short, options):
    """The context objective of ``phase``: the loss's own, or its short form on D's outputs;
    with the loss's options as keyword arguments."""
    options = dict(options or {})
    if objective is not None:
        return (lambda ctx: objective(ctx, **options)) if options else objective
    if phase == "d":
        return lambda ctx: short(ctx.real_out, ctx.fake_out, **options)
    return lambda ctx: short(ctx.fake_out, **options)


class StepContext:
    """What an objective, a regulariser, a step hook or an augmentation's ``observe`` sees of
    one D or G step.

    ``phase`` is ``"d"`` or ``"g"``. ``g`` and ``d`` are the networks; ``real`` the real batch
    as D sees it (augmented when the run has an augmentation) and ``labels`` its labels (None
    when unconditional); ``fake`` the generated batch as D sees it (no gradient in the D phase,
    G's graph in the G phase) and ``fake_labels`` the labels it was generated for; ``z`` and
    ``codes`` the latent it was generated from (``codes``: a dict, empty unless the run's latent
    sampler draws codes).

    ``real_out`` / ``fake_out`` are D's adversarial outputs on ``real`` / ``fake``, computed
    lazily, once, on first read (an objective that runs D itself never pays for them; in the
    G phase ``real_out`` is D's on the last D step's real batch, without gradient);
    ``real_aux`` / ``fake_aux`` D's auxiliary outputs (a tuple, empty unless the model has
    ``aux_outputs``). ``run_d(x, labels)`` runs D on any batch and returns ``(out, aux)``;
    ``critic(x, labels)`` only ``out``.

    ``g_step`` counts the G steps before this one (``step`` is the same number), ``d_step`` the
    D steps; ``progress`` is the fraction of the run's budget used before this step (0 to 1);
    ``rng`` is the run's seeded generator on the training device (use it for any randomness, so
    runs stay deterministic); ``num_classes`` the data's classes; ``state`` the per-run state
    of the loss or regulariser being called (None when it declared none). ``log(name, value)``
    adds a scalar to the run's rows (its mean over the steps logged since the last evaluation).
    """

    __slots__ = ("phase", "g", "d", "real", "labels", "fake", "fake_labels", "z", "codes",
                 "g_step", "d_step", "progress", "rng", "num_classes", "state", "_real_out",
                 "_real_aux", "_fake_out", "_fake_aux", "_call_d", "_real_grad", "_stats")

    def __init__(self, phase, g, d, real, labels, fake, fake_labels, real_out=None,
                 real_aux=(), fake_out=None, fake_aux=(), step=0, d_step=0, rng=None,
                 num_classes=0, call_d=None, real_grad=False, *, z=None, codes=None,
                 progress=0.0, stats=None):
        self.phase, self.g, self.d = phase, g, d
        self.real, self.labels, self.fake, self.fake_labels = real, labels, fake, fake_labels
        self.z, self.codes = z, codes if codes is not None else {}
        self.g_step, self.d_step, self.progress = step, d_step, progress
        self.rng, self.num_classes, self.state = rng, num_classes, None
        self._real_out, self._real_aux = real_out, real_aux
        self._fake_out, self._fake_aux = fake_out, fake_aux
        self._call_d, self._real_grad, self._stats = call_d, real_grad, stats

    @property
    def step(self) -> int:
        """The G steps before this one (``g_step``; the older name)."""
        return self.g_step

    @property
    def real_out(self):
        if self._real_out is None:
            if self.phase == "g":  # the last D step's real batch: no gradient needed
                import torch

                with torch.no_grad():
                    self._real_out, self._real_aux = self._call_d(self.real, self.labels)
            else:
                self._real_out, self._real_aux = self._call_d(self.real, self.labels)
        return self._real_out

    @property
    def real_aux(self) -> tuple:
        if self._real_out is None:
            self.real_out  # noqa: B018  (computes both)
        return self._real_aux

    @property
    def fake_out(self):
        if self._fake_out is None:
            self._fake_out, self._fake_aux = self._call_d(self.fake, self.fake_labels)
        return self._fake_out

    @property
    def fake_aux(self) -> tuple:
        if self._fake_out is None:
            self.fake_out  # noqa: B018
        return self._fake_aux

    def computed_outputs(self) -> tuple:
        """``(real_out, fake_out)`` as far as something read them (None: not computed)."""
        return self._real_out, self._fake_out

    def critic(self, x, labels=None):
        """D's adversarial output on ``x`` (with ``labels`` for a conditional D)."""
        return self._call_d(x, labels)[0]

    def run_d(self, x, labels=None) -> tuple:
        """``(adversarial output, auxiliary outputs)`` of D on ``x`` (``labels`` for a
        conditional D), with gradient: for objectives that need D on batches of their own
        (consistency regularisation, self-supervised heads), as the step runs it (autocast,
        auxiliary outputs split off)."""
        return self._call_d(x, labels)

    def real_with_input_grad(self):
        """``(real, out)``: the real batch as a leaf that requires grad and D's output on it,
        with its graph (for R1). Reuses this step's D(real) when the step enabled the input
        gradient for a ``real_grad`` regulariser; otherwise runs D once more."""
        if self._real_grad and self.phase == "d":
            return self.real, self.real_out
        real = self.real.detach().requires_grad_(True)
        return real, self.critic(real, self.labels)

    def real_input_grad(self):
        """Deprecated alias of :meth:`real_with_input_grad` (removed in the next release)."""
        import warnings

        warnings.warn("StepContext.real_input_grad() is deprecated: use "
                      "real_with_input_grad()", DeprecationWarning, stacklevel=2)
        return self.real_with_input_grad()

    def log(self, name: str, value) -> None:
        """Report a scalar (a number or a one-element tensor; no host sync) in the run's rows:
        its mean over the steps it was logged in since the last evaluation, as metric
        ``name`` (prefix it with your plugin's name, e.g. ``lecam_ema_real``)."""
        if self._stats is not None:
            self._stats.log(name, value)


class _GeneralStep:
    """The step with the plugin surface (see ``build_step``); ``closure()`` is the step."""

    def __init__(self, g_net, d_net, opt_g, opt_d, x, y, *, batch_size, k, rng, stats, fast,
                 d_objective, g_objective, regularizers, after_d, after_g, aux_outputs,
                 num_classes, loss_state, augment, sampler, reg_states):
        self.g, self.d, self.opt_g, self.opt_d = g_net, d_net, opt_g, opt_d
        self.x, self.y, self.bs, self.k, self.rng = x, y, batch_size, k, rng
        self.stats, self.ex, self.num_classes = stats, _Exec(fast, x.device), num_classes
        self.d_objective, self.g_objective = d_objective, g_objective
        self.after_d, self.after_g, self.aux = list(after_d), list(after_g), aux_outputs
        self.loss_state, self.augment, self.sampler = loss_state, augment, sampler
        self.g_params = [p for p in g_net.parameters() if p.requires_grad]
        self._terms(regularizers, reg_states)
        self.observe = getattr(augment, "observe", None)
        self.counter, self.progress = [0], [0.0]

    def _terms(self, regularizers, states) -> None:
        """Regulariser terms as tuples (penalty, scale, options, every, real_grad, state), and
        the per-run states by name (``states``: what a checkpoint saves)."""
        self.states = {f"reg.{n}": s for n, s in states.items()}
        if self.loss_state is not None:
            self.states["loss"] = self.loss_state
        if self.augment is not None and hasattr(self.augment, "state_dict"):
            self.states["augment"] = self.augment
        for i, hook in enumerate(self.after_d + self.after_g):
            if hasattr(hook, "state_dict") and hasattr(hook, "load_state_dict"):
                self.states[f"hook.{i}"] = hook
        terms = {"d": [], "g": []}
        for r in regularizers:
            terms[r.spec.phase].append((r.spec.penalty, r.scale, dict(r.options), r.every,
                                        r.spec.real_grad, states.get(r.spec.name)))
        self.d_terms, self.g_terms = terms["d"], terms["g"]
        self.all_every_one = all(t[3] == 1 for t in self.d_terms)
        self.real_grad_always = self.all_every_one and any(t[4] for t in self.d_terms)

    def closure(self) -> Callable[[], None]:
        def step() -> None:
            self.run()

        step.counter, step.progress, step.states = self.counter, self.progress, self.states
        return step

    def call_d(self, inp, labels):
        out = self.d(inp, labels) if self.y is not None else self.d(inp)
        if self.aux:
            out, *aux = out
            if self.ex.upcast:
                return out.float(), tuple(a.float() for a in aux)
            return out, tuple(aux)
        return (out.float() if self.ex.upcast else out), ()

    def run(self) -> None:
        g_step = self.counter[0]
        ctx = None
        for i in range(self.k):
            ctx, loss_d = self.d_update(g_step, g_step * self.k + i)
        gctx, loss_g = self.g_backward(g_step, ctx)
        if self.stats is not None:
            self.record(loss_d, loss_g, ctx)
        self.opt_g.step()
        for hook in self.after_g:
            hook(gctx)
        self.counter[0] = g_step + 1

    def _latent(self, n):
        return self.sampler(n, self.rng, self.x.device)

    def d_update(self, g_step: int, d_step: int):
        """One D step: a fresh real and fake batch (augmented), D's loss and regularisers."""
        import torch

        ex, x, rng = self.ex, self.x, self.rng
        ex.mark()
        idx = torch.randint(x.shape[0], (self.bs,), device=x.device, generator=rng)
        real = x[idx] if ex.prep is None else ex.prep(x[idx])
        lat = self._latent(self.bs)
        yb = self.y[idx] if self.y is not None else None
        if self.all_every_one:
            active, want_grad = self.d_terms, self.real_grad_always
        else:
            active = [t for t in self.d_terms if d_step % t[3] == 0]
            want_grad = any(t[4] for t in active)
        with ex.amp:
            with torch.no_grad():
                fake = self.g(lat.input, yb) if yb is not None else self.g(lat.input)
                if self.augment is not None:
                    real, fake = self.augment(real, rng), self.augment(fake, rng)
            if want_grad:
                real = real.detach().requires_grad_(True)
            ctx = StepContext("d", self.g, self.d, real, yb, fake, yb, step=g_step,
                              d_step=d_step, rng=rng, num_classes=self.num_classes,
                              call_d=self.call_d, real_grad=want_grad, z=lat.z,
                              codes=lat.codes, progress=self.progress[0], stats=self.stats)
            loss_d = self._loss(ctx, self.d_objective, self.loss_state, active)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        if self.observe is not None:
            self.observe(ctx)
        for hook in self.after_d:
            hook(ctx)
        return ctx, loss_d

    @staticmethod
    def _loss(ctx, objective, loss_state, terms):
        ctx.state = loss_state
        loss = objective(ctx)
        for penalty, scale, options, _, _, state in terms:
            ctx.state = state
            loss = loss + scale * penalty(ctx, **options)
        ctx.state = None
        return loss

    def g_backward(self, g_step: int, ctx):
        """G's loss (and G-phase regularisers) on a fresh fake batch, and its backward."""
        import torch

        ex, rng = self.ex, self.rng
        ex.mark()
        lat = self._latent(self.bs)
        with ex.amp:
            if self.y is not None:
                yg = self.y[torch.randint(self.x.shape[0], (self.bs,), device=self.x.device,
                                          generator=rng)]
                fake = self.g(lat.input, yg)
            else:
                yg, fake = None, self.g(lat.input)
            if self.augment is not None:
                fake = self.augment(fake, rng)
            gctx = StepContext("g", self.g, self.d, ctx.real.detach(), ctx.labels, fake, yg,
                               step=g_step, d_step=g_step * self.k + self.k, rng=rng,
                               num_classes=self.num_classes, call_d=self.call_d, z=lat.z,
                               codes=lat.codes, progress=self.progress[0], stats=self.stats)
            active = [t for t in self.g_terms if t[3] == 1 or g_step % t[3] == 0]
            loss_g = self._loss(gctx, self.g_objective, self.loss_state, active)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        return gctx, loss_g

    def record(self, loss_d, loss_g, ctx) -> None:
        """The step's statistics: losses, D's outputs of the last D step where something
        computed them, G's gradient norm."""
        import torch

        real_out, fake_out = ctx.computed_outputs()
        grads = [p.grad for p in self.g_params if p.grad is not None]
        self.stats.add(loss_d.detach(), loss_g.detach(),
                       real_out.detach() if real_out is not None else None,
                       fake_out.detach() if fake_out is not None else None,
                       torch._foreach_norm(grads))


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
