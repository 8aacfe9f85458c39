"""The default suite (``ganbench run --all``, suite ``quick``): at least three seeds per
variant and dataset, so that its leaderboard has intervals; and the CI gate's anchor runs keep
the recipes and EvalSpecs of the committed baseline (results/quick-baseline.csv), so that
``ganbench check`` in .ci/run still compares like with like."""

from collections import Counter
from pathlib import Path

import pandas as pd

from ganbench.planning.plan import plan
from conftest import REPO

BASELINE = Path(REPO) / "results" / "quick-baseline.csv"


def test_run_all_trains_at_least_three_seeds_per_variant_and_dataset(reg):
    jobs = plan(reg, run_all=True)
    per = Counter((j.variant, j.dataset) for j in jobs)
    assert per and min(per.values()) >= 3
    assert {j.dataset for j in jobs} == {"digits", "ring8"}
    assert len({j.run_id for j in jobs}) == len(jobs)
    full = Counter((j.variant, j.dataset) for j in plan(reg, run_all=True, suite="quick-full"))
    assert set(per) < set(full) and min(full.values()) >= 3
    assert {("acgan", "digits"), ("sngan", "digits"), ("wgan-gp", "grid25")} <= set(full)


def test_the_gate_anchors_keep_the_baselines_run_ids():
    """A run id hashes everything that defines the run's numbers: the quick suite's anchor runs
    on the baseline's seeds are the baseline's runs (same recipe, budget and EvalSpec)."""
    from ganbench.registry import registries

    reg = registries()
    base = pd.read_csv(BASELINE)
    seeds = sorted(set(base["seed"].astype(int)))[:3]
    want = set(base[base["seed"].isin(seeds)]["run_id"])
    got = set()
    for variants, dataset in ((["non-saturating", "vanilla-minimax"], "ring8"),
                              (["dcgan"], "digits")):
        got |= {j.run_id for j in plan(reg, run_all=True, variants=variants,
                                       datasets=[dataset], seeds=seeds)}
    assert len(want) == 9 and got == want


def test_a_run_by_name_still_trains_seed_0_only(reg):
    """``ganbench run --variant V --dataset D`` takes its budget from the quick suite, not its
    seeds: one run, as before the suite had three."""
    jobs = plan(reg, variants=["non-saturating"], datasets=["ring8"])
    assert [j.seed for j in jobs] == [0]
    assert jobs[0].budget == plan(reg, run_all=True, variants=["non-saturating"],
                                  datasets=["ring8"])[0].budget
