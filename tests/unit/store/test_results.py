import json
import math

import pytest

from ganbench.store import results


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


def test_compare_verdicts_follow_welch_over_seeds(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for seed, (fa, fb) in enumerate([(10.0, 8.0), (10.5, 8.2), (9.5, 7.9)]):
        results.write_run(a, _meta(f"x{seed}", seed=seed),
                          _rows([(10, fa)]) + _rows([(10, 5.0 + seed)], "modes", True))
        results.write_run(b, _meta(f"x{seed}", seed=seed),
                          _rows([(10, fb)]) + _rows([(10, 4.9 + seed)], "modes", True))
    c = results.compare(results.load(a), results.load(b)).set_index("metric")
    fid = c.loc["fid"]
    assert fid["delta"] == pytest.approx((8.0 + 8.2 + 7.9) / 3 - 10.0)
    assert fid["ci_low"] < fid["delta"] < fid["ci_high"] < 0
    assert fid["p_value"] < 0.05 and fid["verdict"] == "better"
    assert fid["rel_delta"] == pytest.approx(fid["delta"] / 10.0)
    # a 0.1 drop on a metric whose seeds spread by 1: no significant difference
    assert c.loc["modes", "verdict"] == "no significant difference"
    assert c.loc["modes", "p_value"] > 0.5


def test_compare_with_one_seed_gives_no_interval(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    results.write_run(a, _meta("x"), _rows([(10, 10.0)]))
    results.write_run(b, _meta("x"), _rows([(10, 8.0)]))
    (row,) = results.compare(results.load(a), results.load(b)).to_dict("records")
    assert row["delta"] == -2.0 and math.isnan(row["ci_low"]) and math.isnan(row["p_value"])
    assert row["verdict"] == "no interval (1 seed)"


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


def test_summary_carries_the_t_interval_of_the_mean(tmp_path):
    for seed, final in enumerate([2.0, 4.0, 6.0]):
        results.write_run(tmp_path, _meta(f"r{seed}", seed=seed), _rows([(10, final)]))
    (row,) = results.summarize(results.load(tmp_path)).to_dict("records")
    half = 4.302652729911275 * 2.0 / math.sqrt(3)  # t(0.975, 2 dof) · s / √n
    assert row["ci_low"] == pytest.approx(4 - half) and row["ci_high"] == pytest.approx(4 + half)
    # the table shows it clipped to the metric's range (FID >= 0); the summary keeps the t-interval
    assert "4 ± 2 [0, 8.97]" in results.format_summary(results.summarize(results.load(tmp_path)))


def test_copies_of_one_run_count_once(tmp_path):
    p = results.write_run(tmp_path / "a", _meta("r0"), _rows([(10, 3.0)]))
    for i in range(2000):
        (tmp_path / f"copy{i}.json").write_bytes(p.read_bytes())
    warnings = []
    (row,) = results.summarize(results.load(tmp_path, warn=warnings.append)).to_dict("records")
    assert row["runs"] == 1 and row["mean"] == 3.0 and math.isnan(row["std"])
    assert any("counted once" in w for w in warnings)


def _meta_cfg(run_id, seed, budget="10steps", lr=1e-3):
    m = _meta(run_id, seed=seed)
    m["budget"] = budget
    m["config"] = {"variant": "v", "model": "m", "loss": "l", "dataset": "d", "seed": seed,
                   "budget": budget, "hparams": {"lr_g": lr, "batch_size": 64}}
    return m


def test_only_seeds_of_one_recipe_and_eval_spec_are_pooled(tmp_path):
    for seed in range(3):
        results.write_run(tmp_path, _meta_cfg(f"a{seed}", seed), _rows([(10, 1.0 + seed)]))
        results.write_run(tmp_path, _meta_cfg(f"b{seed}", seed, budget="20steps"),
                          _rows([(10, 10.0 + seed)]))
        results.write_run(tmp_path, _meta_cfg(f"c{seed}", seed, lr=1e-2),
                          _rows([(10, 100.0 + seed)]))
        results.write_run(tmp_path, _meta_cfg(f"d{seed}", seed),
                          _rows([(10, 1000.0 + seed)], eval_spec="e2"))
    s = results.summarize(results.load(tmp_path))
    assert sorted(s["mean"]) == [2.0, 11.0, 101.0, 1001.0]
    assert (s["runs"] == 3).all()
    settings = dict(zip(s["mean"], s["setting"]))
    assert "budget=20steps" in settings[11.0] and "lr_g=0.01" in settings[101.0]
    assert "eval_spec=e2" in settings[1001.0]
    text = results.format_summary(s)
    assert "lr_g=0.01" in text and "eval_spec=e2" in text


def _bad_run(tmp_path, name, mutate):
    good = {"format": "ganbench-run/1", "meta": _meta(name), "rows": _rows([(10, 1.0)])}
    mutate(good)
    (tmp_path / f"{name}.json").write_text(json.dumps(good) if not isinstance(good, str)
                                           else good)


@pytest.mark.parametrize("mutate", [
    lambda d: d["rows"][0].update(value="high"),
    lambda d: d["rows"][0].update(value=[1, 2]),
    lambda d: d["rows"][0].update(step="10"),
    lambda d: d["meta"].update(diverged_at_step=2.5),
    lambda d: d["meta"].update(run_id=["a", "b"]),
    lambda d: d["rows"][0].update(images_seen=-5),
], ids=["string-value", "list-value", "string-step", "float-diverged", "list-run-id",
        "negative-count"])
def test_run_files_with_wrong_types_are_one_named_skip(tmp_path, mutate):
    results.write_run(tmp_path, _meta("good"), _rows([(10, 2.0)]))
    _bad_run(tmp_path, "bad", mutate)
    warnings = []
    df = results.load(tmp_path, warn=warnings.append)
    assert set(df["run_id"]) == {"good"}
    assert len(warnings) == 1 and "bad.json" in warnings[0] and "\n" not in warnings[0]


def test_huge_number_and_junk_csv_are_skipped(tmp_path):
    results.write_run(tmp_path, _meta("good"), _rows([(10, 2.0)]))
    text = json.dumps({"format": "ganbench-run/1", "meta": _meta("big"),
                       "rows": _rows([(10, 1.0)])}).replace('"value": 1.0', '"value": 1' + "0" * 400)
    (tmp_path / "big.json").write_text(text)
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    warnings = []
    df = results.load([tmp_path, tmp_path / "junk.csv"], warn=warnings.append)
    assert set(df["run_id"]) == {"good"}
    assert any("big.json" in w for w in warnings) and any("junk.csv" in w for w in warnings)


def test_fifo_and_dev_zero_are_refused_without_blocking(tmp_path):
    import os

    results.write_run(tmp_path, _meta("good"), _rows([(10, 2.0)]))
    os.mkfifo(tmp_path / "fifo.json")
    os.symlink("/dev/zero", tmp_path / "zero.json")
    warnings = []
    df = results.load(tmp_path, warn=warnings.append)
    assert set(df["run_id"]) == {"good"}
    assert sum("not a regular file" in w for w in warnings) == 2


def _cli(*args):
    from conftest import run_cli

    return run_cli(*args)


def test_compare_cli_unknown_metric_and_json_intervals(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for seed in range(3):
        results.write_run(a, _meta(f"x{seed}", seed=seed), _rows([(10, 10.0 + seed)]))
        results.write_run(b, _meta(f"x{seed}", seed=seed), _rows([(10, 5.0 + seed)]))
    r = _cli("compare", str(a), str(b), "--metric", "bogus")
    assert r.returncode == 2 and "bogus" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = _cli("compare", str(a), str(b), "--json")
    (row,) = json.loads(r.stdout)
    assert row["delta"] == -5.0 and row["ci_low"] < -5.0 < row["ci_high"] < 0
    assert 0 < row["p_value"] < 0.05 and row["verdict"] == "better"
    r = _cli("compare", str(a), str(b))
    assert "better" in r.stdout and "Welch" in r.stdout


def test_export_parquet_with_mixed_types_and_no_temporary_left(tmp_path):
    import pandas as pd

    results.write_run(tmp_path / "r", _meta("m1"), _rows([(10, 1.0)]))
    m = _meta("m2")
    m["error"] = "boom"
    m["diverged_at_step"] = 3
    results.write_run(tmp_path / "r", m, _rows([(10, 2.0)]))
    out = tmp_path / "x.parquet"
    r = _cli("results", str(tmp_path / "r"), "--export", str(out))
    assert r.returncode == 0, r.stderr
    back = pd.read_parquet(out)
    assert sorted(back["value"]) == [1.0, 2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "x.parquet"]
    assert sorted(results.load(out)["run_id"]) == ["m1", "m2"]
