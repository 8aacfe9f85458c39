"""Every number and ordering claimed in README.md, docs/ and results/README.md is recomputed here from
the committed table it cites (results/*.csv), within the rounding printed."""

import importlib.util
import math
import re
import warnings
from functools import lru_cache
from pathlib import Path

import pytest
from conftest import REPO
from scipy import stats

RESULTS = Path(REPO, "results")


def _text(name):
    return Path(REPO, name).read_text()


def section(text, heading):
    """The body of the Markdown section ``heading`` (up to the next heading of any level)."""
    body = text.split(heading + "\n", 1)[1]
    return re.split(r"\n#{1,6} ", body, maxsplit=1)[0]


def md_rows(body, after=""):
    """The rows below the header of the first Markdown table in ``body`` after the text
    ``after``, as lists of cell strings."""
    lines = body.split(after, 1)[1].splitlines() if after else body.splitlines()
    rows, started = [], False
    for line in lines:
        if line.startswith("|"):
            started = True
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif started:
            break
    sep = next(i for i, r in enumerate(rows) if all(re.fullmatch(r"-+", c) for c in r))
    return rows[sep + 1:]


def near(printed, value):
    """``printed`` is ``value`` rounded to the digits printed (half a unit in its last digit)."""
    s = printed.replace("−", "-").replace("+", "").replace(",", "").replace("%", "").strip()
    mant, _, exp = s.partition("e")
    dec = len(mant.split(".")[1]) if "." in mant else 0
    tol = 0.5 * 10 ** ((int(exp) if exp else 0) - dec)
    return abs(float(s) - value) <= tol * (1 + 1e-9) + 1e-12


def check(printed, value, what=""):
    assert near(printed, value), f"{what}: printed {printed}, data {value}"


@lru_cache(maxsize=None)
def long_table(name):
    """A committed long table (``ganbench results --long --export``)."""
    import pandas as pd

    return pd.read_csv(RESULTS / name)


@lru_cache(maxsize=None)
def finals(name):
    """Final value of each run × metric of a committed long table."""
    from ganbench.store import results

    return results.final_values(long_table(name))


def throughput(name):
    """variant -> per-run mean of its ``images_per_s`` rows (training only), mean over runs."""
    df = long_table(name)
    ips = df[(df.metric == "images_per_s") & (df.step > 0)]
    return ips.groupby(["variant", "run_id"]).value.mean().groupby(level=0).mean()


def values(name, variant, dataset, metric):
    f = finals(name)
    g = f[(f.variant == variant) & (f.dataset == dataset) & (f.metric == metric)]
    return g.sort_values("seed")["value"].astype(float).tolist()


def mean_sd(x):
    m = sum(x) / len(x)
    return m, math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1))


def welch(a, b):
    """B − A: delta of means, its 95% Welch interval and two-sided p (scipy)."""
    with warnings.catch_warnings():  # one side's seeds may all agree (8 of 8 modes)
        warnings.simplefilter("ignore", RuntimeWarning)
        r = stats.ttest_ind(b, a, equal_var=False)
    ci = r.confidence_interval(0.95)
    return sum(b) / len(b) - sum(a) / len(a), ci.low, ci.high, r.pvalue


def signed(text):
    """Minus signs as the READMEs print them."""
    return text.replace("-", "−")


def assert_in(fragment, text):
    assert fragment in " ".join(text.split()), fragment


# --- the mnist reference tables (results/README.md) ---------------------------------------

MNIST = {"### Equal wall-clock: 60 s per run (`mnist-cpu-60s.csv`)": "mnist-cpu-60s.csv",
         "### Equal images seen: 96,000 per run (`mnist-cpu-96kimg.csv`)": "mnist-cpu-96kimg.csv"}
MNIST_COLUMNS = [None, "fid", "kid", "frechet_data", "precision", "recall", "classes_covered",
                 "class_kl"]  # after variant, seeds and FID at step 0


@pytest.mark.parametrize("heading", MNIST)
def test_mnist_tables_are_their_csv(heading):
    name = MNIST[heading]
    rows = md_rows(section(_text("results/README.md"), heading))
    assert len(rows) == 4
    df = long_table(name)
    for variant, seeds, fid0, *cells in rows:
        what = f"{name} {variant}"
        assert int(seeds) == df[df.variant == variant]["run_id"].nunique(), what
        at0 = df[(df.variant == variant) & (df.metric == "fid") & (df.step == 0)]
        for printed, v in zip(fid0.split(" ± "), mean_sd(at0["value"].tolist())):
            check(printed, v, what + " fid@0")
        for metric, cell in zip(MNIST_COLUMNS[1:], cells):
            for printed, v in zip(cell.split(" ± "),
                                  mean_sd(values(name, variant, "mnist", metric))):
                check(printed, v, f"{what} {metric}")
        f = finals(name)
        run = f[(f.variant == variant) & (f.metric == "fid")]
        steps, train_s, img_s = cells[-3:]
        check(steps, run["step"].mean(), what + " steps")
        check(train_s, run["wall_s"].mean(), what + " train s")
        check(img_s, throughput(name)[variant], what + " img/s")


def test_mnist_claims():
    text = _text("results/README.md")
    s60 = section(text, "### Equal wall-clock: 60 s per run (`mnist-cpu-60s.csv`)")
    s96 = section(text, "### Equal images seen: 96,000 per run (`mnist-cpu-96kimg.csv`)")
    f60, f96 = finals("mnist-cpu-60s.csv"), finals("mnist-cpu-96kimg.csv")
    fid60 = f60[f60.metric == "fid"].set_index(["variant", "seed"])

    # a minute buys the MLPs 2,693-3,449 G steps (345k-442k images), dcgan 170 (10.9k)
    mlp = fid60.drop(index="dcgan", level=0)
    means = mlp.groupby(level=0)[["step", "images_seen"]].mean()
    assert_in(f"MLP variants {means.step.min():,.0f}–{means.step.max():,.0f} G steps "
              f"({means.images_seen.min() / 1e3:.0f}k–{means.images_seen.max() / 1e3:.0f}k "
              "images", s60)
    dc = fid60.loc["dcgan"]
    assert_in(f"dcgan {dc.step.mean():.0f} ({dc.images_seen.mean() / 1e3:.1f}k images", s60)
    rate = throughput("mnist-cpu-60s.csv")
    slow = rate.drop("dcgan") / rate["dcgan"]
    assert_in(f"{slow.min():.0f}–{slow.max():.0f}× fewer images per second", s60)
    ns, mm = fid60.loc["non-saturating"], fid60.loc["vanilla-minimax"]
    more = ns.images_seen.mean() / mm.images_seen.mean() - 1
    assert_in(f"~{100 * more:.0f}% more images in its minute "
              f"({ns.images_seen.mean() / 1e3:.0f}k vs {mm.images_seen.mean() / 1e3:.0f}k)", s60)

    # non-saturating - minimax on FID, Welch, at equal wall-clock and at equal images
    for f in (f60, f96):
        a = f[(f.variant == "vanilla-minimax") & (f.metric == "fid")].value.tolist()
        b = f[(f.variant == "non-saturating") & (f.metric == "fid")].value.tolist()
        d, lo, hi, p = welch(a, b)
        assert_in(signed(f"= {d:+.1f} [{lo:.1f}, {hi:.1f}]") + f" (95% Welch t-interval), "
                  f"p = {p:.2g}", s60)
    assert "400kimg" not in text and "147.4" not in text  # no committed data behind them

    cg = f60[f60.variant == "cgan"]
    assert_in(f"class KL {cg[cg.metric == 'class_kl'].value.mean():.2f}", s60)
    acc = mean_sd(cg[cg.metric == "cond_accuracy"].value.tolist())
    assert_in(f"`cond_accuracy` {acc[0]:.2f} ± {acc[1]:.2f}", s60)

    # 96kimg: dcgan's FID and recall against the MLPs', classes covered, cgan
    fin96 = f96.set_index(["variant", "metric"])
    fid = fin96.xs("fid", level=1).value.groupby(level=0).mean()
    rec = fin96.xs("recall", level=1).value.groupby(level=0).mean()
    assert_in(f"FID {fid['dcgan']:.1f} and recall {rec['dcgan']:.2f} against "
              f"{fid.drop('dcgan').min():.0f}–{fid.drop('dcgan').max():.0f} and zero recall", s96)
    assert rec.drop("dcgan").max() == 0
    cls = fin96.xs("classes_covered", level=1).value.groupby(level=0).mean()
    assert_in(f"cover only {cls[['vanilla-minimax', 'non-saturating']].min():.1f}–"
              f"{cls[['vanilla-minimax', 'non-saturating']].max():.1f} classes", s96)
    acc = mean_sd(fin96.loc[("cgan", "cond_accuracy")].value.tolist())
    assert_in(f"(FID {fid['cgan']:.0f}, {cls['cgan']:.1f} classes, `cond_accuracy` "
              f"{acc[0]:.2f} ± {acc[1]:.2f})", s96)
    sd = mean_sd(fin96.loc[("vanilla-minimax", "fid")].value.tolist())[1]
    assert abs(fid["vanilla-minimax"] - fid["non-saturating"]) < sd  # "within one std"
    f96i = f96[f96.metric == "fid"].set_index("variant")
    rate = throughput("mnist-cpu-96kimg.csv")
    fast = rate.drop("dcgan") / rate["dcgan"]
    assert_in(f"the MLPs are {fast.min():.0f}–{fast.max():.0f}× faster per image", s96)
    dc = f96i.loc["dcgan"]
    assert_in(f"dcgan's training {dc.wall_s.mean():.0f} s per run ({dc.step.mean():.0f} "
              f"steps at {rate['dcgan']:.0f} img/s)", s96)


# --- PacGAN's protocol on a CPU (results/README.md) ---------------------------------------

PACGAN = "## PacGAN synthetic protocol on a CPU"
PAC = {"GAN": "pacgan-paper-gan", "PacGAN2": "pacgan-paper-pac2"}
PAC_DATA = {"grid": "pacgan-grid", "ring": "pacgan-ring"}
PAC_METRICS = {"modes covered": "modes_covered", "high quality %": "high_quality_pct",
               "reverse KL": "reverse_kl"}


def pac(variant, dataset, metric):
    return values("pacgan-cpu.csv", PAC[variant], PAC_DATA[dataset.split()[0]], metric)


def test_pacgan_table_is_its_csv():
    rows = md_rows(section(_text("results/README.md"), PACGAN), "Table1.png")
    assert len(rows) == 4
    for variant, dataset, *cells in rows:
        for metric, cell in zip(PAC_METRICS.values(), cells[::2]):  # ours; theirs between
            x = pac(variant, dataset, metric)
            assert len(x) == 5
            m, sd = mean_sd(x)
            half = stats.t.ppf(0.975, len(x) - 1) * sd / math.sqrt(len(x))
            mean, se, lo, hi = re.fullmatch(r"(\S+) ± (\S+) \[(\S+), (\S+)\]", cell).groups()
            what = f"{variant} {dataset} {metric}"
            for printed, v in ((mean, m), (se, sd / math.sqrt(len(x))), (lo, m - half),
                               (hi, m + half)):
                check(printed, v, what)


def test_pacgan_compare_table_is_its_csv():
    """The table is `ganbench compare`'s: Welch, or where values tie the exact permutation test
    with no interval (—)."""
    from ganbench.analysis.stats import welch as compare_test

    rows = md_rows(section(_text("results/README.md"), PACGAN), "Welch, seeds as samples")
    assert len(rows) == 6
    for dataset, metric, gan, pac2, delta, p in rows:
        a, b = pac("GAN", dataset, PAC_METRICS[metric]), pac("PacGAN2", dataset,
                                                             PAC_METRICS[metric])
        d, lo, hi, pv = compare_test(a, b)
        what = f"{dataset} {metric}"
        check(gan, sum(a) / 5, what), check(pac2, sum(b) / 5, what), check(p, pv, what)
        if delta.endswith(" —"):
            assert math.isnan(lo) and math.isnan(hi), what
            check(delta[:-2], d, what)
            continue
        pd_, plo, phi = re.fullmatch(r"(\S+) \[(\S+), (\S+)\]", delta).groups()
        check(pd_, d, what), check(plo, lo, what), check(phi, hi, what)


def test_pacgan_claims_and_its_budget_in_real_points():
    body = section(_text("results/README.md"), PACGAN)
    f = finals("pacgan-cpu.csv")
    runs = f[f.variant.isin(PAC.values()) & (f.metric == "high_quality_pct")]
    assert set(runs.step) == {3000}
    assert_in(f"1/{400_000 / 3000:.0f} ({100 * 3000 / 400_000:.2f}%)", body)
    seen = runs.groupby("variant").images_seen.agg(["min", "max"])
    assert (seen["min"] == seen["max"]).all()
    gan, pac2 = seen.loc[PAC["GAN"], "max"], seen.loc[PAC["PacGAN2"], "max"]
    assert (gan, pac2) == (300_000, 600_000)  # equal steps is twice the images for PacGAN2
    assert_in(f"{gan:,.0f} real points per GAN run (theirs 40M) and {pac2:,.0f} per PacGAN2",
              body)
    assert_in("**Equal steps, not equal images**", body)
    assert_in(f"at equal steps ({gan:,.0f} against {pac2:,.0f} real points;", body)

    cal = {(v, d): f[(f.variant == v) & (f.dataset == d)].set_index("metric").value
           for v in ("calib-real", "calib-noise") for d in PAC_DATA.values()}
    g, r = "pacgan-grid", "pacgan-ring"
    assert_in(f"score {cal['calib-real', g].modes_covered:.0f} modes / "
              f"{cal['calib-real', g].high_quality_pct:.1f}% (grid) and "
              f"{cal['calib-real', r].modes_covered:.0f} / "
              f"{cal['calib-real', r].high_quality_pct:.1f}% (ring)", body)
    assert_in(f"{cal['calib-noise', g].modes_covered:.0f} modes / "
              f"{cal['calib-noise', g].high_quality_pct:.2f}% (grid) and "
              f"{cal['calib-noise', r].modes_covered:.0f} / "
              f"{cal['calib-noise', r].high_quality_pct:.2f}% (ring)", body)

    from ganbench.analysis.stats import welch as compare_test  # the compare table's test

    tests = {(d, m): compare_test(pac("GAN", d, m), pac("PacGAN2", d, m))
             for d in PAC_DATA for m in PAC_METRICS.values()}
    assert min(t[3] for t in tests.values()) >= 0.095  # "every p ≥ 0.10"
    assert_in("(every p ≥ 0.10)", body)
    hq = [sum(pac(v, "grid", "high_quality_pct")) / 5 for v in PAC]
    assert_in(f"({min(hq):.1f}–{max(hq):.1f}% against noise's "
              f"{cal['calib-noise', g].high_quality_pct:.2f}%", body)
    modes = [sum(pac(v, "grid", "modes_covered")) / 5 for v in PAC]
    assert_in(f"their {min(modes):.0f}–{max(modes):.0f} \"covered\" modes", body)
    assert_in(f"with {sum(pac('PacGAN2', 'ring', 'high_quality_pct')) / 5:.0f}% of it", body)
    kl = [sum(pac(v, "grid", "reverse_kl")) / 5 for v in ("PacGAN2", "GAN")]
    assert_in(f"({kl[0]:.2f} vs {kl[1]:.2f}, p = {tests['grid', 'reverse_kl'][3]:.2f})", body)
    assert_in(f"({modes[1]:.1f} vs {modes[0]:.1f}, p = "
              f"{tests['grid', 'modes_covered'][3]:.2f})", body)
    ms = (runs.wall_s / runs.step * 1000).groupby([runs.variant, runs.dataset]).mean()
    assert_in(f"{400_000 * ms.min() / 3.6e6:.1f}–{400_000 * ms.max() / 3.6e6:.1f} h of training "
              f"per run at this run's step times ({ms.min():.0f}–{ms.max():.0f} ms per step",
              body)


# --- README.md ------------------------------------------------------------------------------

def test_readme_extractor_accuracies_are_their_json():
    import json

    readme = _text("docs/evaluation.md")
    rows = md_rows(readme, "| dataset | epochs | test accuracy | command |")
    assert len(rows) == 3
    for dataset, epochs, acc, _ in rows:
        meta = json.loads(Path(REPO, "src/ganbench/evaluation/extractors/weights",
                               f"{dataset.strip('`')}.json").read_text())
        assert int(epochs) == meta["epochs"], dataset
        check(acc, 100 * meta["test_accuracy"], dataset)


def test_readme_quick_suite_run_count(reg):
    from ganbench_plugins.suites import quick_entries

    runs = sum(len(e.seeds) for e in quick_entries(reg))  # entries x their seeds
    assert_in(f"`quick` suite ({runs} runs:", _text("README.md"))


# --- the quick suite on held-out seeds (results/README.md, README.md) -----------------------

QUICK = "quick-heldout.csv"


def quick_tables():
    spec = importlib.util.spec_from_file_location("quick_tables", RESULTS / "quick_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_quick_table_is_on_held_out_seeds():
    from ganbench_plugins.suites import HELD_OUT_SEEDS, TUNING_SEEDS

    assert not set(HELD_OUT_SEEDS) & set(TUNING_SEEDS)
    f = finals(QUICK)
    runs = f[~f.variant.str.startswith("calib-")]
    assert set(runs.suite) == {"quick"} and set(runs.status) == {"completed"}
    assert runs.run_id.nunique() == 99  # 33 entries x 3 seeds
    seeds = set(runs.seed.astype(int))
    assert len(seeds) >= 3 and seeds <= set(HELD_OUT_SEEDS)
    s = "–".join(map(str, (min(seeds), max(seeds))))
    assert_in(f"held-out seeds {s}", section(_text("results/README.md"), "## The quick suite"))
    for old in ("seeds 0-4", "p = 1.8e-7", "p = 1.6e-6"):  # tuning seeds, no committed data
        assert old not in _text("results/README.md"), old


def test_quick_tables_are_the_committed_csv():
    import pandas as pd

    body = section(_text("results/README.md"), "## The quick suite")
    assert quick_tables().tables(RESULTS / QUICK) in body
    summary = pd.read_csv(RESULTS / "quick-heldout-summary.csv")  # made from the same runs
    means = finals(QUICK).groupby(["variant", "dataset", "metric"]).value.mean()
    joined = summary.join(means.rename("long"), on=["variant", "dataset", "metric"], how="inner")
    assert len(joined) == len(means)
    assert (joined["mean"] - joined["long"]).abs().max() < 1e-9


def test_readme_calibration_rows_are_the_quick_table():
    f = finals(QUICK)
    cal = {(v, d): f[(f.variant == v) & (f.dataset == d)].set_index("metric").value
           for v in ("calib-real", "calib-noise") for d in ("grid25", "ring8", "digits")}
    fmt = quick_tables().num
    g = "grid25"
    assert_in(f"grid25 real {cal['calib-real', g].modes_covered:.0f} modes / "
              f"{fmt(cal['calib-real', g].high_quality_pct)}% high quality, noise "
              f"{cal['calib-noise', g].modes_covered:.0f} modes / "
              f"{fmt(cal['calib-noise', g].high_quality_pct)}%", _text("docs/evaluation.md"))
    r = "ring8"
    assert_in(f"ring8 real {cal['calib-real', r].modes_covered:.0f} / "
              f"{fmt(cal['calib-real', r].high_quality_pct)}%, noise "
              f"{cal['calib-noise', r].modes_covered:.0f} / "
              f"{fmt(cal['calib-noise', r].high_quality_pct)}%; digits real FID "
              f"{cal['calib-real', 'digits'].fid:.1f}, noise "
              f"{fmt(cal['calib-noise', 'digits'].fid)}", _text("docs/evaluation.md"))


def quick_finals():
    """dataset -> variant -> metric -> final values by seed (sorted), calibration rows apart."""
    f = finals(QUICK)
    out = {}
    for (ds, v, m), g in f.groupby(["dataset", "variant", "metric"]):
        out.setdefault(ds, {}).setdefault(v, {})[m] = g.sort_values("seed").value.tolist()
    return out


def test_quick_claims():
    """The 'How to read it' numbers of the quick section, from quick-heldout.csv."""
    q = quick_tables()
    body = section(_text("results/README.md"), "## The quick suite")
    data = quick_finals()
    higher = {"fid": False, "frechet_data": False, "high_quality_pct": True,
              "modes_covered": True, "reverse_kl": False}
    for ds, metrics in q.DATASETS.items():
        rows = {v: by for v, by in data[ds].items() if not v.startswith("calib-")}
        noise = {m: data[ds]["calib-noise"][m][0] for m in metrics}
        head = metrics[0]
        above = [v for v, by in rows.items()
                 if not any(q.worse(x, noise[head], higher[head]) for x in by[head])]
        assert_in(f"{len(above)} of {len(rows)} variants on {ds}", body)
        pick = min if higher[head] else max
        weakest = min(rows, key=lambda v: q.ratio(pick(rows[v][head]), noise[head],
                                                  higher[head]))
        w = pick(rows[weakest][head])
        assert_in(f"weakest on {ds}: {weakest} ({q.num(w)}, "
                  f"{q.num(q.ratio(w, noise[head], higher[head]))}x", body)
        for m in metrics[1:]:
            bad = sorted(v for v, by in rows.items()
                         if any(q.worse(x, noise[m], higher[m]) for x in by[m]))
            every = sorted(v for v, by in rows.items()
                           if all(q.worse(x, noise[m], higher[m]) for x in by[m]))
            if bad:
                assert_in(f"{ds}, {m} (noise row {q.num(noise[m])}): {len(bad)} of {len(rows)} "
                          f"variants on some seed, {len(every)} on every seed", body)
            else:
                assert_in(f"{ds}, {m} (noise row {q.num(noise[m])}): none", body)

    def compared(ds, a, b, metric, unit=""):
        x, y = data[ds][a][metric], data[ds][b][metric]
        d, lo, hi, p = welch(y, x)  # a − b
        n = [signed(format(v, spec)) for v, spec in ((d, "+.3g"), (lo, ".3g"), (hi, ".3g"))]
        return (f"{a} {q.num(sum(x) / len(x))}{unit} against {b} {q.num(sum(y) / len(y))}"
                f"{unit}, Δ {n[0]} [{n[1]}, {n[2]}], p = {p:.2g}")

    assert_in(compared("ring8", "non-saturating", "vanilla-minimax", "high_quality_pct", "%"),
              body)
    ns, mm = data["ring8"]["non-saturating"], data["ring8"]["vanilla-minimax"]
    assert min(ns["high_quality_pct"]) > max(mm["high_quality_pct"])  # suites.py: every seed
    assert_in(compared("grid25", "wgan-gp", "non-saturating", "modes_covered"), body)
    assert_in(compared("grid25", "wgan-gp", "non-saturating", "reverse_kl"), body)
    assert_in(compared("ring8", "non-saturating", "vanilla-minimax", "reverse_kl"), body)
    kl = data["grid25"]["calib-noise"]["reverse_kl"][0]
    fine = [v for v, by in data["grid25"].items()
            if not v.startswith("calib-") and all(x <= kl for x in by["reverse_kl"])]
    assert_in(f"(all but {' and '.join(sorted(fine))})", body)


def test_pacgan_parameter_counts(reg):
    """results/README.md: PacGAN's synthetic-protocol nets, as ganbench builds them, have the
    parameter counts of their architecture (G 484,802, D 405,201 for GAN, one sample per D)."""
    import torch

    from ganbench.devkit import overhead
    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import plan

    text = " ".join(_text("results/README.md").split())
    g_claim, d_claim = re.search(r"Parameter counts agree with their architecture: "
                                 r"G ([\d,]+), D ([\d,]+) \(GAN\)", text).groups()
    (job,) = plan(reg, variants=["pacgan-paper-gan"], datasets=["grid25"], seeds=[0],
                  budget=Budget.parse("1steps"))
    t = overhead.build(job, reg, torch.device("cpu"))
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert (count(t.g), count(t.d)) == (int(g_claim.replace(",", "")),
                                        int(d_claim.replace(",", "")))
