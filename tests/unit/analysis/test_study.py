"""The hyperparameter-robustness study: seeded sampling, the expected-best curve, the CLI."""

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from ganbench.store import results
from ganbench.analysis import study
from ganbench.planning.budget import Budget
from ganbench.planning.plan import plan

from conftest import run_cli
from conftest import REPO


def test_expected_best_is_the_exact_mean_of_the_best_of_k_without_replacement():
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.5, 7.0]
    curve = study.expected_best(values, boot=200)
    for c in curve:  # every k-subset of the trials, equally likely
        brute = np.mean([min(t) for t in itertools.combinations(values, c["k"])])
        assert c["expected_best"] == pytest.approx(brute, rel=1e-12)
        assert c["ci_low"] <= c["expected_best"] <= c["ci_high"]
    assert curve[0]["expected_best"] == pytest.approx(np.mean(values))
    assert curve[-1]["expected_best"] == pytest.approx(min(values), rel=1e-12)  # k = N: the best
    assert [c["expected_best"] for c in curve] == sorted((c["expected_best"] for c in curve),
                                                         reverse=True)
    one = study.expected_best([2.0])
    assert one[0]["expected_best"] == 2.0 and math.isnan(one[0]["ci_low"])
    assert study.expected_best([]) == []


def test_band_reaches_below_the_best_trial_at_k_n():
    """A percentile bootstrap band never reaches below the best trial at k = N (a resample's
    best cannot beat it): the band is symmetric, widened by the Student factor."""
    x = [5.0, 1.0, 2.0, 3.0, 8.0, 1.5, 4.0, 2.2, 6.0, 9.0]
    c = study.expected_best(x)[-1]
    assert c["ci_low"] < min(x) < c["ci_high"]
    assert c["ci_high"] - c["expected_best"] == pytest.approx(c["expected_best"] - c["ci_low"])
    assert study.band_factor(10) == pytest.approx(2.2622 / 1.96 * math.sqrt(10 / 9), rel=1e-3)


COVERAGE = Path(REPO) / "results" / "study-band-coverage"


def test_band_coverage_table_is_recomputed_from_its_csv():
    import pandas as pd
    from scipy import stats

    t = pd.read_csv(COVERAGE.with_suffix(".csv"))
    md = COVERAGE.with_suffix(".md").read_text()
    assert (t["repeats"] >= 300).all()
    for r in t.itertuples(index=False):
        assert r.coverage == pytest.approx(r.covered / r.repeats, abs=1e-12)
        ci = stats.binomtest(int(r.covered), int(r.repeats)).proportion_ci(0.95, method="exact")
        assert (r.cp_low, r.cp_high) == pytest.approx((ci.low, ci.high), abs=1e-9)
        assert (f"| {r.distribution} | {r.n} | {r.k} | {r.covered}/{r.repeats} | "
                f"{r.coverage:.3f} [{r.cp_low:.3f}, {r.cp_high:.3f}] |") in md
    # the claims of study.py's docstring and the README: >= 90% at k = 1, 5, N (N = 10) for
    # these, and where it falls short
    ten = t[t["n"] == 10].set_index(["distribution", "k"])["coverage"]
    for d in ("lognormal(sigma=1)", "lognormal(sigma=0.5)", "gamma(shape=2)", "exponential",
              "uniform"):
        for k in (1, 5, 10):
            assert ten[(d, k)] >= 0.9, (d, k)
    assert round(ten[("lognormal(sigma=1.5)", 1)], 2) == 0.78
    assert round(ten[("normal", 10)], 2) == 0.89
    listed = md[md.index("Rows below 90%:"):].split(". No band")[0]
    assert listed.count(" k = ") == int((t["coverage"] < 0.9).sum())


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
    assert "expected best high_quality_pct after k trials" in r.stdout  # ring8: its main
    metas = [results.read_run(p)["meta"] for p in out.glob("*.json")]
    assert sorted(m["config"]["study"]["trial"] for m in metas) == [0, 1, 2]
    r = run_cli("results", str(out), "--study", "--json")
    assert r.returncode == 0, r.stderr
    (s,) = json.loads(r.stdout)
    finals = []
    for m in metas:
        rows = results.read_run(results.run_path(out, m["run_id"]))["rows"]
        finals += [x["value"] for x in rows
                   if x["metric"] == "high_quality_pct" and x["step"] == 20]
    assert s["trials"] == 3 and s["min"] == pytest.approx(min(finals), rel=1e-12)
    assert [c["k"] for c in s["expected_best"]] == [1, 2, 3]
    assert s["expected_best"][0]["expected_best"] == pytest.approx(np.mean(finals), rel=1e-9)
    r = run_cli("results", str(out), "--study", "--csv")
    assert r.stdout.splitlines()[0] == "variant,dataset,space,metric,k,expected_best,ci_low,ci_high"
    assert s["expected_best"][-1]["expected_best"] == pytest.approx(min(finals), rel=1e-12)


def test_results_study_without_study_runs_is_exit_2(tmp_path):
    out = tmp_path / "runs"
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                "5steps", "--evals", "1", "--eval-samples", "100", "--no-calibration", "-q",
                "--out", str(out), env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    r = run_cli("results", str(out), "--study")
    assert r.returncode == 2 and "no study runs here" in r.stderr


# ------------------------------------------------------------------ hostile and clumsy input

from types import SimpleNamespace  # noqa: E402

from ganbench import cli  # noqa: E402
from ganbench.api.errors import PluginError, UsageError  # noqa: E402
from ganbench.registry import Registry  # noqa: E402
from ganbench.api.specs import SearchSpaceSpec  # noqa: E402
from ganbench.analysis.study import Choice, LogUniform, Uniform  # noqa: E402

DRY = ["sweep", "--variant", "non-saturating", "--dataset", "ring8", "--budget", "5steps",
       "--dry-run", "--trials", "3"]


def _dry_ids(capsys, tmp_path, *extra):
    assert cli.main([*DRY, "--out", str(tmp_path / "o"), *extra]) == 0
    return [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()
            if "\t" in line]


@pytest.mark.parametrize("extra, says", [
    (["--lr", "0.1"], "--lr fixes lr, which search space 'lucic2018' samples"),
    (["--lr-d", "0.1", "--space", "lr"], "--lr-d fixes lr"),
    (["--betas", "0.5,0.9"], "--betas fixes beta1, beta2"),
    (["--batch-size", "32"], "--batch-size fixes batch_size"),
    (["--k", "2"], "--k fixes k"),
    (["--reg", "gp:5"], "--reg fixes reg_weight")])
def test_sweep_refuses_a_fixed_parameter_the_space_samples(capsys, tmp_path, extra, says):
    assert cli.main([*DRY, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_sweep_applies_a_fixed_parameter_outside_the_space(capsys, tmp_path):
    plain = _dry_ids(capsys, tmp_path, "--space", "lr")
    fixed = _dry_ids(capsys, tmp_path, "--space", "lr", "--betas", "0.0,0.9")
    assert len(plain) == len(fixed) == 3 and set(plain).isdisjoint(fixed)


def test_sweep_trials_are_bounded(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        cli.main([*DRY[:-2], "--trials", "1000000000", "--out", str(tmp_path / "o")])
    assert e.value.code == 2 and "at most 1000 trials" in capsys.readouterr().err
    assert cli.main([*DRY[:-2], "--trials", "1000", "--seeds", "0-99",  # 100,000 runs
                     "--out", str(tmp_path / "o")]) == 2
    assert "would be 100000 runs" in capsys.readouterr().err


def test_a_space_with_no_parameter_for_the_variant_is_refused(reg):
    base = plan(reg, variants=["wgan"], datasets=["ring8"], budget=Budget.parse("5steps"),
                seeds=[0])
    space = SearchSpaceSpec("betas", {"beta1": Uniform(0.0, 0.9)}, "betas only")
    fake = SimpleNamespace(search_spaces=SimpleNamespace(get=lambda name: space))
    with pytest.raises(UsageError, match="none of which applies to variant 'wgan'"):
        study.plan_study(fake, base, "betas", 4, 0)


@pytest.mark.parametrize("params, says", [
    ({}, "expected a non-empty mapping"),
    (None, "expected a non-empty mapping"),
    ([("lr", LogUniform(1e-5, 1e-2))], "expected a non-empty mapping"),
    ({"learning_rate": LogUniform(1e-5, 1e-2)}, "unknown parameter(s) 'learning_rate'"),
    ({"lr": LogUniform(0.0, 1e-2)}, "a log-uniform needs bounds > 0"),
    ({"lr": LogUniform(-1.0, 1e-2)}, "a log-uniform needs bounds > 0"),
    ({"lr": LogUniform(1e-2, 1e-2)}, "empty range"),
    ({"beta1": Uniform(0.9, 0.1)}, "empty range"),
    ({"lr": Uniform(float("nan"), 1e-2)}, "expected numbers"),
    ({"lr": LogUniform("1e-5", 1e-2)}, "expected numbers"),
    ({"lr": LogUniform(1e-5, 100.0)}, "must be in (0, 10)"),
    ({"beta2": Uniform(0.0, 2.0)}, "must be in [0, 1)"),
    ({"lr": (1e-5, 1e-2)}, "is a tuple; expected ganbench.analysis.study.LogUniform"),
    ({"lr": "log-uniform"}, "is a str"),
    ({"k": Choice(())}, "expected a non-empty tuple"),
    ({"k": Choice("15")}, "expected a non-empty tuple"),
    ({"k": Choice((1, 0))}, "has choice(s) [0]"),
    ({"batch_size": Choice((8.5,))}, "has choice(s) [8.5]"),
    ({"batch_size": LogUniform(8, 128)}, "is an integer: use Choice"),
    ({"reg_weight": Choice((True,))}, "has choice(s) [True]")])
def test_plugin_search_spaces_are_checked_at_load(params, says):
    r = Registry("search_spaces", SearchSpaceSpec)
    with pytest.raises(PluginError) as e:
        r.add(SearchSpaceSpec("bad", params, "a bad space"), "my-plugin")
    assert "plugin 'my-plugin'" in str(e.value) and says in str(e.value)


def test_builtin_search_spaces_pass_the_load_checks(reg):
    assert {"lucic2018", "lr"} <= set(reg.search_spaces.names())
    for space in reg.search_spaces:
        assert study.space_problem(space) is None


GOOD_STUDY = {"space": "lucic2018", "space_seed": 0, "trial": 0, "params": {"lr": 1e-3, "k": 1}}


def _run_file(out, run_id, study_meta, value=1.0, rows=None):
    meta = {"run_id": run_id, "variant": "non-saturating", "dataset": "ring8", "seed": 0,
            "status": "completed", "config": {"variant": "non-saturating", "study": study_meta}}
    at = {"step": 5, "images_seen": 320, "wall_s": 0.5}
    rows = rows or [{**at, "metric": "frechet_data", "value": value, "higher_is_better": False},
                    {**at, "metric": "d_loss", "value": 0.5}]
    results.write_run(out, meta, rows)


@pytest.mark.parametrize("bad, where", [
    ("lucic2018", "meta.config.study"),
    ({"space": "lucic2018", "space_seed": 0, "params": {}}, "meta.config.study.trial"),
    ({"space": "lucic2018", "trial": 0, "params": {}}, "meta.config.study.space_seed"),
    ({"space_seed": 0, "trial": 0, "params": {}}, "meta.config.study.space"),
    ({"space": "lucic2018", "space_seed": 0, "trial": 0}, "meta.config.study.params"),
    ({**GOOD_STUDY, "trial": "abc"}, "meta.config.study.trial"),
    ({**GOOD_STUDY, "trial": None}, "meta.config.study.trial"),
    ({**GOOD_STUDY, "trial": -1}, "meta.config.study.trial"),
    ({**GOOD_STUDY, "trial": 1.5}, "meta.config.study.trial"),
    ({**GOOD_STUDY, "params": [["lr", 1e-3]]}, "meta.config.study.params"),
    ({**GOOD_STUDY, "params": "lr=1e-3"}, "meta.config.study.params"),
    ({**GOOD_STUDY, "params": {"lr": [1]}}, "meta.config.study.params.lr"),
    ({**GOOD_STUDY, "params": {"lr": float("nan")}}, "meta.config.study.params.lr"),
    ({**GOOD_STUDY, "space": ["lucic2018"]}, "meta.config.study.space"),
    ({**GOOD_STUDY, "space_seed": {"a": 1}}, "meta.config.study.space_seed"),
    (None, "meta.config.study")])
def test_hostile_study_metadata_is_one_warning_not_a_crash(tmp_path, capsys, bad, where):
    out = tmp_path / "runs"
    _run_file(out, "good", GOOD_STUDY, 1.0)
    _run_file(out, "bad", bad, 0.1)
    with pytest.raises(ValueError, match=f"^invalid {where}"):
        results.read_run(results.run_path(out, "bad"))
    assert cli.main(["results", str(out), "--study", "--json"]) == 0
    cap = capsys.readouterr()
    (s,) = json.loads(cap.out)
    assert s["trials"] == 1 and s["min"] == 1.0  # the bad run is no trial
    warned = [line for line in cap.err.splitlines() if "warning" in line]
    assert len(warned) == 1 and where in warned[0] and "bad" in warned[0]


def test_report_skips_hostile_study_runs(tmp_path, capsys):
    out = tmp_path / "runs"
    _run_file(out, "good", GOOD_STUDY, 1.0)
    _run_file(out, "good2", {**GOOD_STUDY, "trial": 1}, 2.0)
    _run_file(out, "bad", {**GOOD_STUDY, "trial": "abc"}, 0.1)
    assert cli.main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    err = capsys.readouterr().err
    assert "meta.config.study.trial" in err
    page = (tmp_path / "report" / "index.html").read_text()
    assert "Hyperparameter study" in page and "2 trial(s)" in page


def test_exported_table_with_hostile_study_is_skipped_with_a_warning(tmp_path, capsys):
    out = tmp_path / "runs"
    _run_file(out, "good", GOOD_STUDY, 1.0)
    df = results.load(out)
    bad = df.assign(run_id="bad", recipe_json=json.dumps({"study": "x"}))
    broken = df.assign(run_id="broken", recipe_json="{not json")
    import pandas as pd

    t = study.trials_table(pd.concat([df, bad, broken], ignore_index=True))
    assert list(t["trial"]) == [0]
    assert "skipping run 'bad'" in capsys.readouterr().err


@pytest.mark.parametrize("metric, says", [
    ("bogus", "no metric 'bogus' in these runs (they have: d_loss, frechet_data)"),
    ("d_loss", "metric 'd_loss' has no better direction")])
def test_results_study_needs_a_known_ranked_metric(tmp_path, capsys, metric, says):
    out = tmp_path / "runs"
    _run_file(out, "good", GOOD_STUDY, 1.0)
    assert cli.main(["results", str(out), "--study", metric]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1
    assert cli.main(["results", str(out), "--study", "frechet_data", "--json"]) == 0


def test_direction_is_per_metric_not_per_trial(tmp_path, capsys):
    """A trial that failed before evaluating its metric does not decide the direction (it once
    did: False, ranking a higher-is-better metric backwards), and tampered runs that disagree
    on the direction are refused."""
    out = tmp_path / "runs"
    at = {"step": 5, "images_seen": 320, "wall_s": 0.5}
    _run_file(out, "a", GOOD_STUDY, rows=[{**at, "metric": "modes", "value": 7.0,
                                            "higher_is_better": True}])
    _run_file(out, "b", {**GOOD_STUDY, "trial": 1},
              rows=[{**at, "metric": "modes", "value": 3.0, "higher_is_better": True}])
    _run_file(out, "c", {**GOOD_STUDY, "trial": 2},
              rows=[{**at, "metric": "d_loss", "value": 0.1}])
    df = results.load(out)
    (s,) = study.summarize(df, "modes")
    assert s["trials"] == 3 and s["failed"] == 1 and s["best_trial"] == 0
    assert s["expected_best"][-1]["expected_best"] == 7.0
    flipped = df.copy()
    flipped.loc[flipped["run_id"] == "b", "higher_is_better"] = False
    with pytest.raises(UsageError, match="disagree on whether higher 'modes' is better"):
        study.summarize(flipped, "modes")


def test_one_trial_has_no_band_and_json_stays_strict(tmp_path, capsys):
    out = tmp_path / "runs"
    _run_file(out, "good", GOOD_STUDY, 1.5)
    assert cli.main(["results", str(out), "--study", "--json"]) == 0
    (s,) = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(c))
    assert s["expected_best"] == [{"k": 1, "expected_best": 1.5, "ci_low": None,
                                   "ci_high": None}]
    assert cli.main(["results", str(out), "--study"]) == 0
    assert "k=1   1.5 (no band from one trial)" in capsys.readouterr().out


def test_a_dataset_without_the_metric_is_left_out_not_counted_as_failed(tmp_path, capsys):
    out = tmp_path / "runs"
    at = {"step": 5, "images_seen": 320, "wall_s": 0.5}
    _run_file(out, "a", GOOD_STUDY, 1.0)
    _run_file(out, "b", {**GOOD_STUDY, "trial": 1}, 2.0)
    meta = {"run_id": "m", "variant": "non-saturating", "dataset": "mnist", "seed": 0,
            "status": "completed", "config": {"study": GOOD_STUDY}}
    results.write_run(out, meta, [{**at, "metric": "custom", "value": 3.0,
                                   "higher_is_better": True}])
    df = results.load(out)
    (s,) = study.summarize(df)  # frechet_data: ring8 only; mnist has no main metric
    assert (s["dataset"], s["trials"], s["failed"]) == ("ring8", 2, 0)
    assert "runs on 'mnist' have no main metric" in capsys.readouterr().err
    (s,) = study.summarize(df, "frechet_data")
    assert (s["dataset"], s["trials"], s["failed"]) == ("ring8", 2, 0)
    assert "runs on 'mnist' have no 'frechet_data': left out" in capsys.readouterr().err


def test_a_trial_that_failed_before_evaluating_counts_as_failed(tmp_path, capsys):
    """A trial whose run failed before its first evaluation has no rows at all; it once
    vanished from the study (2 trials, 0 failed). It is a failed trial, in `results --study`
    and in the report's study section alike."""
    out = tmp_path / "runs"
    _run_file(out, "a", GOOD_STUDY, 1.0)
    _run_file(out, "b", {**GOOD_STUDY, "trial": 1}, 2.0)
    results.write_run(out, {"run_id": "c", "variant": "non-saturating", "dataset": "ring8",
                            "seed": 0, "status": "failed", "error": "RuntimeError: boom",
                            "config": {"variant": "non-saturating",
                                       "study": {**GOOD_STUDY, "trial": 2}}}, [])
    assert cli.main(["results", str(out), "--study", "--json"]) == 0
    (s,) = json.loads(capsys.readouterr().out)
    assert (s["trials"], s["failed"], s["best_trial"]) == (3, 1, 0)
    (s,) = study.summarize(results.load(out, empty_runs=True))
    assert (s["trials"], s["failed"]) == (3, 1)
    from ganbench.analysis import report

    report.make_report([out], tmp_path / "report")
    html = (tmp_path / "report" / "index.html").read_text()
    # once in the study's note (as without the failed trial), once in trial 2's row
    assert html.count("failed or diverged") == 2
