"""A third-party plugin written against ganbench's public API only: LeCam, InfoGAN, DiffAugment
and Top-k GAN, as a plugin author would write them from docs/plugin-api.md. The test suite
installs it with an entry point (``lit``) and loads it with ``GANBENCH_LOAD_PLUGINS=lit``; it
imports nothing from ganbench but ``hookimpl`` and the specs, and needs no hack.

* regulariser ``lit-lecam`` (Tseng et al. 2021): moving averages of D's outputs kept in
  per-run state (``state=``), logged with ``ctx.log``;
* augmentation ``lit-diffaug`` (Zhao et al. 2020): translation and cutout of D's inputs;
* latent sampler ``lit-codes`` and regulariser ``lit-info`` (Chen et al. 2016): a categorical
  code beside z, Q in per-run state;
* loss ``lit-topk`` (Sinha et al. 2020, Top-k Training of GANs): G's loss on the fraction of
  the fakes D rates best, that fraction annealed from 1 to option ``k`` over the budget
  (``ctx.progress``).
"""

import math

from ganbench import hookimpl
from ganbench.api.specs import (AugmentSpec, Hyperparams, Latent, LatentSamplerSpec, LossSpec,
                                RegularizerSpec, VariantSpec)


# ------------------------------------------------------------------------------- LeCam

class Averages:
    def __init__(self, init):
        import torch

        self.t = torch.zeros(3, device=init.device)  # a_R, a_F, steps

    def state_dict(self):
        return {"t": self.t.clone()}

    def load_state_dict(self, state):
        self.t.copy_(state["t"])


def lecam(ctx, decay=0.99):
    import torch

    t = ctx.state.t
    now = torch.stack([ctx.real_out.detach().mean(), ctx.fake_out.detach().mean()])
    t[:2] = torch.where(t[2] == 0, now, decay * t[:2] + (1 - decay) * now)
    t[2] += 1
    ctx.log("lit_lecam_real", t[0])
    return (ctx.real_out - t[1]).square().mean() + (ctx.fake_out - t[0]).square().mean()


# ------------------------------------------------------------------------------ DiffAugment

def build_diffaug(data_spec, policy="translation,cutout"):
    import torch

    parts = policy.split(",")

    def aug(x, rng):
        n, _, h, w = x.shape
        if "translation" in parts:  # shift by up to h/8, zero filled (pad, then crop)
            s = max(1, h // 8)
            pad = torch.nn.functional.pad(x, (s, s, s, s))
            dy = torch.randint(0, 2 * s + 1, (n,), device=x.device, generator=rng)
            dx = torch.randint(0, 2 * s + 1, (n,), device=x.device, generator=rng)
            rows = (dy.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
            cols = (dx.view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w)
            x = pad.gather(2, rows.expand(n, x.shape[1], h, w + 2 * s)) \
                .gather(3, cols.expand(n, x.shape[1], h, w))
        if "cutout" in parts:  # a zeroed square of half the side
            size = h // 2
            cy = torch.randint(0, h - size + 1, (n, 1, 1), device=x.device, generator=rng)
            cx = torch.randint(0, w - size + 1, (n, 1, 1), device=x.device, generator=rng)
            r = torch.arange(h, device=x.device).view(1, h, 1)
            c = torch.arange(w, device=x.device).view(1, 1, w)
            keep = ~((r >= cy) & (r < cy + size) & (c >= cx) & (c < cx + size))
            x = x * keep.unsqueeze(1).to(x.dtype)
        return x

    return aug


# ---------------------------------------------------------------------------------- InfoGAN

class Codes:
    def __init__(self, z_dim, cat):
        self.z_dim, self.cat = z_dim, int(cat)

    def __call__(self, n, rng, device):
        import torch

        z = torch.randn(n, self.z_dim - self.cat, device=device, generator=rng)
        c = torch.randint(self.cat, (n,), device=device, generator=rng)
        onehot = torch.nn.functional.one_hot(c, self.cat).to(z.dtype)
        return Latent(torch.cat([z, onehot], 1), z, {"cat": c})


class QHead:
    def __init__(self, init):
        import torch

        dim = math.prod(init.data_spec.shape)
        self.q = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(dim, 64),
                                     torch.nn.ReLU(), torch.nn.Linear(64, init.sampler.cat))
        self.q.to(init.device)
        self.opt = torch.optim.Adam(self.q.parameters(), lr=1e-3)

    def state_dict(self):
        return {"q": self.q.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state):
        self.q.load_state_dict(state["q"])
        self.opt.load_state_dict(state["opt"])


def info(ctx):
    import torch.nn.functional as F

    q, c = ctx.state.q, ctx.codes["cat"]
    loss_q = F.cross_entropy(q(ctx.fake.detach()), c)  # Q's own update
    ctx.state.opt.zero_grad()
    loss_q.backward()
    ctx.state.opt.step()
    for p in q.parameters():
        p.requires_grad_(False)
    try:
        loss_g = F.cross_entropy(q(ctx.fake), c)  # G's term through Q, Q held fixed
    finally:
        for p in q.parameters():
            p.requires_grad_(True)
    ctx.log("lit_info_mi", math.log(q[-1].out_features) - loss_q.detach())
    return loss_g


# -------------------------------------------------------------------------------- Top-k GAN

def topk_d(ctx, k=0.5):
    import torch.nn.functional as F

    return F.softplus(-ctx.real_out).mean() + F.softplus(ctx.fake_out).mean()


def topk_g(ctx, k=0.5):
    import torch.nn.functional as F

    frac = 1.0 - ctx.progress * (1.0 - k)  # anneal 1 -> k over the budget
    n = max(1, int(math.ceil(frac * ctx.fake_out.shape[0])))
    ctx.log("lit_topk_frac", frac)
    return F.softplus(-ctx.fake_out.topk(n).values).mean()


@hookimpl
def ganbench_register_regularizers(register):
    register(RegularizerSpec("lit-lecam", lecam, "LeCam (plugin)", weight=0.3,
                             options={"decay": 0.99}, state=Averages))
    register(RegularizerSpec("lit-info", info, "InfoGAN's L_I (plugin)", phase="g",
                             state=QHead))


@hookimpl
def ganbench_register_augmentations(register):
    register(AugmentSpec("lit-diffaug", build_diffaug, "translation and cutout (plugin)",
                         options={"policy": "translation,cutout"}))


@hookimpl
def ganbench_register_latent_samplers(register):
    register(LatentSamplerSpec("lit-codes", lambda z_dim, spec, cat=4: Codes(z_dim, cat),
                               "z and a categorical code (plugin)", options={"cat": 4}))


@hookimpl
def ganbench_register_losses(register):
    register(LossSpec("lit-topk", d_objective=topk_d, g_objective=topk_g,
                      description="Top-k GAN (plugin)", options={"k": 0.5}))


@hookimpl
def ganbench_register_variants(register):
    register(VariantSpec("lit-all", "mlp", "lit-topk", "LeCam + InfoGAN + Top-k on an MLP",
                         Hyperparams(lr_g=1e-3, lr_d=1e-3, batch_size=64, z_dim=12),
                         regularizers=("lit-lecam:0.3", "lit-info:1"),
                         latent="lit-codes:cat=4"))
    register(VariantSpec("lit-diffaug", "dcgan", "non-saturating", "DCGAN + DiffAugment",
                         Hyperparams(batch_size=8, z_dim=16), augment="lit-diffaug"))
