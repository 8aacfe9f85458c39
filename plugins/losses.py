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


@hookimpl
def ganbench_register_losses(register):
    register(MINIMAX)
    register(NON_SATURATING)
