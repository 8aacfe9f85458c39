import math

import pandas as pd
import pytest

from ganbench.analysis import anytime


def _rows(run_id, seed, points, status="completed", metric="fid", variant="v"):
    return [dict(run_id=run_id, variant=variant, dataset="digits", seed=seed, status=status,
                 step=i, wall_s=t, metric=metric, value=v, higher_is_better=False,
                 eval_spec="abc") for i, (t, v) in enumerate(points)]


def test_area_final_and_time_average_per_run():
    df = pd.DataFrame(_rows("r0", 0, [(0, 100), (10, 50), (30, 10)])
                      + _rows("r0", 0, [(0, 5), (30, 1)], metric="frechet_data"))
    r = anytime.per_run(df).iloc[0]
    assert r["metric"] == "fid"  # the main metric wins over frechet_data
    assert r["final"] == 10 and r["best"] == 10 and r["evals"] == 3
    assert r["auc"] == pytest.approx(10 * 75 + 20 * 30)  # trapezoids
    assert r["time_avg"] == pytest.approx((750 + 600) / 30)
    assert not r["diverged"]
    assert anytime.per_run(df, "frechet_data").iloc[0]["auc"] == pytest.approx(90)


def test_spread_over_seeds_and_divergence_flag():
    df = pd.DataFrame(_rows("a", 0, [(0, 100), (10, 20)]) + _rows("b", 1, [(0, 100), (10, 40)])
                      + _rows("c", 2, [(0, 100), (10, math.nan)], status="diverged"))
    s = anytime.summarize(df).iloc[0]
    assert s["runs"] == 3 and s["diverged"] == 1
    assert s["final_mean"] == pytest.approx(30)  # NaN final of the diverged run is skipped
    assert s["final_std"] == pytest.approx(math.sqrt(200))
    runs = anytime.per_run(df).set_index("run_id")
    assert runs.loc["c", "diverged"] and math.isnan(runs.loc["c", "auc"])


def test_text_ranks_by_time_average_in_the_metrics_direction_with_blanks_and_footer():
    df = pd.DataFrame(_rows("a", 0, [(0, 100), (10, 20)], variant="fast")
                      + _rows("b", 0, [(0, 100), (10, 80)], variant="slow")
                      + _rows("c", 1, [(0, 100), (10, 60)], variant="slow"))
    df["unit"] = ""
    text = anytime.format_summary(anytime.summarize(df))
    lines = text.splitlines()
    assert lines[0] == "digits: anytime fid"
    assert "final fid ↓" in lines[1] and "AUC (fid·s)" in lines[1]
    assert lines[2].split()[0] == "fast" and lines[3].split()[0] == "slow"  # lower is better
    assert "600" in lines[2] and "70 ± 14.1" in lines[3]  # one seed: no ± (no 'nan')
    assert "nan" not in text.lower() and "time avg" in text and max(map(len, lines)) <= 100


def test_main_metric_is_the_datasets_registration():
    """ring8's main metric is % high quality (its registration's rule), not frechet_data,
    where the saturating loss looked better."""
    rows = []
    for run, variant, hq, fd in (("a", "ns", 47.0, 0.3), ("b", "mm", 9.6, 0.04)):
        for i, (t, h, f) in enumerate([(0, 0.0, 5.0), (10, hq, fd)]):
            base = dict(run_id=run, variant=variant, dataset="ring8", seed=0,
                        status="completed", step=i, wall_s=t, eval_spec="e", unit="")
            rows += [dict(base, metric="high_quality_pct", value=h, higher_is_better=True),
                     dict(base, metric="frechet_data", value=f, higher_is_better=False)]
    runs = anytime.per_run(pd.DataFrame(rows)).set_index("variant")
    assert set(runs["metric"]) == {"high_quality_pct"}
    assert runs.loc["ns", "time_avg"] > runs.loc["mm", "time_avg"]
