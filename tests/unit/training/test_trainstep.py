"""The runner's hot loop: its statistics, and that it computes exactly a plain GAN loop."""

import dataclasses

import pytest

from ganbench.devkit import overhead
from ganbench.planning.budget import Budget
from ganbench.planning.plan import plan
from ganbench.training.runner import train
from ganbench.training.step import FOLD_EVERY, STAT_NAMES, StepStats


def _job(reg, variant, dataset, steps):
    (job,) = plan(reg, variants=[variant], datasets=[dataset], seeds=[0],
                  budget=Budget.parse(f"{steps}steps"))
    return dataclasses.replace(job, evals=1, metrics=("training",))


def test_stepstats_match_a_float64_running_sum_across_folds():
    import torch

    g = torch.Generator().manual_seed(0)
    stats = StepStats(torch.device("cpu"))
    naive = torch.zeros(len(STAT_NAMES), dtype=torch.float64)
    steps = 2 * FOLD_EVERY + 7  # crosses two folds and leaves some pending
    for _ in range(steps):
        ld, lg = torch.rand(2, generator=g) * 3
        real, fake = torch.randn(32, 1, generator=g), torch.randn(32, 1, generator=g)
        grads = [torch.randn(5, 4, generator=g), torch.randn(4, generator=g)]
        norms = torch._foreach_norm(grads)
        stats.add(ld, lg, real, fake, norms)
        naive += torch.stack([ld, lg, torch.sigmoid(real).mean(), torch.sigmoid(fake).mean(),
                              torch.linalg.vector_norm(torch.cat([t.flatten() for t in grads]))
                              ]).double()
    means = stats.means()
    expected = dict(zip(STAT_NAMES, (naive / steps).tolist()))
    assert means.keys() == expected.keys()
    for k in STAT_NAMES:
        assert means[k] == pytest.approx(expected[k], rel=1e-6), k
    stats.reset()
    assert stats.means() == {} and stats.steps == 0


@pytest.mark.parametrize("variant,dataset", [("non-saturating", "ring8"), ("cgan", "ring8"),
                                             ("dcgan", "digits")])
def test_runner_computes_exactly_the_bare_loop(reg, variant, dataset):
    """Same seed, same G/D/loss/optimisers/data: the runner's losses are the bare loop's,
    so the overhead benchmark compares like with like and the runner adds no hidden work."""
    import torch

    steps = 12 if dataset == "digits" else 40
    job = _job(reg, variant, dataset, steps)
    res = train(job, reg, device="cpu")
    final = {r["metric"]: r["value"] for r in res.rows if r["step"] == steps}
    record: list = []
    t = overhead.build(job, reg, torch.device("cpu"))
    overhead.bare_loop(t, job, steps, record=record)
    d_mean = torch.stack([d for d, _ in record]).double().mean().item()
    g_mean = torch.stack([g for _, g in record]).double().mean().item()
    assert final["d_loss"] == pytest.approx(d_mean, rel=1e-5)
    assert final["g_loss"] == pytest.approx(g_mean, rel=1e-5)
    assert 0 < final["d_real"] < 1 and 0 < final["d_fake"] < 1 and final["g_grad_norm"] > 0


def test_runner_computes_exactly_the_bare_wgan_gp_loop(reg):
    """The general step (context, regulariser, k = 5) against a hand-written WGAN-GP loop."""
    import torch

    steps = 8
    job = _job(reg, "wgan-gp", "ring8", steps)
    res = train(job, reg, device="cpu")
    final = {r["metric"]: r["value"] for r in res.rows if r["step"] == steps}
    record: list = []
    t = overhead.build(job, reg, torch.device("cpu"))
    assert overhead.bare_loop_for(job) is overhead.bare_wgan_gp_loop
    overhead.bare_wgan_gp_loop(t, job, steps, record=record)
    d_mean = torch.stack([d for d, _ in record]).double().mean().item()
    g_mean = torch.stack([g for _, g in record]).double().mean().item()
    assert final["d_loss"] == pytest.approx(d_mean, rel=1e-5)
    assert final["g_loss"] == pytest.approx(g_mean, rel=1e-5)


def test_overhead_measurement_reports_a_sane_ratio(reg):
    import torch

    job = _job(reg, "non-saturating", "ring8", 1)
    result = overhead.measure(job, reg, torch.device("cpu"), steps=20, pairs=3, warmup_steps=2)
    s = result.summary()
    assert s["pairs"] == 3 and len(result.ganbench_s) == len(result.bare_s) == 3
    assert all(t > 0 for t in result.ganbench_s + result.bare_s)
    assert 0.5 < s["overhead_ratio"] < 2.0  # same work on both sides (the gate is in benchmarks/)
    assert s["ratio_q1"] <= s["overhead_ratio"] <= s["ratio_q3"]
