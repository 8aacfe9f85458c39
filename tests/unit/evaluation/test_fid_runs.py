"""FID and label metrics inside real runs: recorded at every evaluation, labelled with the
EvalSpec and extractor, and they show learning."""

import json

import pytest

from ganbench.planning.budget import Budget
from ganbench.planning.plan import plan
from ganbench.training.runner import train


def _job(reg, **kw):
    return plan(reg, variants=["non-saturating"], datasets=["digits"],
                budget=Budget.parse("300steps"), seeds=[0], evals=3, eval_samples=500, **kw)[0]


@pytest.mark.slow
def test_fid_recorded_every_evaluation_and_learning_shows(reg, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path))
    res = train(_job(reg), reg, device="cpu")
    spec = res.eval_spec
    assert spec.extractor == "ganbench-digits" and spec.n_reference == 500
    assert spec.resize is None and len(spec.extractor_hash) == 64
    fid = {r["step"]: r["value"] for r in res.rows if r["metric"] == "fid"}
    assert sorted(fid) == [0, 100, 200, 300]
    assert min(fid[200], fid[300]) < 0.5 * fid[0], fid  # the generator learned
    metrics = {r["metric"] for r in res.rows}
    assert {"kid", "is", "precision", "recall", "classes_covered", "class_kl"} <= metrics
    assert "cond_accuracy" not in metrics  # unconditional
    assert {r["eval_spec"] for r in res.rows} == {spec.hash}
    final = {r["metric"]: r["value"] for r in res.rows if r["step"] == 300}
    assert 1 <= final["classes_covered"] <= 10 and 0 <= final["class_kl"] <= 2.31  # log 10
    assert 0 <= final["precision"] <= 1 and 0 <= final["recall"] <= 1


def test_eval_options_change_the_spec_and_the_run_id(reg, tmp_path):
    from ganbench.evaluation.extractors.select import eval_spec_for
    from ganbench_plugins.datasets import load_digits
    from ganbench.api.specs import DataRequest

    ds = reg.datasets.get("digits")
    train_data = load_digits(DataRequest("train"))
    base = _job(reg)
    test_ref = _job(reg, eval_options={"reference": "test"})
    s1, e1, r1 = eval_spec_for(base, ds, train_data)
    s2, e2, r2 = eval_spec_for(test_ref, ds, train_data)
    assert len(r1) == 1437 and len(r2) == 360 and s2.n_reference == 360
    assert s1.hash != s2.hash and base.run_id != test_ref.run_id
    none, ext, ref = eval_spec_for(_job(reg, eval_options={"extractor": "none"}), ds, train_data)
    assert ext is None and ref is None and none.extractor == "data"
    # jobs without evaluation options keep the run ids they had before they existed
    assert "eval_options" not in base.config()


def test_cli_rows_name_their_extractor_and_compare_flags_other_specs(tmp_path, monkeypatch,
                                                                     capsys):
    from ganbench.cli import main

    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path))
    common = ["run", "--variant", "non-saturating", "--dataset", "digits", "--budget",
              "20steps", "--evals", "1", "--eval-samples", "300", "-q", "--no-calibration"]
    assert main(common + ["--out", str(tmp_path / "a")]) == 0
    assert main(common + ["--fid-reference", "test", "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["results", str(tmp_path / "a"), "--long", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["extractor"] for r in rows} == {"ganbench-digits"}
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--metric", "fid",
                 "--json"]) == 0
    out = capsys.readouterr()
    assert [r["verdict"] for r in json.loads(out.out)] == ["incomparable"]
    assert "different EvalSpecs" in out.err
    assert main(["results", str(tmp_path / "a"), "--anytime", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["metric"] == "fid" and row["runs"] == 1 and row["diverged"] == 0


def test_label_metrics_reuse_the_extractors_predictions_inside_a_run(reg, tmp_path,
                                                                     monkeypatch):
    """In a run the classifier is not run a second time over the samples for the label metrics,
    and the label values are exactly those of a separate classification pass."""
    from ganbench.evaluation import labels
    from ganbench.evaluation.extractors import domain

    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path))
    job = plan(reg, variants=["cgan"], datasets=["digits"], budget=Budget.parse("40steps"),
               seeds=[0], evals=1, eval_samples=400)[0]
    calls = []
    real_predict = labels.predict
    monkeypatch.setattr(labels, "predict", lambda *a, **k: calls.append(1) or real_predict(*a, **k))
    tapped = train(job, reg, device="cpu")
    assert calls == []  # both evaluations took the tapped predictions

    monkeypatch.setattr(domain.PredictionTap, "predictions", lambda self, n: None)
    separate = train(job, reg, device="cpu")
    assert len(calls) == 2  # without the tap: one classification pass per evaluation

    def label_rows(res):
        return {(r["step"], r["metric"]): r["value"] for r in res.rows
                if r["metric"] in ("classes_covered", "class_kl", "cond_accuracy")}

    assert len(label_rows(tapped)) == 6 and label_rows(tapped) == label_rows(separate)
