"""The hyperparameter-robustness study: seeded sampling, the expected-best curve, the CLI."""

import itertools
import json

import numpy as np
import pytest

from ganbench import results, study
from ganbench.budget import Budget
from ganbench.plan import plan

from conftest import run_cli


def test_expected_best_is_the_exact_mean_of_the_best_of_k_draws():
    values = [3.0, 1.0, 4.0, 1.5, 9.0]
    curve = study.expected_best(values, boot=200)
    for c in curve:  # every ordered k-tuple of draws with replacement, equally likely
        brute = np.mean([min(t) for t in itertools.product(values, repeat=c["k"])])
        assert c["expected_best"] == pytest.approx(brute, rel=1e-12)
        assert c["ci_low"] <= c["expected_best"] <= c["ci_high"]
    assert curve[0]["expected_best"] == pytest.approx(np.mean(values))
    assert [c["expected_best"] for c in curve] == sorted((c["expected_best"] for c in curve),
                                                         reverse=True)


def test_trials_are_seeded_recorded_and_fit_the_variant(reg):
    base = plan(reg, variants=["wgan", "wgan-gp"], datasets=["ring8"],
                budget=Budget.parse("20steps"), seeds=[0])
    a = study.plan_study(reg, base, "lucic2018", 5, 0)
    b = study.plan_study(reg, base, "lucic2018", 3, 0)
    c = study.plan_study(reg, base, "lucic2018", 3, 1)
    assert [j.run_id for j in a if j.study[2][1] < 3] == [j.run_id for j in b]  # prefix-stable
    assert {j.run_id for j in b}.isdisjoint(j.run_id for j in c)  # another seed, other trials
    for j in a:
        params = dict(dict(j.study)["params"])
        lr = params["lr"]
        assert 1e-5 <= lr <= 1e-2 and j.hparams.lr_g == j.hparams.lr_d == lr
        assert params["k"] == j.hparams.k and params["batch_size"] in (8, 16, 32, 64, 128)
        if j.variant == "wgan":  # RMSprop: no betas; no regulariser: no penalty weight
            assert "beta1" not in params and "reg_weight" not in params
        else:
            assert j.hparams.betas == (params["beta1"], params["beta2"])
            assert j.regularizers[0].startswith("gp:")
            assert float(j.regularizers[0].split(":")[1]) == pytest.approx(
                params["reg_weight"], rel=1e-3)
        assert j.config()["study"]["space"] == "lucic2018"


@pytest.mark.slow
def test_sweep_then_results_study(tmp_path):
    out = tmp_path / "study"
    r = run_cli("sweep", "--variant", "non-saturating", "--dataset", "ring8", "--trials", "3",
                "--budget", "20steps", "--evals", "1", "--eval-samples", "200",
                "--no-calibration", "-q", "--out", str(out), env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert "expected best frechet_data after k trials" in r.stdout
    metas = [results.read_run(p)["meta"] for p in out.glob("*.json")]
    assert sorted(m["config"]["study"]["trial"] for m in metas) == [0, 1, 2]
    r = run_cli("results", str(out), "--study", "--json")
    assert r.returncode == 0, r.stderr
    (s,) = json.loads(r.stdout)
    finals = []
    for m in metas:
        rows = results.read_run(results.run_path(out, m["run_id"]))["rows"]
        finals += [x["value"] for x in rows if x["metric"] == "frechet_data" and x["step"] == 20]
    assert s["trials"] == 3 and s["min"] == pytest.approx(min(finals), rel=1e-12)
    assert [c["k"] for c in s["expected_best"]] == [1, 2, 3]
    assert s["expected_best"][0]["expected_best"] == pytest.approx(np.mean(finals), rel=1e-9)
    r = run_cli("results", str(out), "--study", "--csv")
    assert r.stdout.splitlines()[0] == "variant,dataset,space,metric,k,expected_best,ci_low,ci_high"


def test_results_study_without_study_runs_is_exit_2(tmp_path):
    out = tmp_path / "runs"
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                "5steps", "--evals", "1", "--eval-samples", "100", "--no-calibration", "-q",
                "--out", str(out), env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    r = run_cli("results", str(out), "--study")
    assert r.returncode == 2 and "no study runs here" in r.stderr
