import json
import math

import pytest

from ganbench import results


def _meta(run_id, variant="v", dataset="d", seed=0, eval_spec="e1"):
    return {"run_id": run_id, "suite": "s", "variant": variant, "model": "m", "loss": "l",
            "dataset": dataset, "seed": seed, "budget": "10steps", "status": "completed",
            "device": "cpu", "torch": "x", "ganbench_version": "0", "git_sha": ""}


def _rows(values, metric="fid", hib=False, eval_spec="e1"):
    return [{"step": s, "images_seen": s * 10, "wall_s": s * 0.1, "metric": metric, "value": v,
             "unit": "", "higher_is_better": hib, "eval_spec": eval_spec}
            for s, v in values]


def test_write_is_atomic_and_loads_back(tmp_path):
    p = results.write_run(tmp_path, _meta("r1"), _rows([(0, 5.0), (10, 3.0)]))
    assert p.name == "r1.json"
    assert [f.name for f in tmp_path.iterdir()] == ["r1.json"]  # no temporary left behind
    df = results.load(tmp_path)
    assert list(df.columns) == results.COLUMNS
    assert len(df) == 2 and df["value"].tolist() == [5.0, 3.0]
    assert set(df["variant"]) == {"v"}


def test_summary_is_mean_and_std_of_final_values_over_seeds(tmp_path):
    for seed, final in [(0, 2.0), (1, 4.0), (2, 6.0)]:
        results.write_run(tmp_path, _meta(f"r{seed}", seed=seed),
                          _rows([(0, 100.0), (10, final)]))
    s = results.summarize(results.load(tmp_path))
    (row,) = s.to_dict("records")
    assert row["mean"] == 4.0 and row["std"] == pytest.approx(2.0) and row["runs"] == 3
    assert "4 ± 2" in results.format_summary(s)


def test_corrupt_file_is_reported_and_skipped(tmp_path):
    results.write_run(tmp_path, _meta("good"), _rows([(0, 1.0)]))
    (tmp_path / "truncated.json").write_text('{"format": "ganbench-run/1", "meta": {')
    (tmp_path / "other.json").write_text('{"hello": 1}')
    warnings = []
    df = results.load(tmp_path, warn=warnings.append)
    assert len(df) == 1
    assert len(warnings) == 2 and any("truncated.json" in w for w in warnings)


def test_compare_verdicts(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    results.write_run(a, _meta("x"), _rows([(10, 10.0)]) + _rows([(10, 5.0)], "modes", True))
    results.write_run(b, _meta("x"), _rows([(10, 8.0)]) + _rows([(10, 4.0)], "modes", True))
    c = results.compare(results.load(a), results.load(b)).set_index("metric")
    assert c.loc["fid", "delta"] == -2.0 and c.loc["fid", "verdict"] == "better"
    assert c.loc["modes", "verdict"] == "worse"
    assert c.loc["fid", "rel_delta"] == pytest.approx(-0.2)


def test_compare_flags_different_eval_specs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    results.write_run(a, _meta("x"), _rows([(10, 10.0)], eval_spec="e1"))
    results.write_run(b, _meta("x"), _rows([(10, 8.0)], eval_spec="e2"))
    c = results.compare(results.load(a), results.load(b))
    assert c["verdict"].tolist() == ["incomparable"]
    assert not c["same_eval_spec"].any()


def test_nan_values_survive_a_round_trip(tmp_path):
    results.write_run(tmp_path, _meta("n"), _rows([(0, float("nan"))]))
    assert math.isnan(results.load(tmp_path)["value"][0])
    assert json.loads((tmp_path / "n.json").read_text().replace("NaN", "null"))
