"""Fault isolation (a broken plugin through a real entry point) and divergence."""

import json
import textwrap

import pytest

from ganbench import cli
from ganbench import registry as plugins
from ganbench.execution.worker import run_meta
from ganbench.store import results
from ganbench.planning.budget import Budget
from ganbench.planning.plan import plan
from ganbench.training.runner import train
from ganbench.api.specs import LossSpec

from conftest import install_plugin

BROKEN = textwrap.dedent('''
    """A deliberately broken plugin: it raises while building, training and evaluating."""
    from ganbench import hookimpl
    from ganbench.api.specs import Hyperparams, LossSpec, MetricSpec, ModelSpec, VariantSpec


    def build(spec, z_dim, **options):
        raise RuntimeError("G exploded while building")


    def d_loss(real, fake):
        raise ValueError("loss blew up in training")


    def metric(ctx):
        if ctx.step >= 10:
            raise ZeroDivisionError("metric failed at evaluation")
        return []


    @hookimpl
    def ganbench_register_models(register):
        register(ModelSpec("broken-model", build, "raises in build"))


    @hookimpl
    def ganbench_register_losses(register):
        register(LossSpec("broken-loss", d_loss=d_loss, g_loss=lambda f: f.mean(),
                          description="raises in training"))


    @hookimpl
    def ganbench_register_variants(register):
        h = Hyperparams(lr_g=1e-3, lr_d=1e-3, batch_size=32, z_dim=4)
        register(VariantSpec("broken-build", "broken-model", "non-saturating", "x", h))
        register(VariantSpec("broken-train", "mlp", "broken-loss", "x", h))
        register(VariantSpec("broken-eval", "mlp", "non-saturating", "x", h))


    @hookimpl
    def ganbench_register_metrics(register):
        register(MetricSpec("broken-metric", metric, "raises at evaluation",
                            applies=lambda ctx: ctx.job.variant == "broken-eval"))
''')


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch):
    """Installed for real: a module and its .dist-info with a 'ganbench' entry point."""
    site = install_plugin(tmp_path / "site", "broken_gan_plugin", BROKEN, "broken-gan-plugin",
                          "1.0", "broken")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "broken")
    plugins.reset()
    yield
    plugins.reset()


@pytest.mark.slow
def test_broken_plugin_fails_its_runs_and_the_sweep_goes_on(broken_plugin, tmp_path, capsys):
    out = tmp_path / "runs"
    args = ["run", "--variant", "broken-build,broken-train,broken-eval,non-saturating",
            "--dataset", "gaussian", "--budget", "20steps", "--evals", "4",
            "--eval-samples", "200", "--out", str(out)]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "3 of 4 run(s) did not complete" in err
    for fragment in ("failed: broken-build on gaussian", "RuntimeError: G exploded while building",
                     "failed: broken-train on gaussian", "ValueError: loss blew up in training",
                     "failed: broken-eval on gaussian",
                     "ZeroDivisionError: metric failed at evaluation"):
        assert fragment in err, fragment
    metas = {m["variant"]: m for m in (json.loads(f.read_text())["meta"]
                                       for f in out.glob("*.json"))}
    assert metas["non-saturating"]["status"] == "completed"
    for v in ("broken-build", "broken-train", "broken-eval"):
        assert metas[v]["status"] == "failed"
        assert "Traceback" in metas[v]["traceback"]
    assert metas["broken-eval"]["error"] == "ZeroDivisionError: metric failed at evaluation"
    # rows up to the last checkpoint (step 5) are kept; evaluation at step 10 failed
    df = results.load(out)
    assert sorted(set(df[df["variant"] == "broken-eval"]["step"])) == [0, 5]
    assert set(df[df["variant"] == "non-saturating"]["step"]) == {0, 5, 10, 15, 20}

    # rerunning skips the finished run and tries the failed ones again
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "1 already done there" in err and "3 of 3 run(s) did not complete" in err
    assert "broken-eval on gaussian (seed 0, 20steps): resuming from its last checkpoint" in err


def _exploding_loss(after: int):
    """Non-saturating G loss that turns infinite after ``after`` calls."""
    calls = {"n": 0}

    def g_loss(fake):
        import torch.nn.functional as F

        calls["n"] += 1
        scale = float("inf") if calls["n"] > after else 1.0
        return F.softplus(-fake).mean() * scale

    def d_loss(real, fake):
        import torch.nn.functional as F

        return F.softplus(-real).mean() + F.softplus(fake).mean()

    return LossSpec("explodes", d_loss=d_loss, g_loss=g_loss, description="inf after a while")


@pytest.mark.slow
def test_divergence_stops_the_run_keeps_rows_and_shows_in_summary(reg, tmp_path):
    reg.losses.add(_exploding_loss(after=15), "exploding_plugin")
    (job,) = plan(reg, model="mlp", loss="explodes", datasets=["gaussian"],
                  budget=Budget.parse("40steps"), seeds=[0], evals=4, eval_samples=200)
    res = train(job, reg, device="cpu")
    assert res.status == "diverged"
    assert res.info["diverged_at_step"] == 20 and res.steps == 20  # stopped, not trained on
    assert sorted({r["step"] for r in res.rows}) == [0, 10, 20]
    at10 = {r["metric"]: r["value"] for r in res.rows if r["step"] == 10}
    assert all(v == v and abs(v) != float("inf") for v in at10.values())
    at20 = {r["metric"]: r["value"] for r in res.rows if r["step"] == 20}
    assert not all(v == v and abs(v) != float("inf") for v in at20.values())

    meta = run_meta(job, "cpu")
    meta.update(status=res.status, **res.info)
    results.write_run(tmp_path, meta, res.rows)
    df = results.load(tmp_path)
    assert set(df["diverged_at_step"]) == {20}
    table = results.format_summary(results.summarize(df))
    assert "diverged@20" in table
