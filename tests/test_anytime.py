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
