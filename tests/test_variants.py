"""The training step's plugin surface (objectives, regularisers, hooks, G-EMA) and the variants
built on it."""

import dataclasses
import hashlib

import pytest

from ganbench import runner
from ganbench.budget import Budget
from ganbench.plan import plan

# sha256 (first 16 hex digits) of G's and D's state after a short seeded CPU run, recorded on
# commit 6e68db8, before the training step became a plugin surface: the built-ins' numbers
# (and so the committed tables) must not change.
BASE_HASHES = {
    ("vanilla-minimax", "ring8", 30): ("afcd120d2714ad4d", "219ee526074a8ebb"),
    ("non-saturating", "ring8", 30): ("c737ce216d871bc4", "027a0e98f42ec2a4"),
    ("cgan", "ring8", 30): ("f12f929173f5964b", "d4f32fc0db18eb8c"),
    ("dcgan", "digits", 4): ("155b5d15d3ce0290", "4e61595ce9737e06"),
}


def _digest(module) -> str:
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _job(reg, variant, dataset, steps, **changes):
    (job,) = plan(reg, variants=[variant], datasets=[dataset], seeds=[0],
                  budget=Budget.parse(f"{steps}steps"))
    return dataclasses.replace(job, evals=1, metrics=("training",), **changes)


def _train_capturing(reg, job, monkeypatch):
    """Train ``job`` on the CPU; returns (result, G, D) as the step trained them."""
    captured = {}
    build_step = runner.build_step

    def spy(g, d, *args, **kwargs):
        captured["g"], captured["d"] = g, d
        return build_step(g, d, *args, **kwargs)

    monkeypatch.setattr(runner, "build_step", spy)
    res = runner.train(job, reg, device="cpu")
    return res, captured["g"], captured["d"]


@pytest.mark.parametrize("case", sorted(BASE_HASHES))
def test_builtin_variants_train_bitwise_as_on_the_base_commit(reg, monkeypatch, case):
    variant, dataset, steps = case
    _, g, d = _train_capturing(reg, _job(reg, variant, dataset, steps), monkeypatch)
    assert (_digest(g), _digest(d)) == BASE_HASHES[case]
