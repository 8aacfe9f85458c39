"""Calibration rows: held-out real data and uniform noise under a run's own EvalSpec."""

import dataclasses
import math

import pytest

from ganbench.evaluation import calibration
from ganbench.planning.plan import plan
from ganbench.registry import registries

from conftest import run_cli

N = 20_000  # evaluation samples: the noise row's expected hit count is ~90, its sd ~10


def _job(dataset, samples=N):
    reg = registries()
    return reg, plan(reg, variants=["non-saturating"], datasets=[dataset], budget=None,
                     seeds=(0,), eval_samples=samples)[0]


def _values(reg, job, kind):
    rows, spec = calibration.calibrate(calibration.calibration_job(job, kind), reg, kind,
                                       device="cpu")
    assert {r["eval_spec"] for r in rows} == {spec.hash}
    return {r["metric"]: r["value"] for r in rows}


def test_real_row_scores_the_3_sigma_mass_and_every_mode():
    reg, job = _job("grid25")
    v = _values(reg, job, "real")
    assert v["modes_covered"] == 25
    # a 2-D isotropic Gaussian puts 1 - exp(-9/2) of its mass within 3 std: 98.89%
    p = 1 - math.exp(-4.5)
    from ganbench_plugins.datasets import TEST_POINTS

    se = math.sqrt(p * (1 - p) / min(N, TEST_POINTS))  # the test split, without replacement
    assert abs(v["high_quality_pct"] / 100 - p) < 5 * se
    assert v["reverse_kl"] < 0.01


def test_noise_row_scores_the_area_of_the_3_sigma_discs():
    reg, job = _job("grid25")
    v = _values(reg, job, "noise")
    ds = reg.datasets.get("grid25")
    from ganbench.training.runner import load_data

    x = load_data(reg, job, "train", None, False)[1].x
    box = float((x.max(0).values - x.min(0).values).prod())
    modes = ds.modes
    p = len(modes.centers) * math.pi * (3 * modes.std) ** 2 / box  # discs lie inside the box
    expected = p * N
    hits = v["high_quality_pct"] / 100 * N
    assert abs(hits - expected) < 4 * math.sqrt(expected)  # Poisson
    # each mode is covered when one of the N uniform samples falls in its disc
    q = math.pi * (3 * modes.std) ** 2 / box
    pc = 1 - (1 - q) ** N
    m = len(modes.centers)
    assert abs(v["modes_covered"] - m * pc) <= 4 * math.sqrt(m * pc * (1 - pc)) + 1


def test_calibration_shares_the_runs_eval_spec_and_ignores_variant_seed_and_budget():
    reg, job = _job("ring8", samples=500)
    a = calibration.calibration_job(job, "real")
    other = plan(reg, variants=["vanilla-minimax"], datasets=["ring8"], budget=None,
                 seeds=(3,), eval_samples=500)[0]
    assert calibration.calibration_job(other, "real").run_id == a.run_id
    # nor on the variant's regularisers, step hooks or G-EMA (wgan-gp, wgan, ...)
    terms = [plan(reg, variants=[v], datasets=["ring8"], budget=None, seeds=(0,),
                  eval_samples=500)[0] for v in ("wgan-gp", "wgan", "r1")]
    terms.append(dataclasses.replace(terms[0], g_ema=0.999))
    assert {calibration.calibration_job(t, "real").run_id for t in terms} == {a.run_id}
    assert len(calibration.plan_calibration([job, other, *terms])) == 2
    with pytest.raises(ValueError):
        calibration.calibration_job(job, "bogus")


def test_run_writes_calibration_rows_beside_the_runs(tmp_path):
    out = tmp_path / "out"
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                "20steps", "--eval-samples", "500", "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    names = sorted(p.name.split("__")[0] for p in out.glob("*.json"))
    assert names == ["calib-noise", "calib-real", "non-saturating"]
    assert "calib-real" in r.stdout and "calib-noise" in r.stdout
    out2 = tmp_path / "out2"
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                "20steps", "--eval-samples", "500", "--out", str(out2), "-q",
                "--no-calibration")
    assert r.returncode == 0, r.stderr
    assert [p.name.split("__")[0] for p in out2.glob("*.json")] == ["non-saturating"]


def test_real_row_draws_a_small_split_without_replacement_and_says_so():
    """digits' test split has 360 images, the quick suite's EvalSpec 1,437 samples: the real
    row scores the 360 distinct images (drawn with replacement, each repeated ~4 times, the
    duplicates collapsed precision/recall's k-NN radii and recall fell to 0.41) and records
    how many it scored."""
    import torch

    reg, job = _job("digits", samples=1437)
    job = dataclasses.replace(job, metrics=("fidelity",))
    from ganbench.training.runner import load_data

    train = load_data(reg, job, "train", None, False)[1]
    x = calibration.reference_samples("real", job, reg, train, n=1437, data_root=None,
                                      download=False, reference="train")
    assert len(x) == 360 and len(torch.unique(x.flatten(1), dim=0)) == 360
    test = load_data(reg, job, "test", None, False)[1].x
    assert sorted(map(tuple, x.flatten(1).tolist())) == sorted(map(tuple,
                                                                  test.flatten(1).tolist()))
    v = _values(reg, job, "real")
    assert v[calibration.SAMPLES_METRIC] == 360
    # real data against real data: recall about its precision, both high (0.41 before)
    assert v["recall"] > 0.8 and v["precision"] > 0.8
    big = _values(reg, _job("ring8", samples=2500)[1], "real")  # a split large enough
    assert calibration.SAMPLES_METRIC not in big
