"""The leaderboard (ganbench.analysis.leaderboard) on synthetic results with known numbers:
ordering by the dataset's registered main metric, best / tied / worse-than-noise marks, the
ratios to the calibration rows, intervals clipped to a metric's range, the 100-column width;
and the main-metric registration (DatasetSpec.main_metrics / headline)."""

import math

import pandas as pd
import pytest
from scipy import stats

from ganbench.analysis import leaderboard as lb
from ganbench.store import results

T975_2 = stats.t.ppf(0.975, 2)  # the 95% t quantile with 3 seeds


def frame(dataset, metric, hib, by_variant, extra=None, unit=""):
    """A long results frame: ``by_variant`` maps variant -> final values (one run per value);
    ``extra`` maps variant -> {metric: values} of further metrics (same seeds)."""
    rows = []
    for variant, values in by_variant.items():
        calib = variant.startswith("calib-")
        for seed, v in enumerate(values):
            run = f"{variant}__{dataset}__s{seed}"
            base = dict(run_id=run, suite="quick", variant=variant, model="m", loss="l",
                        dataset=dataset, seed=seed, budget="1steps",
                        status="calibration" if calib else "completed", eval_spec="e1",
                        recipe_json='{"r": 1}', images_seen=0, wall_s=0.0)
            metrics = {metric: (v, hib, unit)}
            for m, vals in ((extra or {}).get(variant) or {}).items():
                metrics[m] = (vals[seed], True, "")
            for m, (value, h, u) in metrics.items():
                rows.append({**base, "step": 0, "metric": m, "value": 1e9, "unit": u,
                             "higher_is_better": h})
                rows.append({**base, "step": 10, "metric": m, "value": value, "unit": u,
                             "higher_is_better": h})
    df = pd.DataFrame(rows)
    for c in results.COLUMNS:
        if c not in df:
            df[c] = None
    df["recipe"] = df["recipe_json"].map(lambda t: "r1")
    return df[results.COLUMNS]


RING = {  # % high quality (higher is better), three seeds each; noise 0.5%, real 98%
    "alpha": [50.0, 52.0, 54.0],  # best: mean 52, interval 52 ± 4.97
    "beta": [46.0, 48.0, 50.0],  # mean 48, interval [43.0, 53.0]: overlaps the best's
    "gamma": [10.0, 11.0, 12.0],  # mean 11: clearly behind
    "delta": [0.1, 0.2, 5.0],  # two seeds below the noise row
    "calib-noise": [0.5],
    "calib-real": [98.0],
}


def test_order_best_ties_and_noise_flags_on_known_numbers():
    board = lb.leaderboard(frame("ring8", "high_quality_pct", True, RING, unit="%"))
    assert list(board["variant"]) == ["alpha", "beta", "gamma", "delta", "calib-real",
                                      "calib-noise"]
    assert list(board["rank"][:4]) == [1, 2, 3, 4] and board["rank"][4:].isna().all()
    assert set(board["main_metric"]) == {"high_quality_pct"}  # ring8's registered main metric
    r = board.set_index("variant")
    assert r.loc["alpha", "best"] and not r.loc["beta", "best"]
    assert r.loc["beta", "tied"] and not r.loc["gamma", "tied"] and not r.loc["delta", "tied"]
    half = T975_2 * 2 / math.sqrt(3)  # std 2 over 3 seeds
    assert r.loc["alpha", "high_quality_pct"] == pytest.approx(52.0)
    assert r.loc["alpha", "high_quality_pct:low"] == pytest.approx(52.0 - half)
    assert r.loc["beta", "high_quality_pct:high"] == pytest.approx(48.0 + half)
    assert r.loc["alpha", "x_noise"] == pytest.approx(52.0 / 0.5)
    assert r.loc["alpha", "vs_real"] == pytest.approx(52.0 / 98.0)
    assert r.loc["delta", "below_noise"] == 2 and r.loc["delta", "seeds"] == 3
    assert r.loc["alpha", "below_noise"] == 0
    # delta's interval would reach below 0 %: clipped to the metric's range
    d = RING["delta"]
    raw_low = sum(d) / 3 - T975_2 * pd.Series(d).std() / math.sqrt(3)
    assert raw_low < 0 and r.loc["delta", "high_quality_pct:low"] == 0.0
    text = lb.format_text(board)
    lines = text.splitlines()
    assert lines[0] == "ring8: ranked by high_quality_pct ↑ (%), 3 seeds per variant"
    alpha = next(x for x in lines if " alpha " in x)
    assert alpha.split()[:2] == ["1", "★"] and "104×" in alpha and "53%" in alpha
    beta = next(x for x in lines if " beta " in x)
    assert beta.split()[:2] == ["2", "="]
    assert "! 2/3 < noise" in next(x for x in lines if " delta " in x)
    assert "[0, " in next(x for x in lines if " delta " in x)  # clipped interval shown at 0
    assert "nan" not in text.lower()  # blanks, never NaN


def test_lower_is_better_main_metric_ranks_ascending_and_ratios_invert():
    fid = {"good": [10.0, 11.0, 12.0], "bad": [300.0, 310.0, 320.0], "mid": [60.0, 90.0, 30.0],
           "calib-noise": [400.0], "calib-real": [5.0]}
    board = lb.leaderboard(frame("digits", "fid", False, fid))
    assert list(board["variant"][:3]) == ["good", "mid", "bad"]
    r = board.set_index("variant")
    assert r.loc["good", "x_noise"] == pytest.approx(400 / 11)  # noise / value
    assert r.loc["good", "vs_real"] == pytest.approx(5 / 11)  # real / value
    # mid: mean 60, std 30: its interval [60 - 74.5, 60 + 74.5] reaches good's: tied
    assert r.loc["mid", "tied"]
    assert r.loc["mid", "fid:low"] == 0.0  # clipped: a distance's interval stops at 0
    assert r.loc["mid", "fid:high"] == pytest.approx(60 + T975_2 * 30 / math.sqrt(3))
    assert not r.loc["bad", "tied"] and r.loc["bad", "below_noise"] == 0
    assert "fid ↓" in lb.format_text(board)


def test_one_seed_gives_no_interval_and_no_ties():
    board = lb.leaderboard(frame("ring8", "high_quality_pct", True,
                                 {"a": [40.0], "b": [39.0], "calib-noise": [0.5]}, unit="%"))
    r = board.set_index("variant")
    assert r.loc["a", "best"] and not r.loc["b", "tied"]  # unknown: no interval, no tie
    assert math.isnan(r.loc["a", "high_quality_pct:low"])
    assert "1 seed per variant" in lb.format_text(board)


def test_registered_main_metric_decides_the_order(reg):
    """A plugin's dataset that names its main metric is ranked by it, not by the default
    rule; the built-ins follow the default rule (mixtures: % high quality, images: FID, else
    frechet_data)."""
    from ganbench.api.specs import DatasetSpec, DataSpec

    assert results.main_metrics("ring8")[:2] == ("high_quality_pct", "modes_covered")
    assert results.main_metrics("grid25")[0] == "high_quality_pct"
    assert results.main_metrics("digits")[0] == "fid"
    assert results.main_metrics("mnist")[0] == "fid"
    assert results.main_metrics("gaussian") == ("frechet_data",)
    assert results.main_metric("digits", {"frechet_data", "kid"}) == "frechet_data"
    assert results.main_metric("not-registered", {"reverse_kl", "frechet_data"}) == \
        "frechet_data"
    spec = DatasetSpec("toy-plugin-set", DataSpec("points", (2,)), load=lambda r: None,
                       description="x", main_metrics=("recall",))
    assert spec.headline() == ("recall",)
    one = DatasetSpec("x", DataSpec("points", (2,)), load=lambda r: None, description="x",
                      main_metrics="fid")
    assert one.main_metrics == ("fid",)  # a plain name is a tuple of one
    with pytest.raises(TypeError, match="main_metrics must be metric names"):
        DatasetSpec("x", DataSpec("points", (2,)), load=lambda r: None, description="x",
                    main_metrics=("fid", 3))
    reg.datasets.add(spec, "test_plugin")
    values = {"a": [0.9, 0.91, 0.92], "b": [0.5, 0.51, 0.52]}
    # frechet_data says b is better (lower); the registered main metric, recall, says a is
    df = pd.concat([frame("toy-plugin-set", "recall", True, values),
                    frame("toy-plugin-set", "frechet_data", False, values)])
    board = lb.leaderboard(df)
    assert list(board["variant"]) == ["a", "b"] and set(board["main_metric"]) == {"recall"}


def test_text_fits_100_columns_and_long_shows_diagnostics():
    long_name = "a-variant-with-a-very-long-plugin-name-that-goes-on"
    values = {long_name: [10.0, 11.0, 12.5], "short": [20.0, 21.0, 23.0],
              "calib-noise": [400.0], "calib-real": [4.0]}
    extra = {v: {"precision": [0.5, 0.6, 0.7], "recall": [0.1, 0.2, 0.3],
                 "coverage": [0.3, 0.4, 0.5]} for v in values}
    df = frame("digits", "fid", False, values, extra)
    diag = df[df["metric"] == "fid"].assign(metric="d_loss", higher_is_better=None)
    df = pd.concat([df, diag])
    text = lb.format_text(lb.leaderboard(df), width=100)
    assert max(map(len, text.splitlines())) <= 100
    assert "d_loss" not in text and "a-variant-with" in text
    long = lb.format_text(lb.leaderboard(df, long=True), long=True)
    assert "d_loss" in long and "coverage" in long


def test_html_marks_best_tied_and_calibration_rows():
    board = lb.leaderboard(frame("ring8", "high_quality_pct", True, RING, unit="%"))
    page = lb.format_html(board)
    assert "<tr class='best' data-variant='alpha'>" in page
    assert "<tr class='tied' data-variant='beta'>" in page
    assert "<tr class='calib' data-variant='calib-noise'>" in page
    assert "data-variant='delta'" in page and "! 2/3 &lt; noise" in page
    assert "overlaps the best" in page  # the footer says what tied means


def test_a_small_real_split_is_labelled_with_its_sample_count():
    from ganbench.evaluation.calibration import SAMPLES_METRIC

    assert lb.SAMPLES_METRIC == SAMPLES_METRIC
    df = frame("digits", "fid", False, {"a": [10.0, 11.0, 12.0], "calib-real": [2.7]})
    small = df[df["variant"] == "calib-real"].assign(metric=SAMPLES_METRIC, value=360.0,
                                                      higher_is_better=None)
    board = lb.leaderboard(pd.concat([df, small]))
    assert "calib-real (n=360)" in lb.format_text(board)


def test_compare_text_main_metric_first_fits_100_columns_with_a_footer():
    a = frame("ring8", "high_quality_pct", True, {"x vs y": [10.0, 11.0, 12.0]},
              {"x vs y": {"modes_covered": [8.0, 8.0, 8.0], "recall": [0.1, 0.2, 0.3]}},
              unit="%")
    b = frame("ring8", "high_quality_pct", True, {"x vs y": [50.0, 52.0, 54.0]},
              {"x vs y": {"modes_covered": [8.0, 8.0, 8.0], "recall": [0.1, 0.2, 0.3]}},
              unit="%")
    main_a, main_b = results.main_rows(a), results.main_rows(b)
    assert set(main_a["metric"]) == {"high_quality_pct", "modes_covered"}  # ring8's mains
    text = lb.format_compare(results.compare(main_a, main_b))
    lines = text.splitlines()
    assert lines[1].split()[:3] == ["ring8", "x", "vs"] and "high_quality_pct ↑" in lines[1]
    assert "+41 [" in lines[1] and lines[1].rstrip().endswith("better")
    assert "modes_covered ↑" in lines[2] and lines[2].rstrip().endswith("n.s.")
    assert "nan" not in text.lower() and max(map(len, lines)) <= 100
    assert "Holm-adjusted" in text


def test_a_mean_worse_than_noise_on_another_metric_is_marked():
    values = {"a": [50.0, 52.0, 54.0], "b": [40.0, 41.0, 42.0], "calib-noise": [0.5]}
    modes = {"a": {"modes_covered": [25.0, 25.0, 25.0]}, "b": {"modes_covered": [17.0, 18.0, 16.0]},
             "calib-noise": {"modes_covered": [22.0]}}
    board = lb.leaderboard(frame("grid25", "high_quality_pct", True, values, modes, unit="%"))
    r = board.set_index("variant")
    assert r.loc["b", "worse_than_noise"] == "modes_covered" and r.loc["a", "worse_than_noise"] == ""
    lines = lb.format_text(board).splitlines()
    assert next(x for x in lines if " b " in x).rstrip().endswith("17 !")
    assert next(x for x in lines if " a " in x).rstrip().endswith("25")


def test_list_datasets_names_each_main_metric():
    import json

    from conftest import run_cli

    r = run_cli("list", "datasets", "--json")
    sets = {d["name"]: d for d in json.loads(r.stdout)["datasets"]}
    assert sets["ring8"]["main_metrics"][0] == "high_quality_pct"
    assert sets["digits"]["main_metrics"][0] == "fid"
    assert "ranked by high_quality_pct" in run_cli("list", "datasets").stdout
