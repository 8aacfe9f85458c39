import math

import pytest
import torch

from ganbench_plugins.losses import MINIMAX, NON_SATURATING


def softplus(x):
    return math.log1p(math.exp(x))


@pytest.mark.parametrize("real,fake", [(0.0, 0.0), (2.0, -1.0), (-3.0, 4.0)])
def test_d_loss_closed_form(real, fake):
    expected = -math.log(1 / (1 + math.exp(-real))) - math.log(1 - 1 / (1 + math.exp(-fake)))
    for loss in (MINIMAX, NON_SATURATING):
        got = loss.d_loss(torch.tensor([real], dtype=torch.float64),
                          torch.tensor([fake], dtype=torch.float64))
        assert got.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fake", [-8.0, -1.0, 0.0, 3.0])
def test_g_losses_closed_form(fake):
    d = 1 / (1 + math.exp(-fake))  # D(G(z))
    t = torch.tensor([fake], dtype=torch.float64)
    # minimax: G minimises log(1 - D(G(z)))
    assert MINIMAX.g_loss(t).item() == pytest.approx(math.log(1 - d), rel=1e-12)
    # non-saturating: G maximises log D(G(z)), i.e. minimises -log D(G(z))
    assert NON_SATURATING.g_loss(t).item() == pytest.approx(-math.log(d), rel=1e-12)
    assert NON_SATURATING.g_loss(t).item() == pytest.approx(softplus(-fake), rel=1e-12)


def test_losses_are_means_over_the_batch():
    logits = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64)
    assert MINIMAX.g_loss(logits).item() == pytest.approx(
        sum(-softplus(v) for v in logits.tolist()) / 3, rel=1e-12)


def _grad(loss, logit):
    t = torch.tensor([logit], dtype=torch.float64, requires_grad=True)
    loss.g_loss(t).backward()
    return abs(t.grad.item())


def test_vanishing_gradient_of_the_saturating_loss():
    # D confidently rejects the fakes (logit -8): the minimax G loss gives almost no gradient,
    # the non-saturating one gives nearly the largest possible.
    assert _grad(MINIMAX, -8.0) < 1e-3
    assert _grad(NON_SATURATING, -8.0) > 0.99
    # their gradients are sigmoid(l) and 1 - sigmoid(l)
    assert _grad(MINIMAX, -8.0) == pytest.approx(1 / (1 + math.exp(8)), rel=1e-9)


def test_both_losses_have_the_same_fixed_point_direction():
    # both push the fake logit up (towards "real"): the gradient wrt the logit is negative
    for loss in (MINIMAX, NON_SATURATING):
        t = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
        loss.g_loss(t).backward()
        assert t.grad.item() < 0
