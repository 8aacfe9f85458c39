"""The report opens with the leaderboard: on run files with known numbers its table ranks the
variants by the dataset's main metric, marks the best and the tied rows, and puts the
calibration rows last; read from the HTML and, where Chromium is installed, from the page as a
browser renders it."""

import shutil

import pytest

from ganbench.store import results

RING = {"alpha": [50.0, 52.0, 54.0], "beta": [46.0, 48.0, 50.0], "gamma": [10.0, 11.0, 12.0],
        "calib-real": [98.0], "calib-noise": [0.5]}


def _runs(out, extra_metrics=0):
    for variant, values in RING.items():
        calib = variant.startswith("calib-")
        for seed, v in enumerate(values):
            meta = {"run_id": f"{variant}__ring8__s{seed}", "variant": variant,
                    "dataset": "ring8", "seed": seed, "suite": "quick",
                    "status": "calibration" if calib else "completed",
                    "config": {"variant": variant, "dataset": "ring8", "seed": seed}}
            rows = []
            for step, (hq, fd) in enumerate([(0.0, 9.0), (v, 1.0 / v)]):
                at = {"step": step * 100, "images_seen": step * 6400, "wall_s": step * 5.0,
                      "eval_spec": "e1"}
                rows += [{**at, "metric": "high_quality_pct", "value": hq, "unit": "%",
                          "higher_is_better": True},
                         {**at, "metric": "frechet_data", "value": fd,
                          "higher_is_better": False}]
                rows += [{**at, "metric": f"extra_metric_{i:02d}", "value": 12345.678 + v,
                          "higher_is_better": True} for i in range(extra_metrics)]
            results.write_run(out, meta, rows[2:] if calib else rows)
    return out


def _board_rows(page: str):
    import re

    table = re.search(r"<table class='leaderboard' data-dataset='ring8'>(.*?)</table>", page,
                      re.S).group(1)
    return re.findall(r"<tr class='([^']*)' data-variant='([^']+)'>", table)


def test_report_opens_with_the_leaderboard(tmp_path):
    from ganbench.analysis.report import make_report

    index = make_report([_runs(tmp_path / "runs")], tmp_path / "report", warn=lambda m: None)
    page = index.read_text()
    assert page.index("id='leaderboard'") < page.index("id='ds-ring8'")  # at the top
    assert _board_rows(page) == [("best", "alpha"), ("tied", "beta"), ("", "gamma"),
                                 ("calib", "calib-real"), ("calib", "calib-noise")]
    assert "high_quality_pct ↑ [95% CI]" in page and "104×" in page


def _browser(index, width):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = _chromium()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--window-size={width},1200"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    driver.get(index.as_uri())
    return driver


def _chromium():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


@pytest.mark.skipif(_chromium() is None or shutil.which("chromedriver") is None,
                    reason="needs Chromium and chromedriver (apt-get install chromium "
                    "chromium-driver; .ci/run installs them)")
def test_leaderboard_as_the_browser_shows_it(tmp_path):
    pytest.importorskip("selenium", reason="needs selenium (pip install -e '.[dev]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from ganbench.analysis.report import make_report

    index = make_report([_runs(tmp_path / "runs")], tmp_path / "report", warn=lambda m: None)
    opts = webdriver.ChromeOptions()
    opts.binary_location = _chromium()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1200"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.get(index.as_uri())
        table = driver.find_element(By.CSS_SELECTOR, "table.leaderboard[data-dataset='ring8']")
        rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in table.find_elements(By.TAG_NAME, "tr")[1:]]
        assert [r[2] for r in rows] == ["alpha", "beta", "gamma", "calib-real", "calib-noise"]
        assert rows[0][:2] == ["1", "★"] and rows[1][:2] == ["2", "="]
        assert rows[0][4].startswith("52 [") and rows[0][5] == "104×"
        best = table.find_element(By.CSS_SELECTOR, "tr.best td")
        assert best.value_of_css_property("font-weight") in ("700", "bold")
        assert table.location["y"] < driver.find_element(By.ID, "ds-ring8").location["y"]
    finally:
        driver.quit()


@pytest.mark.skipif(_chromium() is None or shutil.which("chromedriver") is None,
                    reason="needs Chromium and chromedriver (apt-get install chromium "
                    "chromium-driver; .ci/run installs them)")
def test_a_report_with_many_metrics_does_not_widen_the_page(tmp_path):
    """The final-metrics table holds every metric of the run files; with 24 of them it is wider
    than 1400 px, and it scrolls in its own box: the page itself stays 1400 px wide."""
    pytest.importorskip("selenium", reason="needs selenium (pip install -e '.[dev]')")
    from selenium.webdriver.common.by import By

    from ganbench.analysis.report import make_report

    index = make_report([_runs(tmp_path / "runs", extra_metrics=24)], tmp_path / "report",
                        warn=lambda m: None)
    driver = _browser(index, 1400)
    try:
        page_width = driver.execute_script("return document.documentElement.scrollWidth")
        view = driver.execute_script("return document.documentElement.clientWidth")
        box = driver.find_element(By.CSS_SELECTOR, "div.wide")
        table = box.find_element(By.TAG_NAME, "table")
        assert table.size["width"] > view  # the table is wider than the page ...
        assert page_width <= view  # ... and the page does not scroll sideways
        assert box.value_of_css_property("overflow-x") == "auto"
    finally:
        driver.quit()


def test_final_metrics_intervals_stay_in_the_metrics_range(tmp_path):
    """frechet_data of 0.1, 0.1 and 30 over three seeds: mean 10.07, t-interval
    10.07 ± 4.303 · 17.26 / √3, whose lower end (-32.8) a distance cannot take; the report's
    final-metrics table shows it clipped at 0, as the leaderboard does."""
    import math
    import re

    from ganbench.analysis.report import make_report

    out = tmp_path / "runs"
    for seed, v in enumerate([0.1, 0.1, 30.0]):
        meta = {"run_id": f"a__ring8__s{seed}", "variant": "a", "dataset": "ring8",
                "seed": seed, "suite": "quick", "status": "completed",
                "config": {"variant": "a", "dataset": "ring8", "seed": seed}}
        results.write_run(out, meta, [{"step": 100, "images_seen": 6400, "wall_s": 5.0,
                                       "eval_spec": "e1", "metric": "frechet_data",
                                       "value": v, "higher_is_better": False}])
    sd = math.sqrt(sum((v - 10.0667) ** 2 for v in [0.1, 0.1, 30.0]) / 2)
    assert 10.0667 - 4.303 * sd / math.sqrt(3) < -30  # the unclipped interval leaves the range
    page = make_report([out], tmp_path / "report", warn=lambda m: None).read_text()
    final = page[page.index("Final metrics"):]
    cell = re.search(r"10\.1 \[([^,\]]+), ([^\]]+)\]", final)
    assert cell is not None and float(cell.group(1)) == 0.0 and float(cell.group(2)) > 50
