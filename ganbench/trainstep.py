"""One training step (k D updates, one G update) and the per-step statistics it gathers.

The step is the runner's hot loop, so it is built once per run and keeps every cost off it
that can wait: batches are sampled on the device from device-resident tensors with a seeded
generator, and the statistics (losses, D(x), D(G(z)), generator gradient norm) are kept as
device tensors that are reduced only every ``FOLD_EVERY`` steps and read on the host only at
evaluation time: no host synchronisation per step.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, Optional

STAT_NAMES = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")
FOLD_EVERY = 64  # steps between reductions of the pending statistics (bounds memory)


class StepStats:
    """Interval means of the training statistics, gathered without host syncs.

    Each step hands over detached tensors (two scalar losses, the last D step's real and fake
    logits, the generator's per-parameter gradient norms); they are reduced in one batch every
    ``FOLD_EVERY`` steps into a float64 accumulator. ``means()`` (one host sync) gives the same
    numbers as a per-step float64 running sum of the per-step values.
    """

    def __init__(self, device: Any) -> None:
        import torch

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
        d_real = torch.sigmoid(torch.stack(rl)).flatten(1).mean(1).double()
        d_fake = torch.sigmoid(torch.stack(fl)).flatten(1).mean(1).double()
        norms = torch.stack([torch.stack(g) for g in gn]).double().square().sum(1).sqrt()
        per_step = torch.stack([torch.stack(ld).double(), torch.stack(lg).double(),
                                d_real, d_fake, norms])  # 5 x n
        assert per_step.shape == (len(STAT_NAMES), n)
        self.acc += per_step.sum(1)

    def means(self) -> dict[str, float]:
        """Means since the last ``reset()`` (empty when no step was taken). Syncs once."""
        if not self.steps:
            return {}
        self._fold()
        return dict(zip(STAT_NAMES, (self.acc / self.steps).tolist()))

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
) -> Callable[[], None]:
    """The training step closure: ``k`` D updates on fresh real/fake batches, one G update.

    ``y`` is None for unconditional models. ``fast`` (a ``ganbench.fastpath.FastPath``) adds
    autocast, channels_last inputs and CUDA-graph step marks; None is plain fp32.
    """
    import torch

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

    return step

