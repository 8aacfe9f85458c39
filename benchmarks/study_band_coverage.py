"""Coverage of the study's band for the expected best after k trials (``ganbench.analysis.study``).

For each distribution of trial values and N, draws N trials ``REPEATS`` times, computes
``study.expected_best`` (the estimator and band ``ganbench results --study`` reports) and
counts how often the band holds the true expected best of k fresh trials,
E[min of k draws] = integral over u in (0, 1) of F^-1(u) k (1 - u)^(k-1) du (scipy quad), at
k = 1, 5 and N.
Writes ``results/study-band-coverage.csv`` and ``.md`` (tests/unit/analysis/test_study.py recomputes the
table from the CSV). Seeded; a few seconds on one core:

    PYTHONPATH=src python benchmarks/study_band_coverage.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from scipy import integrate, stats

from ganbench.analysis import study

REPEATS = 400
SEED = 2024
# name -> frozen scipy distribution (lower values are better, as for FID)
DISTRIBUTIONS = {
    "lognormal(sigma=1)": stats.lognorm(1.0),
    "lognormal(sigma=0.5)": stats.lognorm(0.5),
    "lognormal(sigma=1.5)": stats.lognorm(1.5),
    "gamma(shape=2)": stats.gamma(2.0),
    "exponential": stats.expon(),
    "normal": stats.norm(),
    "uniform": stats.uniform(),
}
SIZES = (10, 20)
FIELDS = ["distribution", "n", "k", "repeats", "covered", "coverage", "cp_low", "cp_high",
          "true_expected_best", "mean_estimate", "mean_band_width"]
OUT = Path(__file__).resolve().parent.parent / "results"


def true_expected_best(dist, k: int) -> float:
    return integrate.quad(lambda u: dist.ppf(u) * k * (1 - u) ** (k - 1), 0, 1, limit=200)[0]


def simulate() -> list[dict]:
    rows = []
    rng = np.random.default_rng(SEED)
    for name, dist in DISTRIBUTIONS.items():
        for n in SIZES:
            ks = (1, 5, n)
            truth = {k: true_expected_best(dist, k) for k in ks}
            hits = {k: 0 for k in ks}
            est = {k: [] for k in ks}
            width = {k: [] for k in ks}
            for rep in range(REPEATS):
                curve = study.expected_best(dist.rvs(n, random_state=rng), seed=rep)
                for k in ks:
                    c = curve[k - 1]
                    hits[k] += c["ci_low"] <= truth[k] <= c["ci_high"]
                    est[k].append(c["expected_best"])
                    width[k].append(c["ci_high"] - c["ci_low"])
            for k in ks:
                ci = stats.binomtest(hits[k], REPEATS).proportion_ci(0.95, method="exact")
                rows.append({"distribution": name, "n": n, "k": k, "repeats": REPEATS,
                             "covered": hits[k], "coverage": hits[k] / REPEATS,
                             "cp_low": ci.low, "cp_high": ci.high,
                             "true_expected_best": truth[k],
                             "mean_estimate": float(np.mean(est[k])),
                             "mean_band_width": float(np.mean(width[k]))})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "# Coverage of the study's band for the expected best after k trials",
        "",
        "`benchmarks/study_band_coverage.py` (data: `study-band-coverage.csv`). Per row: N trials "
        f"drawn {REPEATS} times from the distribution, `ganbench.analysis.study.expected_best` (the "
        "without-replacement estimator and its nominal 95% band, as `ganbench results --study` "
        "reports them), and how often the band held the true expected best of k fresh trials, "
        "with its exact (Clopper-Pearson) 95% interval. `mean estimate` next to `true` shows the "
        "estimator's mean agrees with the truth (it is unbiased).",
        "",
        "| distribution | N | k | covered | coverage [95% CI] | true | mean estimate | "
        "mean band width |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['distribution']} | {r['n']} | {r['k']} | {r['covered']}/{r['repeats']}"
                     f" | {r['coverage']:.3f} [{r['cp_low']:.3f}, {r['cp_high']:.3f}] | "
                     f"{r['true_expected_best']:.4g} | {r['mean_estimate']:.4g} | "
                     f"{r['mean_band_width']:.4g} |")
    short = [r for r in rows if r["coverage"] < 0.9]
    lines += ["", "Rows below 90%: " + ("none." if not short else "; ".join(
        f"{r['distribution']} N = {r['n']} k = {r['k']} ({r['coverage']:.3f})" for r in short)
        + ". No band for an expectation is distribution-free (Bahadur & Savage 1956): a heavy "
        "enough bad tail defeats any band for the mean (k = 1) from N trials, and at k = N the "
        "band must reach below the best trial seen, which an unbounded good tail (the normal) "
        "makes hardest."), ""]
    return "\n".join(lines)


def main() -> int:
    rows = simulate()
    with open(OUT / "study-band-coverage.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    (OUT / "study-band-coverage.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
