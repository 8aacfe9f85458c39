import time
import types

import pytest

from ganbench import hookimpl
from ganbench import registry as plugins
from ganbench.planning.budget import Budget
from ganbench.api.errors import UsageError
from ganbench.planning.plan import Overrides, plan
from ganbench.training.runner import resolve_device, train
from ganbench.api.specs import MetricSpec, MetricValue
from ganbench.store.results import MACHINE_METRICS


def _job(reg, budget="20steps", **kw):
    kw.setdefault("variants", ["non-saturating"])
    kw.setdefault("datasets", ["gaussian"])
    (job,) = plan(reg, budget=Budget.parse(budget), seeds=[kw.pop("seed", 0)], **kw)
    return job


def test_all_three_budget_measures_are_recorded(reg):
    job = _job(reg, "30steps", evals=3, overrides=Overrides(k=2, batch_size=32))
    res = train(job, reg, device="cpu")
    assert res.steps == 30
    assert res.images_seen == 30 * 2 * 32  # real images seen by D: steps x k x batch
    steps = sorted({r["step"] for r in res.rows})
    assert steps == [0, 10, 20, 30]
    for r in res.rows:
        assert r["images_seen"] == r["step"] * 64
        assert r["wall_s"] >= 0
    assert max(r["wall_s"] for r in res.rows) == pytest.approx(res.wall_s, abs=1e-3)


def test_image_and_time_budgets(reg, monkeypatch):
    res = train(_job(reg, "6400img", overrides=Overrides(batch_size=64)), reg, device="cpu")
    assert res.images_seen == 6400 and res.steps == 100
    # A time budget on a fake clock that moves 0.05 s each time the runner reads it, so the
    # numbers do not depend on how fast or loaded this machine is. Training reads it once per
    # step plus once at each segment's end (4 segments for 4 evaluations), so the budget ends
    # past 1.0 s by at most one read, after 20 reads minus the segment ends: 15-20 steps. The
    # evaluations' reads move the clock too, but are not training time.
    from ganbench.training import runner

    clock = iter(0.05 * i for i in range(1_000_000))
    monkeypatch.setattr(runner, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    res = train(_job(reg, "1.0s", evals=4), reg, device="cpu")
    assert 1.0 <= res.wall_s <= 1.0 + 0.05 + 1e-9
    assert 15 <= res.steps <= 20
    assert res.eval_s > 0  # evaluation time measured, and not counted in wall_s


def test_eval_every(reg):
    res = train(_job(reg, "25steps", eval_every=10), reg, device="cpu")
    assert sorted({r["step"] for r in res.rows}) == [0, 10, 20, 25]


def test_same_seed_same_numbers_other_seed_differs(reg):
    a = train(_job(reg, "20steps", seed=3), reg, device="cpu")
    b = train(_job(reg, "20steps", seed=3), reg, device="cpu")
    c = train(_job(reg, "20steps", seed=4), reg, device="cpu")
    key = lambda res: [(r["step"], r["metric"], r["value"]) for r in res.rows  # noqa: E731
                       if r["metric"] not in MACHINE_METRICS]
    assert key(a) == key(b)
    assert key(a) != key(c)


def test_evaluation_time_is_excluded_from_the_training_clock(reg, monkeypatch):
    slow = types.ModuleType("slow_metric_plugin")

    @hookimpl
    def ganbench_register_metrics(register):
        def compute(ctx):
            time.sleep(0.25)
            return [MetricValue("slow", 1.0)]
        register(MetricSpec("slow", compute, "sleeps"))

    slow.ganbench_register_metrics = ganbench_register_metrics
    reg.pm.register(slow, name="slow_metric_plugin")
    plugins._call_hook(reg.pm, "ganbench_register_metrics", lambda p, o: (
        reg.metrics.add(o, p) if p == "slow_metric_plugin" else None))
    t0 = time.perf_counter()
    res = train(_job(reg, "40steps", evals=4), reg, device="cpu")
    elapsed = time.perf_counter() - t0
    assert {r["metric"] for r in res.rows} >= {"slow"}
    assert res.eval_s >= 5 * 0.25
    assert res.wall_s < elapsed - 5 * 0.25


def test_conditional_variant_on_unlabelled_data_is_refused(reg):
    with pytest.raises(UsageError, match="cannot run on 'gaussian'.*labelled"):
        plan(reg, variants=["cgan"], datasets=["gaussian"])


def test_device_validation():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(UsageError):
        resolve_device("tpu")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_stability_stats_are_recorded(reg):
    res = train(_job(reg, "20steps", evals=2), reg, device="cpu")
    final = {r["metric"]: r["value"] for r in res.rows if r["step"] == 20}
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm", "images_per_s"):
        assert name in final
    assert 0 < final["d_real"] < 1 and 0 < final["d_fake"] < 1
    assert final["g_grad_norm"] > 0 and final["images_per_s"] > 0
