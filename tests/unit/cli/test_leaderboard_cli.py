"""The leaderboard and compact tables on the command line, at COLUMNS=100: ``ganbench
results`` (default view: the leaderboard; ``--long``: every metric; ``--dataset``),
``compare`` (each dataset's main metrics by default) and ``--anytime``; and the end of
``ganbench run``."""

import json

import pytest

from ganbench.store import results

from conftest import run_cli

ENV = {"COLUMNS": "100"}
LONG_NAME = "a-third-party-variant-with-a-long-name"


def _runs(out):
    """ring8 and digits: three seeds of two variants, with a diagnostic, and calibration."""
    sets = {
        "ring8": ("high_quality_pct", True, "%", {"non-saturating": [50.0, 52.0, 54.0],
                                                  LONG_NAME: [10.0, 11.0, 0.1],
                                                  "calib-real": [98.0], "calib-noise": [0.5]}),
        "digits": ("fid", False, "", {"dcgan": [15.0, 16.0, 17.0], LONG_NAME: [30.0, 60.0, 90.0],
                                      "calib-real": [2.7], "calib-noise": [466.0]}),
    }
    for dataset, (metric, hib, unit, by) in sets.items():
        for variant, values in by.items():
            calib = variant.startswith("calib-")
            for seed, v in enumerate(values):
                rows = []
                for step, (x, t) in enumerate([(0.0 if hib else 900.0, 0.0), (v, 10.0)]):
                    at = {"step": step * 100, "images_seen": step * 6400, "wall_s": t,
                          "eval_spec": f"e-{dataset}"}
                    rows += [{**at, "metric": metric, "value": x, "unit": unit,
                              "higher_is_better": hib},
                             {**at, "metric": "frechet_data", "value": 1.0 + x / 100,
                              "higher_is_better": False},
                             {**at, "metric": "d_loss", "value": 1.25, "higher_is_better": None}]
                results.write_run(out, {
                    "run_id": f"{variant}__{dataset}__s{seed}", "variant": variant,
                    "dataset": dataset, "seed": seed,
                    "status": "calibration" if calib else "completed",
                    "config": {"variant": variant, "dataset": dataset}},
                    rows[3:] if calib else rows)
    return out


@pytest.fixture
def runs(tmp_path):
    return _runs(tmp_path / "runs")


def _fits(text, width=100):
    assert all(len(line) <= width for line in text.splitlines()), \
        max(text.splitlines(), key=len)


def test_results_default_view_is_the_leaderboard(runs):
    r = run_cli("results", str(runs), env=ENV)
    assert r.returncode == 0, r.stderr
    _fits(r.stdout)
    out = r.stdout
    assert "digits: ranked by fid ↓, 3 seeds per variant" in out
    assert "ring8: ranked by high_quality_pct ↑ (%), 3 seeds per variant" in out
    ring = out[out.index("ring8: ranked"):]
    lines = ring.splitlines()
    assert lines[2].split()[:3] == ["1", "★", "non-saturating"]
    assert "! 1/3 < noise" in lines[3]  # seed 2 at 0.1% against noise's 0.5%
    assert "d_loss" not in out and "nan" not in out.lower()
    assert "tied" in out  # the footer


def test_results_dataset_long_and_csv(runs):
    r = run_cli("results", str(runs), "--dataset", "ring8", env=ENV)
    assert r.returncode == 0, r.stderr
    assert "ring8: ranked" in r.stdout and "digits" not in r.stdout
    r = run_cli("results", str(runs), "--long", env=ENV)
    assert r.returncode == 0, r.stderr
    assert "d_loss" in r.stdout  # diagnostics with --long
    r = run_cli("results", str(runs), "--dataset", "nope", env=ENV)
    assert r.returncode == 2 and "nope" in r.stderr and len(r.stderr.splitlines()) == 1
    r = run_cli("results", str(runs), "--csv", env=ENV)  # the summary table, as before
    assert r.returncode == 0 and r.stdout.startswith("variant,dataset,metric,setting,mean")


def test_compare_defaults_to_the_main_metrics_and_fits(runs):
    r = run_cli("compare", str(runs), "--variants", f"non-saturating,{LONG_NAME}", env=ENV)
    assert r.returncode == 0, r.stderr
    _fits(r.stdout)
    assert "high_quality_pct ↑" in r.stdout and "d_loss" not in r.stdout
    assert "frechet_data" not in r.stdout  # not a main metric of ring8
    assert "Holm" in r.stdout and "nan" not in r.stdout.lower()
    r = run_cli("compare", str(runs), "--variants", f"non-saturating,{LONG_NAME}", "--long",
                "--json", env=ENV)
    assert {"frechet_data", "d_loss"} <= {x["metric"] for x in json.loads(r.stdout)}


def test_anytime_text_fits_with_units_and_directions(runs):
    r = run_cli("results", str(runs), "--anytime", env=ENV)
    assert r.returncode == 0, r.stderr
    _fits(r.stdout)
    assert "final fid ↓" in r.stdout and "final high_quality_pct ↑" in r.stdout
    assert "nan" not in r.stdout.lower() and "time avg" in r.stdout


def test_run_ends_with_the_leaderboard(tmp_path):
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget", "2steps",
                "--eval-samples", "50", "--evals", "1", "--out", str(tmp_path), "-q", env=ENV)
    assert r.returncode == 0, r.stderr
    _fits(r.stdout)
    assert "ring8: ranked by high_quality_pct ↑ (%), 1 seed per variant" in r.stdout
    assert "calib-noise" in r.stdout and "d_real" not in r.stdout
