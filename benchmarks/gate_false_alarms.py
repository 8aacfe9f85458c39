"""How often does ``ganbench check`` fail an unchanged variant, and does it catch a worse one?

A script, not a timed test (it trains ``2 * checks * seeds`` runs). It trains one variant on
one dataset with ``checks * 2 * seeds`` distinct seeds, then runs ``checks`` quality gates,
each comparing ``seeds`` baseline seeds against ``seeds`` other candidate seeds (disjoint
seed sets: identical seeds give identical numbers on the CPU and prove nothing). The false-alarm
rate is the fraction of those checks that fail. It then trains the same candidate seeds with a
worsened recipe (``--worse-lr``) and counts how many of the checks catch it (the power).

    python benchmarks/gate_false_alarms.py --variant non-saturating --dataset ring8 \\
        --budget 64kimg --checks 12 --seeds 3 --out /tmp/gate-study

Prints a Markdown table and one JSON line with the counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", default="non-saturating")
    p.add_argument("--dataset", default="ring8")
    p.add_argument("--budget", default="64kimg")
    p.add_argument("--checks", type=int, default=12)
    p.add_argument("--seeds", type=int, default=3, help="seeds per side of one check")
    p.add_argument("--metric", action="append", default=None,
                   help="metrics to gate (default: the check's default)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--margin", default="5%")
    p.add_argument("--worse-lr", type=float, default=1e-4,
                   help="learning rate of the worsened candidate (default 1e-4: ten times too low)")
    p.add_argument("--eval-samples", type=int, default=2500)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)

    from ganbench import cli, gate, results

    n = a.checks * 2 * a.seeds
    common = ["--variant", a.variant, "--dataset", a.dataset, "--budget", a.budget,
              "--evals", "2", "--eval-samples", str(a.eval_samples), "--no-calibration", "-q"]
    same = os.path.join(a.out, "unchanged")
    worse = os.path.join(a.out, "worse")
    if cli.main(["run", *common, "--seeds", f"0-{n - 1}", "--out", same]):
        return 1
    cand_seeds = [s for c in range(a.checks)
                  for s in range(c * 2 * a.seeds + a.seeds, (c + 1) * 2 * a.seeds)]
    if cli.main(["run", *common, "--seeds", ",".join(map(str, cand_seeds)), "--lr",
                 str(a.worse_lr), "--out", worse]):
        return 1
    df_same, df_worse = results.load(same), results.load(worse)
    rows, alarms, caught = [], 0, 0
    for c in range(a.checks):
        lo = c * 2 * a.seeds
        base = df_same[df_same["seed"].between(lo, lo + a.seeds - 1)]
        cand = df_same[df_same["seed"].between(lo + a.seeds, lo + 2 * a.seeds - 1)]
        bad = df_worse[df_worse["seed"].between(lo + a.seeds, lo + 2 * a.seeds - 1)]
        r1 = gate.check(base, cand, metrics=a.metric, alpha=a.alpha, margin=a.margin)
        r2 = gate.check(base, bad, metrics=a.metric, alpha=a.alpha, margin=a.margin)
        alarms += not r1.passed
        caught += not r2.passed
        rows.append((c, f"{lo}-{lo + a.seeds - 1}", f"{lo + a.seeds}-{lo + 2 * a.seeds - 1}",
                     "FAIL" if not r1.passed else "pass", "FAIL" if not r2.passed else "pass",
                     min(r.p_holm for r in r1.rows), min(r.p_holm for r in r2.rows)))
    print(f"| check | baseline seeds | candidate seeds | unchanged | lr={a.worse_lr:g} | "
          "min p holm (unchanged) | min p holm (worse) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]:.3g} | {r[6]:.3g} |")
    summary = {"variant": a.variant, "dataset": a.dataset, "budget": a.budget,
               "checks": a.checks, "seeds_per_side": a.seeds, "alpha": a.alpha,
               "margin": a.margin, "metrics": a.metric or "default",
               "false_alarms": alarms, "worse_lr": a.worse_lr, "worse_caught": caught}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
