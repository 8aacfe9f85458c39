"""Memorisation (copy_fraction, data_copying_z): closed-form values, the ladder's memorise rung,
and the registered metric on a generator that returns training copies."""

import importlib.util as iu
import math
from pathlib import Path

import pytest
import torch

from ganbench.evaluation import memorisation as mem
from conftest import REPO

LADDERS = Path(REPO) / "benchmarks" / "metric_ladders.py"


def _ladders():
    spec = iu.spec_from_file_location("metric_ladders", LADDERS)
    mod = iu.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_nn_distances_are_the_brute_force_minimum():
    g = torch.Generator().manual_seed(0)
    q, t = torch.randn(37, 5, generator=g), torch.randn(53, 5, generator=g)
    brute = torch.tensor([min(float((a - b).double().norm()) for b in t) for a in q])
    assert torch.allclose(mem.nn_distances(q, t, batch=10), brute.double(), atol=1e-12)


def test_scores_match_scipy_mann_whitney_and_count_copies():
    """z is the Mann-Whitney z of scipy's U (no ties here), and copy_fraction counts the
    samples at distance <= the closest held-out one."""
    from scipy.stats import mannwhitneyu

    g = torch.Generator().manual_seed(1)
    d_gen, d_held = torch.rand(300, generator=g) + 0.1, torch.rand(200, generator=g) + 0.05
    d_gen[:30] = 0.0  # 30 exact copies
    s = mem.scores(d_gen, d_held)
    n, m = 300, 200
    u = mannwhitneyu(d_gen.numpy(), d_held.numpy(), method="asymptotic").statistic
    assert s["data_copying_z"] == pytest.approx((u - n * m / 2)
                                                / math.sqrt(n * m * (n + m + 1) / 12), abs=1e-9)
    below = int((d_gen[30:] <= d_held.min()).sum())
    assert s["copy_fraction"] == pytest.approx((30 + below) / n, abs=1e-12)


def test_exchangeable_samples_score_the_null_and_copies_do_not():
    """Generated points drawn like the held-out ones: z ~ N(0, 1) and copy_fraction ~ 1/(m+1);
    copies of training points: copy_fraction 1, z at its minimum -sqrt(3 n m / (n + m + 1))."""
    g = torch.Generator().manual_seed(2)
    train, held, fresh = (torch.randn(k, 8, generator=g) for k in (2000, 400, 400))
    d_held = mem.nn_distances(held, train)
    null = mem.scores(mem.nn_distances(fresh, train), d_held)
    assert abs(null["data_copying_z"]) < 3
    assert null["copy_fraction"] <= 5 / 401  # mean 1/401; P(>= 5 hits of 400) < 0.5%
    copies = mem.scores(mem.nn_distances(train[:400], train), d_held)
    assert copies["copy_fraction"] == 1.0
    assert copies["data_copying_z"] == pytest.approx(-math.sqrt(3 * 400 * 400 / 801), rel=1e-12)


@pytest.mark.parametrize("dataset", ["digits", "ring8"])
def test_ladder_memorise_rung_lights_memorisation_up(dataset):
    """The ladder's memorising generator (a fraction f of held-out points replaced by training
    copies): copy_fraction >= f and rising, data_copying_z falling far below the noise floor;
    on the held-out real data themselves (f = 0) copy_fraction is 1/n and z is 0."""
    lad = _ladders()
    from ganbench import registry as plugins
    from ganbench.api.specs import DataRequest
    from ganbench.evaluation.extractors.domain_net import to_uint8
    from ganbench.evaluation.extractors.select import resolve_extractor

    ds = plugins.load(use_env=False).datasets.get(dataset)
    train, test = (ds.load(DataRequest(s)) for s in ("train", "test"))
    n = 300
    held, y = test.x[:n], test.y[:n]
    images = ds.spec.kind == "images"
    ext = resolve_extractor("auto", dataset) if images else None
    ref = train.x[:n]
    setup = lad.memorisation_setup(ext, train.x, held)
    out = []
    levels = (0.0, 0.5, 1.0)
    for f in levels:
        x = lad.degrade("memorise", f, held, y, train.x, torch.Generator().manual_seed(1))
        out.append(lad.measure(dataset, ds, x, ref, to_uint8(ref) if images else None, ext, n,
                               setup))
    frac = [o["copy_fraction"] for o in out]
    z = [o["data_copying_z"] for o in out]
    assert frac[0] == pytest.approx(1 / n)
    assert z[0] == pytest.approx(0.0, abs=1e-9)
    for f, c in zip(levels[1:], frac[1:]):
        assert f <= c <= f + 0.05
    assert z[0] > z[1] + 2 > z[2] + 4
    assert z[2] < -15
    import pandas as pd

    vs = lad.verdicts(pd.DataFrame(
        [{"dataset": dataset, "axis": "memorise", "level": f, "metric": k, "value": o[k],
          "n": n} for f, o in zip(levels, out)
         for k in ("copy_fraction", "data_copying_z")]))
    assert {v["metric"]: (v["verdict"], v["must_worsen"]) for v in vs} == {
        "copy_fraction": ("worse, monotone", True), "data_copying_z": ("worse, monotone", True)}


def _ctx(reg, samples, extractor=True):
    from ganbench.api.evalspec import EvalContext
    from ganbench.evaluation.extractors.select import eval_spec_for
    from ganbench.planning.plan import plan
    from ganbench.training.runner import load_data

    job = plan(reg, variants=["non-saturating"], datasets=["digits"], budget=None, seeds=(0,),
               eval_samples=len(samples))[0]
    ds, train = load_data(reg, job, "train", None, False)
    spec, ext, ref = eval_spec_for(job, ds, train, download=False)
    return EvalContext(job=job, dataset=ds, data=train, generator=None, conditional=False,
                       device=torch.device("cpu"), eval_spec=spec, step=0, images_seen=0,
                       wall_s=0.0, extractor=ext, reference=ref, _samples=samples)


def test_registered_metric_flags_a_copying_generator_not_held_out_data(reg):
    """The opt-in ``memorisation`` metric on digits (shipped extractor's features, whole train
    split): training copies score copy_fraction 1 and a strongly negative z; held-out real
    images (not in the training split) score near the null."""
    from ganbench.api.specs import DataRequest

    spec = reg.metrics.get("memorisation")
    assert not spec.default and spec.directions == {"copy_fraction": False,
                                                    "data_copying_z": None}
    ds = reg.datasets.get("digits")
    train, test = ds.load(DataRequest("train")), ds.load(DataRequest("test"))
    copies = {v.metric: v for v in spec.compute(_ctx(reg, train.x[:200]))}
    assert copies["copy_fraction"].value == 1.0
    assert copies["copy_fraction"].higher_is_better is False
    assert copies["data_copying_z"].value < -10
    fresh = {v.metric: v.value for v in spec.compute(_ctx(reg, test.x[-150:]))}
    assert fresh["copy_fraction"] < 0.05
    assert abs(fresh["data_copying_z"]) < 4


def test_run_metric_option_adds_opt_in_metrics(reg, tmp_path, capsys):
    """``ganbench run --metric memorisation`` adds it to the default metrics (the run id
    changes only then); an unknown name is one line."""
    import json

    from ganbench.api.errors import UsageError
    from ganbench.cli import main
    from ganbench.planning.plan import plan

    kw = dict(variants=["non-saturating"], datasets=["digits"], budget=None, seeds=(0,))
    (plain,) = plan(reg, **kw)
    (more,) = plan(reg, metrics=["memorisation"], **kw)
    assert plain.metrics is None and plain.run_id != more.run_id
    assert more.metrics == tuple(m.name for m in reg.metrics if m.default) + ("memorisation",)
    with pytest.raises(UsageError):
        plan(reg, metrics=["no-such-metric"], **kw)
    out = tmp_path / "runs"
    assert main(["run", "--variant", "non-saturating", "--dataset", "digits", "--budget",
                 "2steps", "--evals", "1", "--eval-samples", "100", "--metric", "memorisation",
                 "--out", str(out), "--no-download", "--no-calibration", "-q"]) == 0
    (run,) = out.glob("*.json")
    rows = json.loads(run.read_text())["rows"]
    final = {r["metric"]: r["value"] for r in rows if r["step"] == 2}
    assert {"fid", "copy_fraction", "data_copying_z"} <= set(final)
    assert final["copy_fraction"] < 0.05  # an untrained G copies nothing
    assert main(["run", "--variant", "non-saturating", "--dataset", "digits", "--metric",
                 "nope", "--out", str(out), "--no-download"]) == 2
    assert "nope" in capsys.readouterr().err.strip().splitlines()[-1]
