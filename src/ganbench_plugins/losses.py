"""Built-in GAN objectives, regularisers and step hooks.

Objectives on discriminator logits ``l`` (D(x) = sigmoid(l)):

With ``log D = -softplus(-l)`` and ``log(1 - D) = -softplus(l)``:

* discriminator (both losses): maximise ``E log D(x) + E log(1 - D(G(z)))``, i.e. minimise
  ``E softplus(-l_real) + E softplus(l_fake)``;
* ``minimax`` generator (Goodfellow et al. 2014, the saturating loss): minimise
  ``E log(1 - D(G(z))) = E -softplus(l_fake)``. Its gradient with respect to the logit is
  ``-sigmoid(l)``, which vanishes when D confidently rejects the fakes;
* ``non-saturating`` generator: maximise ``E log D(G(z))``, i.e. minimise
  ``E softplus(-l_fake)``; gradient ``sigmoid(l) - 1``, close to -1 when D rejects the fakes.
* ``ragan`` (Jolicoeur-Martineau 2018, relativistic average): D minimises
  ``E softplus(-(l_r - E l_f)) + E softplus(l_f - E l_r)``, G the same with real and fake
  swapped (so G's loss reads D's outputs on the real batch too);
* ``acgan`` (Odena et al. 2017): the non-saturating game on the adversarial logit plus the
  cross-entropy of D's auxiliary class logits, on real and fake for D, on fake for G.

On raw critic outputs ``c`` (statistics report mean raw outputs, ``d_real_raw``):
``lsgan`` (Mao et al. 2017), ``hinge`` (Lim & Ye 2017: D ``E relu(1 - c_r) + E relu(1 + c_f)``,
G ``-E c_f``) and ``wasserstein`` (Arjovsky et al. 2017: D ``E c_f - E c_r``, G ``-E c_f``).

Regularisers (``--reg NAME[:WEIGHT][:every=N]``): ``gp`` (Gulrajani et al. 2017,
``E (||grad_x D(x_hat)|| - 1)^2`` at random interpolates of real and fake), ``r1`` (Mescheder et
al. 2018, ``1/2 E ||grad_x D(x)||^2`` on real data; the weight is gamma), ``dragan`` (Kodali
et al. 2017, the gradient penalty of D's logit at perturbed real data) and ``dragan-sigmoid``
(the same penalty as compare_gan computes it for Lucic et al. 2018: the gradient of D's sigmoid
output, with 1e-4 inside the norm). Step hook: ``clip`` (WGAN weight
clipping of every critic parameter to [-c, c] after each D step).

``lecam`` (Tseng et al. 2021: D's outputs pulled towards moving averages of each other, the
averages in the regulariser's per-run state) and ``cr`` (Zhang et al. 2020, consistency
regularisation). This module also registers the augmentations of D's inputs
(``ganbench_plugins.augmentations``: ``diffaugment``, ``ada``) and InfoGAN's latent sampler and
regulariser (``ganbench_plugins.infogan``).
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.api.specs import LossSpec, RegularizerSpec, StepHookSpec


def d_loss(real_logits, fake_logits):
    import torch.nn.functional as F

    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g_loss(fake_logits):
    import torch.nn.functional as F

    return -F.softplus(fake_logits).mean()


def non_saturating_g_loss(fake_logits):
    import torch.nn.functional as F

    return F.softplus(-fake_logits).mean()


MINIMAX = LossSpec(
    name="minimax",
    d_loss=d_loss,
    g_loss=minimax_g_loss,
    description="Goodfellow et al. 2014 saturating game: G minimises E log(1 - D(G(z)))",
)
NON_SATURATING = LossSpec(
    name="non-saturating",
    d_loss=d_loss,
    g_loss=non_saturating_g_loss,
    description="same game, G maximises E log D(G(z)) (strong gradients early in training)",
)


def lsgan_d_loss(real_out, fake_out):
    """Mao et al. 2017, eq. 9 with a = 0, b = c = 1: ½E(D(x) - 1)² + ½E D(G(z))²."""
    return 0.5 * (real_out - 1).square().mean() + 0.5 * fake_out.square().mean()


def lsgan_g_loss(fake_out):
    """½E(D(G(z)) - 1)²."""
    return 0.5 * (fake_out - 1).square().mean()


LSGAN = LossSpec(
    name="lsgan",
    d_loss=lsgan_d_loss,
    g_loss=lsgan_g_loss,
    description="least squares (Mao et al. 2017, a=0, b=c=1) on D's raw output",
    output="raw",
)


def hinge_d_loss(real_out, fake_out):
    """Lim & Ye 2017; Miyato et al. 2018: E relu(1 - D(x)) + E relu(1 + D(G(z)))."""
    import torch.nn.functional as F

    return F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()


def critic_g_loss(fake_out):
    """-E D(G(z)): G's loss of the hinge and Wasserstein games."""
    return -fake_out.mean()


def wasserstein_d_loss(real_out, fake_out):
    """Arjovsky et al. 2017: the critic maximises E D(x) - E D(G(z))."""
    return fake_out.mean() - real_out.mean()


HINGE = LossSpec("hinge", d_loss=hinge_d_loss, g_loss=critic_g_loss,
                 description="hinge loss (Lim & Ye 2017; Miyato et al. 2018) on D's raw output",
                 output="raw")
WASSERSTEIN = LossSpec("wasserstein", d_loss=wasserstein_d_loss, g_loss=critic_g_loss,
                       description="Wasserstein critic (Arjovsky et al. 2017): D maximises "
                                   "E D(x) - E D(G(z)); pair it with clipping or a penalty",
                       output="raw")


def ragan_d(ctx):
    """Relativistic average D loss: -E log sig(r - E f) - E log(1 - sig(f - E r))."""
    import torch.nn.functional as F

    r, f = ctx.real_out, ctx.fake_out
    return F.softplus(-(r - f.mean())).mean() + F.softplus(f - r.mean()).mean()


def ragan_g(ctx):
    """Relativistic average G loss: -E log sig(f - E r) - E log(1 - sig(r - E f)); the real
    outputs are D's on the last D step's real batch (no gradient: they do not depend on G)."""
    import torch.nn.functional as F

    r, f = ctx.real_out, ctx.fake_out
    return F.softplus(-(f - r.mean())).mean() + F.softplus(r - f.mean()).mean()


RAGAN = LossSpec("ragan", d_objective=ragan_d, g_objective=ragan_g,
                 description="relativistic average standard GAN (Jolicoeur-Martineau 2018)")


def _class_logits(ctx, which: str):
    aux = ctx.real_aux if which == "real" else ctx.fake_aux
    if not aux:
        from ganbench.api.errors import UsageError

        raise UsageError("loss 'acgan' needs a model whose D returns class logits "
                         "(aux_outputs, e.g. acdcgan)")
    return aux[0]


def acgan_d(ctx):
    """Odena et al. 2017: D maximises L_S + L_C (source and class log-likelihoods)."""
    import torch.nn.functional as F

    adv = F.softplus(-ctx.real_out).mean() + F.softplus(ctx.fake_out).mean()
    cls = F.cross_entropy(_class_logits(ctx, "real"), ctx.labels) + \
        F.cross_entropy(_class_logits(ctx, "fake"), ctx.fake_labels)
    return adv + cls


def acgan_g(ctx):
    """G maximises L_C - L_S; non-saturating form: E softplus(-l_fake) + CE(fake classes)."""
    import torch.nn.functional as F

    return F.softplus(-ctx.fake_out).mean() + F.cross_entropy(_class_logits(ctx, "fake"),
                                                             ctx.fake_labels)


ACGAN = LossSpec("acgan", d_objective=acgan_d, g_objective=acgan_g,
                 description="AC-GAN (Odena et al. 2017): non-saturating game plus the "
                             "cross-entropy of D's auxiliary class logits")


# ------------------------------------------------------------------------- regularisers

def _input_grad(out, inp):
    import torch

    (grad,) = torch.autograd.grad(out.sum(), inp, create_graph=True)
    return grad.flatten(1)


def _per_sample(x, rng):
    import torch

    return torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype,
                      generator=rng)


def gradient_penalty(ctx, center: float = 1.0):
    """Gulrajani et al. 2017: E (||grad D(x_hat)||_2 - center)^2, x_hat = e x + (1 - e) G(z),
    e ~ U[0, 1] per sample."""
    real, fake = ctx.real.detach(), ctx.fake.detach()
    eps = _per_sample(real, ctx.rng)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    g = _input_grad(ctx.critic(x_hat, ctx.labels), x_hat)
    return (g.norm(dim=1) - center).square().mean()


def r1_penalty(ctx):
    """Mescheder et al. 2018: 1/2 E ||grad_x D(x)||^2 on real data (times gamma = the weight)."""
    real, out = ctx.real_with_input_grad()
    return 0.5 * _input_grad(out, real).square().sum(1).mean()


def _dragan_interpolates(ctx, c: float):
    """x_hat = x + a (x_p - x), x_p = x + c std(x) u, u ~ U[0, 1) elementwise, a ~ U[0, 1] per
    sample (Kodali et al. 2017; compare_gan's ``get_perturbed_batch`` draws the same)."""
    import torch

    real = ctx.real.detach()
    noise = torch.rand(real.shape, device=real.device, dtype=real.dtype, generator=ctx.rng)
    perturbed = real + c * real.std() * noise
    a = _per_sample(real, ctx.rng)
    return (real + a * (perturbed - real)).requires_grad_(True)


def dragan_penalty(ctx, c: float = 0.5):
    """Kodali et al. 2017: E (||grad_x D(x_hat)||_2 - 1)^2 of D's logit at the DRAGAN
    interpolates (see ``_dragan_interpolates``)."""
    x_hat = _dragan_interpolates(ctx, c)
    g = _input_grad(ctx.critic(x_hat, ctx.labels), x_hat)
    return (g.norm(dim=1) - 1).square().mean()


def dragan_sigmoid_penalty(ctx, c: float = 0.5, eps: float = 1e-4):
    """DRAGAN as compare_gan computes it (``compare_gan/src/gans/DRAGAN.py``, the code of Lucic
    et al. 2018): the gradient of D's *sigmoid output* sigma(l), not of the logit l, with ``eps``
    inside the norm: E (sqrt(eps + ||grad_x sigma(D(x_hat))||^2) - 1)^2. Since
    grad sigma(l) = sigma(l) (1 - sigma(l)) grad l <= grad l / 4, this penalty pulls D's logit
    slope towards 4 or more where D is unsure, and much further where it is confident."""
    import torch

    x_hat = _dragan_interpolates(ctx, c)
    g = _input_grad(torch.sigmoid(ctx.critic(x_hat, ctx.labels)), x_hat)
    return (torch.sqrt(eps + g.square().sum(1)) - 1).square().mean()


class EmaOutputs:
    """LeCam's per-run state: moving averages of D's mean output on real and on fake data
    (device tensors; the first update sets them)."""

    def __init__(self, init) -> None:
        import torch

        self.real = torch.zeros((), device=init.device)
        self.fake = torch.zeros((), device=init.device)
        self.count = torch.zeros((), dtype=torch.int64, device=init.device)

    def update(self, real_mean, fake_mean, decay: float) -> None:
        import torch

        first = self.count == 0
        self.real.copy_(torch.where(first, real_mean, decay * self.real + (1 - decay) * real_mean))
        self.fake.copy_(torch.where(first, fake_mean, decay * self.fake + (1 - decay) * fake_mean))
        self.count += 1

    def state_dict(self) -> dict:
        return {"real": self.real.clone(), "fake": self.fake.clone(), "count": self.count.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.real.copy_(state["real"])
        self.fake.copy_(state["fake"])
        self.count.copy_(state["count"])


def lecam_penalty(ctx, decay: float = 0.99):
    """Tseng et al. 2021, eq. 3: E (D(x) - a_F)^2 + E (D(G(z)) - a_R)^2, with a_R, a_F the
    moving averages (``decay``) of D's mean output on real and fake data, updated with this
    step's outputs first. Logs them as ``lecam_ema_real`` / ``lecam_ema_fake``."""
    st = ctx.state
    real, fake = ctx.real_out, ctx.fake_out
    st.update(real.detach().float().mean(), fake.detach().float().mean(), decay)
    ctx.log("lecam_ema_real", st.real)
    ctx.log("lecam_ema_fake", st.fake)
    return (real - st.fake).square().mean() + (fake - st.real).square().mean()


def _cr_transform(x, rng, shift: float, flip: float):
    """CR's T for images: a horizontal flip with probability ``flip`` and an integer
    translation of up to ``shift`` x the side (zero filled), per sample. On points: x
    plus N(0, shift^2) noise."""
    import torch

    from ganbench_plugins.augmentations import translate

    if x.dim() != 4:
        return x + shift * torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=rng)
    n, h = x.shape[0], x.shape[2]
    flips = torch.rand(n, device=x.device, generator=rng) < flip
    x = torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
    s = int(h * shift + 0.5)
    dy = torch.randint(-s, s + 1, (n,), device=x.device, generator=rng)
    dx = torch.randint(-s, s + 1, (n,), device=x.device, generator=rng)
    return translate(x, dx, dy)


def cr_penalty(ctx, shift: float = 0.125, flip: float = 0.5):
    """Zhang et al. 2020 (the original CR, on real data): E ||D(x) - D(T(x))||^2 on the real
    batch, T a flip-and-translate of the images (``_cr_transform``)."""
    real = ctx.real.detach()
    aug = _cr_transform(real, ctx.rng, shift, flip)
    return (ctx.real_out - ctx.critic(aug, ctx.labels)).square().mean()


REGULARIZERS = [
    RegularizerSpec("gp", gradient_penalty, "gradient penalty at real/fake interpolates, "
                    "lambda E(||grad D|| - 1)^2", weight=10.0, options={"center": 1.0},
                    reference="Gulrajani et al. 2017, Improved Training of Wasserstein GANs"),
    RegularizerSpec("r1", r1_penalty, "R1: gamma/2 E||grad D(x)||^2 on real data (lazy with "
                    "every=N, Karras et al. 2020)", weight=10.0, real_grad=True,
                    reference="Mescheder et al. 2018, Which Training Methods for GANs do "
                              "actually Converge?"),
    RegularizerSpec("dragan", dragan_penalty, "DRAGAN: gradient penalty around perturbed real "
                    "data", weight=10.0, options={"c": 0.5},
                    reference="Kodali et al. 2017, On Convergence and Stability of GANs"),
    RegularizerSpec("dragan-sigmoid", dragan_sigmoid_penalty, "DRAGAN as compare_gan computes "
                    "it: the gradient of D's sigmoid output, eps inside the norm",
                    weight=10.0, options={"c": 0.5, "eps": 1e-4},
                    reference="Kodali et al. 2017; compare_gan/src/gans/DRAGAN.py (Lucic et al. "
                              "2018)"),
    RegularizerSpec("lecam", lecam_penalty, "LeCam: D's outputs anchored to moving averages of "
                    "each other, E(D(x) - a_F)^2 + E(D(G(z)) - a_R)^2", weight=0.3,
                    options={"decay": 0.99}, state=EmaOutputs,
                    reference="Tseng et al. 2021, Regularizing Generative Adversarial Networks "
                              "under Limited Data"),
    RegularizerSpec("cr", cr_penalty, "consistency regularisation: E||D(x) - D(T(x))||^2, T a "
                    "flip and translation of the real images", weight=10.0,
                    options={"shift": 0.125, "flip": 0.5},
                    reference="Zhang et al. 2020, Consistency Regularization for Generative "
                              "Adversarial Networks"),
]


# ------------------------------------------------------------------------------- hooks

def build_clip(g_net, d_net, c: float = 0.01):
    """After each D step: every critic parameter clamped to [-c, c] (two fused for-each ops)."""
    import torch

    if not c > 0:
        from ganbench.api.errors import UsageError

        raise UsageError(f"step hook clip: c must be > 0, got {c}")
    params = [p for p in d_net.parameters()]

    def clip(ctx=None) -> None:
        with torch.no_grad():
            torch._foreach_clamp_min_(params, -c)
            torch._foreach_clamp_max_(params, c)

    return clip


STEP_HOOKS = [
    StepHookSpec("clip", build_clip, "WGAN weight clipping: every D parameter clamped to "
                 "[-c, c] after each D step", after="d", options={"c": 0.01}),
]


@hookimpl
def ganbench_register_losses(register):
    register(MINIMAX)
    register(NON_SATURATING)
    register(LSGAN)
    register(HINGE)
    register(WASSERSTEIN)
    register(RAGAN)
    register(ACGAN)


@hookimpl
def ganbench_register_regularizers(register):
    from ganbench_plugins.infogan import REGULARIZER

    for r in REGULARIZERS + [REGULARIZER]:
        register(r)


@hookimpl
def ganbench_register_augmentations(register):
    from ganbench_plugins.augmentations import AUGMENTATIONS

    for a in AUGMENTATIONS:
        register(a)


@hookimpl
def ganbench_register_latent_samplers(register):
    from ganbench_plugins.infogan import SAMPLER

    register(SAMPLER)


@hookimpl
def ganbench_register_step_hooks(register):
    for h in STEP_HOOKS:
        register(h)
