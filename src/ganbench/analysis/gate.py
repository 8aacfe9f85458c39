"""The quality gate: is a candidate significantly worse than a baseline, beyond a margin?

``ganbench check BASELINE CANDIDATE`` (and :func:`check` in Python) compares the final value of
each gated metric per variant × dataset, seeds as samples. ``worse`` is how much the candidate
is worse than the baseline in the metric's bad direction (FID up, modes covered down), which
comes from the metric's registration (``MetricSpec.directions``), never from a results file: a
baseline or candidate that records another direction is refused. The margin ``m`` is what is
tolerated (``5%`` of the baseline, or an absolute amount in the metric's unit). The gate fails a
metric when the one-sided test of

    H0: worse <= m     against     H1: worse > m

rejects. A gate watches many metrics at once (every variant × dataset of a suite), so
``alpha`` is the family-wise level: the p-values are adjusted with Holm's step-down method, and
the chance that an unchanged candidate fails on any metric is at most ``alpha`` when the test's
assumptions hold (below).

Scale. A lower-is-better metric whose values are all positive (FID, KID, Fréchet distances, KL:
distances, right-skewed across seeds — a few seeds land far above the rest) is compared on the
log scale when the margin is relative: ``worse`` is the ratio of the geometric means minus 1,
``m`` = 5% is the ratio 1.05, and the spread is multiplicative. On the raw scale the committed
CI baseline's skewed ``frechet_data`` made a one-seed candidate fail far more often than alpha
(``results/gate-false-alarms.md``). Other metrics are compared as they are.

The test. Continuous values (no two pooled values equal): Welch's one-sided t-test when both
sides have at least two seeds; with one seed on a side (a CI job that trains one seed against a
committed multi-seed baseline) the other side's spread stands in for it: ``se = s·sqrt(1/n +
1)`` with ``n − 1`` degrees of freedom, the prediction interval of one new run. Both assume
normal values on the compared scale. Tied values (a discrete metric such as modes covered, or
identical runs) have no usable spread — three seeds that agree do not make a population
variance of zero — so there the p-value is the exact permutation test's (of the candidate's
values less the margin against the baseline's), valid for any distribution but never below
``1 / C(n_base + n_cand, n_cand)``. What one candidate seed can honestly show: with 1 vs 4 seeds
no distribution-free test gets below p = 0.2 (the candidate is the worst of five with chance
1/5), so at alpha 0.01 a CI gate of one seed can only fail on a parametric test, under its
assumption (log-normal seeds for distances); ``results/gate-false-alarms.md`` measures its
false-alarm rate from real runs (above alpha there: more seeds land far out than a log-normal
allows). On a discrete metric with ties it cannot fail at such an alpha, and the output says
so. One seed on both sides gives no test and is refused.

Diverged and failed runs are never dropped: a candidate seed that diverged, failed (a run file
with no rows, or ``status`` failed) or whose final value is missing or non-finite fails its
variant × dataset (verdict ``diverged``), naming the seeds. Such baseline seeds are left out of
the baseline's values and the output says how many.

What is refused (``UsageError``, exit 2), because no statistics can make it comparable: runs
evaluated under different EvalSpecs (the fields that differ are named), a side that pools
several recipes of one variant × dataset, a metric neither side has, a direction that disagrees
with the registration. A different recipe between the sides (a changed learning rate) is what a
gate is for: it is reported, not refused. A variant × dataset of the baseline that the
candidate lacks fails the gate (``missing``).
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

from ganbench.api.errors import UsageError
from ganbench.store.results import MACHINE_METRICS, flatten, final_values, metric_directions
from ganbench.analysis.stats import ALPHA, has_ties, holm, permutation_p, welch_se2_dof

PASS, FAIL, MISSING, DIVERGED = "ok", "WORSE", "missing", "diverged"
BAD_STATUS = ("diverged", "failed")  # runs that did not finish training normally
__all__ = ["Margin", "Row", "GateResult", "check", "one_sided", "holm", "default_metrics"]


@dataclass(frozen=True)
class Margin:
    """``relative`` (a fraction of the baseline mean) or an absolute amount."""

    value: float
    relative: bool

    @classmethod
    def parse(cls, text: Union[str, float]) -> "Margin":
        s = str(text).strip()
        rel = s.endswith("%")
        try:
            v = float(s[:-1] if rel else s)
        except ValueError:
            v = float("nan")
        if not math.isfinite(v) or v < 0:
            raise UsageError(f"invalid margin '{text}': give a non-negative percentage of the "
                             "baseline mean (5%) or an amount in the metric's unit (2.5)")
        return cls(v / 100 if rel else v, rel)

    def amount(self, baseline_mean: float) -> float:
        return self.value * abs(baseline_mean) if self.relative else self.value

    def __str__(self) -> str:
        return f"{100 * self.value:g}%" if self.relative else f"{self.value:g}"


@dataclass
class Row:
    """One gated metric of one variant × dataset. On the ``log`` scale ``worse``, ``margin``
    and ``lower_bound`` are relative (0.05: 5% worse; the ratio of geometric means less 1); on
    the ``linear`` scale they are in the metric's unit."""

    variant: str
    dataset: str
    metric: str
    higher_is_better: Optional[bool]
    mean_base: float  # geometric on the log scale
    n_base: int
    mean_cand: float
    n_cand: int
    worse: float  # by how much the candidate is worse (negative: better)
    margin: float
    lower_bound: float  # one-sided (1 - alpha) lower confidence bound of `worse` (t-tests)
    p_value: float  # one-sided, of H0: worse <= margin
    verdict: str
    p_holm: float = float("nan")  # Holm-adjusted over the gated metrics; WORSE when < alpha
    recipe_changes: str = ""
    scale: str = "linear"  # or "log"
    test: str = ""  # welch | prediction | permutation
    bad_seeds: str = ""  # candidate seeds that diverged, failed or have no finite value

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GateResult:
    rows: list[Row]
    alpha: float
    margin: Margin
    not_gated: list[str] = field(default_factory=list)  # candidate groups the baseline lacks
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.verdict != PASS]

    @property
    def passed(self) -> bool:
        return not self.failed

    def to_json(self) -> str:
        return json.dumps({"passed": self.passed, "alpha": self.alpha,
                           "margin": str(self.margin), "rows": [r.as_dict() for r in self.rows],
                           "not_gated": self.not_gated, "notes": self.notes}, indent=1)

    def explain(self) -> str:
        """A one-screen explanation: verdict, the table, what it means."""
        lines = []
        n_bad = len(self.failed)
        head = (f"ganbench check: FAIL: {n_bad} of {len(self.rows)} gated metric(s) worse than "
                f"the baseline beyond the margin ({self.margin}), diverged or missing" if n_bad
                else f"ganbench check: PASS: none of {len(self.rows)} gated metric(s) is "
                f"significantly worse than the baseline beyond the margin ({self.margin})")
        lines.append(head)
        lines.append("")
        hdr = ("variant", "dataset", "metric", "baseline", "candidate", "worse by",
               f"{100 * (1 - self.alpha):g}% low", "margin", "test", "p", "p holm", "verdict")
        table = [hdr]
        for r in self.rows:
            d = _pct if r.scale == "log" else _n
            table.append((r.variant, r.dataset, r.metric, f"{_n(r.mean_base)} (n={r.n_base})",
                          f"{_n(r.mean_cand)} (n={r.n_cand})", d(r.worse), d(r.lower_bound),
                          d(r.margin), r.test + (" (log)" if r.scale == "log" else ""),
                          _n(r.p_value), _n(r.p_holm), r.verdict))
        widths = [max(len(str(row[i])) for row in table) for i in range(len(hdr))]
        for row in table:
            lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        bad = [f"  {r.variant} on {r.dataset}: {r.bad_seeds}" for r in self.rows if r.bad_seeds]
        if bad:
            lines.append("")
            lines.append("candidate seeds that diverged, failed or have no finite value (they "
                         "fail the gate; never dropped):")
            lines.extend(dict.fromkeys(bad))
        changes = sorted({f"{r.variant} on {r.dataset}: {r.recipe_changes}" for r in self.rows
                          if r.recipe_changes})
        if changes:
            lines.append("")
            lines.append("recipe changes (baseline -> candidate):")
            lines.extend(f"  {c}" for c in changes)
        if self.not_gated:
            lines.append("")
            shown = ", ".join(self.not_gated[:4])
            more = len(self.not_gated) - 4
            lines.append(f"not in the baseline, not gated: {shown}"
                         + (f" and {more} more (--json lists them)" if more > 0 else ""))
        if self.notes:
            lines.append("")
            lines.extend(f"note: {n}" for n in self.notes)
        lines.append("")
        lines.extend(textwrap.wrap(
            f"worse by: candidate mean - baseline mean of final values in the metric's bad "
            f"direction (its registration's), seeds as samples; (log): a positive lower-is-"
            f"better metric, geometric means, worse by and margin in %. WORSE when the "
            f"one-sided test of worse <= margin rejects at family-wise {self.alpha:g} (Holm over "
            f"the {len(self.rows)} metrics): welch: Welch's t-test; prediction: one seed on a "
            f"side, the other side's spread stands in for its own; permutation: tied values (a "
            f"discrete metric), the exact permutation test. diverged: a candidate seed diverged, "
            f"failed or has no finite value; missing: the candidate lacks the run.", 100))
        return "\n".join(lines)


def _n(x: float) -> str:
    from ganbench.store.results import format_number

    return format_number(x)


def _pct(x: float) -> str:
    return "nan" if x != x else f"{100 * x:+.3g}%"


def default_metrics(df) -> dict[str, list[str]]:
    """Per dataset, the metric a gate watches by default: its main metric (``fid`` >
    ``frechet_data`` > ``reverse_kl``, as in ``results --anytime``)."""
    from ganbench.analysis.anytime import main_metric

    out = {}
    for ds, g in df.groupby("dataset"):
        m = main_metric(g["metric"].unique())
        out[ds] = [m] if m else []
    return out


def one_sided(worse: float, margin: float, a: Sequence[float], b: Sequence[float],
              alpha: float = ALPHA) -> tuple[float, float, str]:
    """(lower bound, p, test) of the one-sided test of ``worse <= margin`` from samples ``a``
    (baseline) and ``b`` (candidate), oriented so that larger is worse (``worse`` is mean b −
    mean a): Welch, one-new-run prediction, or where values tie the exact permutation test of
    ``b − margin`` against ``a`` (module docstring; its lower bound is NaN)."""
    from scipy import stats

    na, nb = len(a), len(b)
    if na < 2 and nb < 2:
        raise UsageError("one seed on each side: no interval can be given; the gate needs at "
                         "least two seeds in the baseline or in the candidate")
    if has_ties(a, b):
        return float("nan"), permutation_p(a, [v - margin for v in b], "greater"), "permutation"

    def var(x):
        m = math.fsum(x) / len(x)
        return math.fsum((v - m) ** 2 for v in x) / (len(x) - 1)

    if na >= 2 and nb >= 2:
        se2, dof = welch_se2_dof(list(a), list(b))
        test = "welch"
    else:
        x = a if na >= 2 else b
        se2 = var(x) * (1 / len(x) + 1)
        dof = len(x) - 1
        test = "prediction"
    se = math.sqrt(se2)  # > 0: values without ties have a spread
    t = (worse - margin) / se
    return worse - stats.t.ppf(1 - alpha, dof) * se, float(stats.t.sf(t, dof)), test


def _side(df, name: str):
    """(final values, one row per run) of the trained runs of one side."""
    df = df[df["status"].astype(str) != "calibration"]
    df = df[~df["metric"].isin(MACHINE_METRICS) | df["metric"].isna()]
    if df.empty:
        raise UsageError(f"no trained runs in the {name}")
    runs = df.drop_duplicates("run_id")
    return final_values(df[df["metric"].notna()]), runs


def _recipe_diff(ja: str, jb: str) -> list[str]:
    fa, fb = flatten(json.loads(ja)), flatten(json.loads(jb))
    keys = sorted(set(fa) | set(fb))
    return [f"{k}={fa.get(k)}->{fb.get(k)}" for k in keys
            if json.dumps(fa.get(k), default=str) != json.dumps(fb.get(k), default=str)]


def _final(fin) -> dict[tuple[str, str], float]:
    """(run id, metric) -> final value (NaN where it is not a number)."""
    import pandas as pd

    values = pd.to_numeric(fin["value"], errors="coerce")
    return dict(zip(zip(fin["run_id"], fin["metric"]), values))


def _values(runs, final: dict, metric: str) -> tuple[list[float], list[str]]:
    """Finite final values of ``metric`` over ``runs``, and why each other run has none."""
    import pandas as pd

    good, bad = [], []
    for run_id, seed, status in zip(runs["run_id"], runs["seed"], runs["status"]):
        who = f"seed {int(seed)}" if pd.notna(seed) else f"run {run_id}"
        status = str(status)
        v = final.get((run_id, metric))
        if status in BAD_STATUS:
            bad.append(f"{who} {status}")
        elif v is None or not math.isfinite(v):
            bad.append(f"{who}: {metric} is {'missing' if v is None else v}")
        else:
            good.append(float(v))
    return good, bad


def _geomean(x: list[float]) -> float:
    return math.exp(math.fsum(math.log(v) for v in x) / len(x))


def _gate_one(a: list[float], b: list[float], hib: bool, margin: Margin, alpha: float,
              transform: bool = True):
    """(scale, worse, margin, lower bound, p, test) of baseline values ``a`` against candidate
    values ``b`` (module docstring: the log scale for positive lower-is-better metrics)."""
    mean_a = math.fsum(a) / len(a)
    if transform and not hib and margin.relative and min(a + b) > 0:
        la, lb = [math.log(v) for v in a], [math.log(v) for v in b]
        worse = math.fsum(lb) / len(lb) - math.fsum(la) / len(la)
        low, p, test = one_sided(worse, math.log1p(margin.value), la, lb, alpha)
        return "log", math.expm1(worse), margin.value, math.expm1(low), p, test
    sign = -1.0 if hib else 1.0
    oa, ob = [sign * v for v in a], [sign * v for v in b]
    worse = math.fsum(ob) / len(ob) - math.fsum(oa) / len(oa)
    m = margin.amount(mean_a)
    low, p, test = one_sided(worse, m, oa, ob, alpha)
    return "linear", worse, m, low, p, test


def _specs_differ(fb, fc, spec_b: set, spec_c: set) -> bool:
    """Whether the baseline's and candidate's final rows were evaluated under different
    EvalSpecs, metric by metric over the metrics both have (a run may evaluate some metrics
    under their own EvalSpec, e.g. fd_dinov2 beside FID), or over all rows when they share
    none; a metric pooled over several EvalSpecs on one side differs too."""
    def pooled(f) -> bool:
        return bool(len(f)) and int(f.groupby("metric")["eval_spec"]
                                    .agg(lambda x: x.fillna("").nunique()).max()) > 1

    if pooled(fb) or pooled(fc):
        return True
    common = set(fb["metric"]) & set(fc["metric"])
    if fc.empty or not common:
        return spec_b != spec_c
    return any(set(fb.loc[fb["metric"] == m, "eval_spec"].fillna(""))
               != set(fc.loc[fc["metric"] == m, "eval_spec"].fillna("")) for m in common)


def check(baseline, candidate, metrics: Optional[Sequence[str]] = None, alpha: float = ALPHA,
          margin: Union[Margin, str, float] = "5%", transform: bool = True) -> GateResult:
    """Gate ``candidate`` against ``baseline`` (long tables from ``ganbench.store.results.load``;
    load the candidate with ``empty_runs=True`` so that failed runs count). ``transform=False``
    compares every metric on its own scale (no log scale; for measuring what it changes)."""
    from math import comb

    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    margin = margin if isinstance(margin, Margin) else Margin.parse(margin)
    (base, base_runs), (cand, cand_runs) = _side(baseline, "baseline"), _side(candidate,
                                                                               "candidate")
    if metrics:
        known = set(base["metric"])
        unknown = [m for m in metrics if m not in known]
        if unknown:
            raise UsageError(f"metric(s) {', '.join(map(repr, unknown))} not in the baseline "
                             f"(it has: {', '.join(sorted(known))})")
        watched = {ds: list(metrics) for ds in base["dataset"].unique()}
    else:
        watched = default_metrics(base)
    directions = metric_directions(sorted({m for ms in watched.values() for m in ms}),
                                   baseline=base, candidate=cand)
    rows: list[Row] = []
    notes: list[str] = []
    final_b, final_c = _final(base), _final(cand)
    fgroups_b = {k: g for k, g in base.groupby(["variant", "dataset"], sort=False)}
    fgroups_c = {k: g for k, g in cand.groupby(["variant", "dataset"], sort=False)}
    cgroups = {k: g for k, g in cand_runs.groupby(["variant", "dataset"], sort=False)}
    bkeys = set()
    for (variant, dataset), gb in base_runs.groupby(["variant", "dataset"], sort=True):
        bkeys.add((variant, dataset))
        gc = cgroups.get((variant, dataset))
        for side, g in (("baseline", gb), ("candidate", gc)):
            if g is not None and g["recipe"].nunique() > 1:
                raise UsageError(f"the {side} pools {g['recipe'].nunique()} recipes of {variant}"
                                 f" on {dataset}; gate one recipe at a time")
        changes = ""
        fb = fgroups_b.get((variant, dataset), base.iloc[0:0])
        if gc is not None:
            fc = fgroups_c.get((variant, dataset), cand.iloc[0:0])
            spec_b, spec_c = set(fb["eval_spec"].fillna("")), set(fc["eval_spec"].fillna(""))
            diff = _recipe_diff(gb["recipe_json"].iloc[0], gc["recipe_json"].iloc[0])
            if fc.empty:
                spec_c = spec_b  # every candidate run failed before evaluating: no spec
            if _specs_differ(fb, fc, spec_b, spec_c):
                raise UsageError(
                    f"{variant} on {dataset}: baseline and candidate were evaluated under "
                    f"different EvalSpecs ({','.join(sorted(spec_b))} vs "
                    f"{','.join(sorted(spec_c))}); their numbers are not comparable. "
                    f"Recipe fields that differ: {', '.join(diff) or 'none recorded'}")
            changes = ", ".join(diff)
        for metric in watched.get(dataset, []):
            if metric not in set(fb["metric"]):
                continue
            a, a_bad = _values(gb, final_b, metric)
            if not a:
                raise UsageError(f"the baseline has no finite final {metric} for {variant} on "
                                 f"{dataset} ({'; '.join(a_bad)}): nothing to gate against")
            if a_bad:
                notes.append(f"{variant} on {dataset}: {len(a_bad)} baseline seed(s) left out "
                             f"({'; '.join(a_bad)})")
            hib = directions[metric]
            if hib is None:
                raise UsageError(f"metric '{metric}' has no direction (better is neither "
                                 "higher nor lower); gate a quality metric")
            nan = float("nan")
            mean_a = math.fsum(a) / len(a)
            if gc is None:
                rows.append(Row(variant, dataset, metric, hib, mean_a, len(a), nan, 0, nan,
                                margin.amount(mean_a), nan, nan, MISSING, recipe_changes=changes))
                continue
            b, b_bad = _values(gc, final_c, metric)
            mean_b = math.fsum(b) / len(b) if b else nan
            if b_bad:
                rows.append(Row(variant, dataset, metric, hib, mean_a, len(a), mean_b, len(b),
                                nan, margin.amount(mean_a), nan, nan, DIVERGED,
                                recipe_changes=changes, bad_seeds="; ".join(b_bad)))
                continue
            scale, worse, m, low, p, test = _gate_one(a, b, hib, margin, alpha, transform)
            if scale == "log":  # the means it compares: geometric
                mean_a, mean_b = _geomean(a), _geomean(b)
            rows.append(Row(variant, dataset, metric, hib, mean_a, len(a), mean_b, len(b),
                            worse, m, low, p, PASS, recipe_changes=changes, scale=scale,
                            test=test))
            if test == "permutation":
                p_min = 1 / comb(len(a) + len(b), len(b))
                notes.append(f"{variant} on {dataset}: {metric} values tie (a discrete metric): "
                             f"exact permutation test, smallest possible p {p_min:.3g} with "
                             f"{len(b)} vs {len(a)} seeds"
                             + (f", so it cannot fail at alpha {alpha:g}" if p_min >= alpha
                                else ""))
    if not rows:
        raise UsageError("baseline and candidate share no gated metric")
    tested = [r for r in rows if r.verdict == PASS]
    for r, adj in zip(tested, holm([r.p_value for r in tested])):
        r.p_holm = adj
        r.verdict = FAIL if adj < alpha else PASS
    extra = sorted(f"{v} on {d}" for v, d in cgroups if (v, d) not in bkeys)
    return GateResult(rows, alpha, margin, extra, notes)
