"""GAN objectives on discriminator logits ``l`` (D(x) = sigmoid(l)).

With ``log D = -softplus(-l)`` and ``log(1 - D) = -softplus(l)``:

* discriminator (both losses): maximise ``E log D(x) + E log(1 - D(G(z)))``, i.e. minimise
  ``E softplus(-l_real) + E softplus(l_fake)``;
* ``minimax`` generator (Goodfellow et al. 2014, the saturating loss): minimise
  ``E log(1 - D(G(z))) = E -softplus(l_fake)``. Its gradient with respect to the logit is
  ``-sigmoid(l)``, which vanishes when D confidently rejects the fakes;
* ``non-saturating`` generator: maximise ``E log D(G(z))``, i.e. minimise
  ``E softplus(-l_fake)``; gradient ``sigmoid(l) - 1``, close to -1 when D rejects the fakes.
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.specs import LossSpec


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
)


@hookimpl
def ganbench_register_losses(register):
    register(MINIMAX)
    register(NON_SATURATING)
    register(LSGAN)
