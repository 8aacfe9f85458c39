"""How often does ``ganbench check`` fail an unchanged variant, in the setup CI runs?

CI (``.ci/run``) trains seed 0 of the quick suite and gates it with ``ganbench check
results/quick-baseline.csv results/runs --alpha 0.01 --margin 5%``: one candidate seed against
the 30 baseline seeds 200-229 of three anchor runs (dcgan on digits, non-saturating and
vanilla-minimax on ring8), each on its dataset's main metric (fid, frechet_data), Holm over the
three. (Until 2026-12-07 the baseline held four seeds, 1-4; this script measured that setup too.)
This script measures that gate's false-alarm rate from real runs:

``train``  trains the three anchor runs with the quick suite's recipes (``ganbench run --all``,
           as results/quick-baseline.csv was made) on fresh seeds, never used for tuning or for
           the baseline, and writes a compact table of their final values (``--table``).
``measure`` draws ``--checks`` resampled checks from that table: each picks one candidate seed
           and ``--base-seeds`` other baseline seeds from the pool (the same seed numbers for the three
           anchors, as in CI) and runs ``ganbench.analysis.gate.check`` exactly as CI calls it. It prints
           the false alarms per anchor and overall with exact (Clopper-Pearson) 95% intervals, as
           a Markdown table, and one JSON line.

    OMP_NUM_THREADS=1 python benchmarks/gate_false_alarms.py train --seeds 200-259 \\
        --out /tmp/gate-fa/runs --table results/gate-false-alarms-runs.csv
    python benchmarks/gate_false_alarms.py measure results/gate-false-alarms-runs.csv

The checks share seeds (a pool of N seeds gives N·C(N−1, B) checks of B baseline seeds), so they are not
independent: the binomial interval treats them as if they were and is narrower than the truth.
``--raw`` measures the same checks with every metric on its own (raw) scale, the test before the
log scale for positive lower-is-better metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional

ANCHORS = (("dcgan", "digits"), ("non-saturating", "ring8"), ("vanilla-minimax", "ring8"))
GATED = {"digits": "fid", "ring8": "frechet_data"}  # each dataset's main metric, as CI gates
ALPHA, MARGIN = 0.01, "5%"
READ = ["run_id", "variant", "dataset", "seed", "status", "step", "metric", "value",
        "higher_is_better", "eval_spec", "recipe", "recipe_json"]  # the columns gate.check uses


def train(seeds: str, out: str, table: str) -> int:
    """The anchor runs on ``seeds`` (the commands results/README.md gives for the baseline,
    one process), then their final values of the gated metrics to ``table``."""
    from ganbench import cli

    for variants, dataset in (("non-saturating,vanilla-minimax", "ring8"), ("dcgan", "digits")):
        code = cli.main(["run", "--all", "--variant", variants, "--dataset", dataset,
                         "--seeds", seeds, "--out", out, "--no-calibration", "-q"])
        if code:
            return code
    return export(out, table)


def export(runs: str, table: str) -> int:
    """Final values of the gated metrics of the anchor runs in ``runs`` as a long CSV table
    (``ganbench results --long --csv`` columns; a failed run keeps one row with no value)."""
    import pandas as pd

    from ganbench.store import results

    df = results.load(runs, strict=True, empty_runs=True)
    keep = df[[(v, d) in ANCHORS for v, d in zip(df["variant"], df["dataset"])]]
    fin = results.final_values(keep[keep["metric"] == keep["dataset"].map(GATED)])
    failed = keep[keep["metric"].isna() & ~keep["run_id"].isin(fin["run_id"])]
    failed = failed.assign(metric=failed["dataset"].map(GATED), step=0)  # status says failed
    out = pd.concat([fin, failed]).sort_values(["variant", "dataset", "seed"])
    out[results.COLUMNS].to_csv(table, index=False)
    print(f"wrote {table}: {out['run_id'].nunique()} runs", file=sys.stderr)
    return 0


def draws(seeds: list[int], checks: int, rng_seed: int,
          base_seeds: int = 4) -> list[tuple[int, list[int]]]:
    """``checks`` (candidate seed, ``base_seeds`` baseline seeds) draws, without replacement
    within one check, independent across checks."""
    import numpy as np

    rng = np.random.default_rng(rng_seed)
    out = []
    for _ in range(checks):
        pick = rng.choice(len(seeds), size=base_seeds + 1, replace=False)
        out.append((seeds[pick[0]], sorted(seeds[i] for i in pick[1:])))
    return out


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return ci.low, ci.high


def measure(df, checks: int = 400, rng_seed: int = 0, raw: bool = False,
            base_seeds: int = 4) -> dict[str, Any]:
    """Run the resampled checks on the long table ``df``; counts per anchor and overall."""
    import pandas as pd

    from ganbench.analysis import gate

    df = df[READ]  # only what the gate reads: the same verdicts, in half the time
    per_seed = {s: g for s, g in df.groupby("seed")}
    complete = sorted(int(s) for s, g in per_seed.items()
                      if {(v, d) for v, d in zip(g["variant"], g["dataset"])} >= set(ANCHORS))
    if len(complete) < base_seeds + 1:
        raise SystemExit(f"need at least {base_seeds + 1} seeds with all three anchor runs, "
                         f"have {len(complete)}")
    alarms = {f"{v} on {d}": 0 for v, d in ANCHORS}
    overall, by_cand = 0, {}
    for cand, base in draws(complete, checks, rng_seed, base_seeds):
        res = gate.check(pd.concat([per_seed[s] for s in base]), per_seed[cand], alpha=ALPHA,
                         margin=MARGIN, transform=not raw)
        for r in res.rows:
            alarms[f"{r.variant} on {r.dataset}"] += r.verdict != gate.PASS
        overall += not res.passed
        if not res.passed:
            by_cand[str(cand)] = by_cand.get(str(cand), 0) + 1
    return {"checks": checks, "base_seeds": base_seeds, "seeds": complete, "alpha": ALPHA,
            "margin": MARGIN,
            "rng_seed": rng_seed, "scale": "raw" if raw else "gate", "alarms": alarms,
            "overall": overall, "alarms_by_candidate_seed": by_cand}


def table(m: dict[str, Any]) -> str:
    rows = ["| gated | checks | false alarms | rate | 95% Clopper-Pearson |",
            "|---|---|---|---|---|"]
    n = m["checks"]
    for name, k in [*m["alarms"].items(), ("overall (CI's verdict)", m["overall"])]:
        lo, hi = clopper_pearson(k, n)
        rows.append(f"| {name} | {n} | {k} | {100 * k / n:.2f}% | "
                    f"[{100 * lo:.2f}%, {100 * hi:.2f}%] |")
    return "\n".join(rows)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the anchor runs on fresh seeds and export them")
    t.add_argument("--seeds", default="200-259")
    t.add_argument("--out", required=True, help="run directory")
    t.add_argument("--table", required=True, help="CSV of the final values to write")
    e = sub.add_parser("export", help="only export the final values of trained runs")
    e.add_argument("runs")
    e.add_argument("--table", required=True)
    ms = sub.add_parser("measure", help="resampled checks on an exported table")
    ms.add_argument("table")
    ms.add_argument("--checks", type=int, default=400)
    ms.add_argument("--rng-seed", type=int, default=0)
    ms.add_argument("--base-seeds", type=int, default=4,
                    help="baseline seeds a check draws besides its candidate (CI's baseline "
                         "holds 30; 4 was its former size)")
    ms.add_argument("--raw", action="store_true",
                    help="every metric on its own scale (the test before the log scale)")
    a = p.parse_args(argv)
    if a.command == "train":
        return train(a.seeds, a.out, a.table)
    if a.command == "export":
        return export(a.runs, a.table)
    from ganbench.store import results

    m = measure(results.load(a.table, strict=True), a.checks, a.rng_seed, a.raw, a.base_seeds)
    print(table(m))
    print(json.dumps(m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
