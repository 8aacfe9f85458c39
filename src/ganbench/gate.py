"""The quality gate: is a candidate significantly worse than a baseline, beyond a margin?

``ganbench check BASELINE CANDIDATE`` (and :func:`check` in Python) compares the final value of
each gated metric per variant × dataset, seeds as samples. For a metric whose direction is
known, ``worse`` is the candidate's mean minus the baseline's in the bad direction (FID up,
modes covered down), and the margin ``m`` is what is tolerated (``5%`` of the baseline mean, or
an absolute amount in the metric's unit). The gate fails a metric when the one-sided test of

    H0: worse <= m     against     H1: worse > m

rejects. A gate watches many metrics at once (every variant × dataset of a suite), so
``alpha`` is the family-wise level: the p-values are adjusted with Holm's step-down method, and
the chance that an unchanged candidate fails on any metric is at most ``alpha`` (exactly
``alpha`` only when every metric sits at ``worse = m``; less when the candidate is as good as
the baseline). ``lower_bound`` is the one-sided (1 − alpha) confidence bound of ``worse`` of
each metric on its own.

The standard error is Welch's when both sides have at least two seeds. With one seed on a side
(a CI job that trains one seed against a committed multi-seed baseline) the other side's spread
stands in for it: ``se = s·sqrt(1/n + 1)`` with ``n − 1`` degrees of freedom, the prediction
interval of one new run. One seed on both sides gives no test and is refused.

What is refused (``UsageError``, exit 2), because no statistics can make it comparable: runs
evaluated under different EvalSpecs (the fields that differ are named), a side that pools
several recipes of one variant × dataset, and a metric neither side has. A different recipe
between the sides (a changed learning rate) is what a gate is for: it is reported, not refused.
A variant × dataset of the baseline that the candidate lacks, or whose values are all
non-finite (diverged), fails the gate.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

from ganbench.errors import UsageError
from ganbench.results import MACHINE_METRICS, _flatten, final_values
from ganbench.stats import ALPHA, _finite, welch_se2_dof

PASS, FAIL, MISSING = "ok", "WORSE", "missing"


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
    variant: str
    dataset: str
    metric: str
    higher_is_better: Optional[bool]
    mean_base: float
    n_base: int
    mean_cand: float
    n_cand: int
    worse: float  # by how much the candidate is worse (negative: better)
    margin: float
    lower_bound: float  # one-sided (1 - alpha) lower confidence bound of `worse`
    p_value: float  # one-sided, of H0: worse <= margin
    verdict: str
    p_holm: float = float("nan")  # Holm-adjusted over the gated metrics; WORSE when < alpha
    recipe_changes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GateResult:
    rows: list[Row]
    alpha: float
    margin: Margin
    not_gated: list[str] = field(default_factory=list)  # candidate groups the baseline lacks

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.verdict != PASS]

    @property
    def passed(self) -> bool:
        return not self.failed

    def to_json(self) -> str:
        return json.dumps({"passed": self.passed, "alpha": self.alpha,
                           "margin": str(self.margin), "rows": [r.as_dict() for r in self.rows],
                           "not_gated": self.not_gated}, indent=1)

    def explain(self) -> str:
        """A one-screen explanation: verdict, the table, what it means."""
        lines = []
        n_bad = len(self.failed)
        head = (f"ganbench check: FAIL: {n_bad} of {len(self.rows)} gated metric(s) worse than "
                f"the baseline beyond the margin ({self.margin})" if n_bad else
                f"ganbench check: PASS: none of {len(self.rows)} gated metric(s) is "
                f"significantly worse than the baseline beyond the margin ({self.margin})")
        lines.append(head)
        lines.append("")
        hdr = ("variant", "dataset", "metric", "baseline", "candidate", "worse by",
               f"{100 * (1 - self.alpha):g}% low", "margin", "p", "p holm", "verdict")
        table = [hdr]
        for r in self.rows:
            table.append((r.variant, r.dataset, r.metric, f"{_n(r.mean_base)} (n={r.n_base})",
                          f"{_n(r.mean_cand)} (n={r.n_cand})", _n(r.worse), _n(r.lower_bound),
                          _n(r.margin), _n(r.p_value), _n(r.p_holm), r.verdict))
        widths = [max(len(str(row[i])) for row in table) for i in range(len(hdr))]
        for row in table:
            lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
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
        lines.append("")
        lines.extend(textwrap.wrap(
            f"worse by: candidate mean - baseline mean in the metric's bad direction (final "
            f"values, seeds as samples); WORSE when its one-sided {100 * (1 - self.alpha):g}% "
            f"lower bound exceeds the margin and the one-sided Welch t-test of worse <= margin "
            f"rejects at family-wise {self.alpha:g} (Holm over the {len(self.rows)} metrics); "
            f"with one seed on a side, the other side's spread stands in "
            f"for its own (prediction interval); missing: the candidate has no finite value.", 100))
        return "\n".join(lines)


def _n(x: float) -> str:
    from ganbench.results import _num

    return _num(x)


def _hib(v) -> Optional[bool]:
    if isinstance(v, str):
        return {"true": True, "false": False}.get(v.strip().lower())
    if v is None or v != v:
        return None
    return bool(v)


def default_metrics(df) -> dict[str, list[str]]:
    """Per dataset, the metric a gate watches by default: its main metric (``fid`` >
    ``frechet_data`` > ``reverse_kl``, as in ``results --anytime``)."""
    from ganbench.anytime import main_metric

    out = {}
    for ds, g in df.groupby("dataset"):
        m = main_metric(g["metric"].unique())
        out[ds] = [m] if m else []
    return out


def one_sided(worse: float, margin: float, a: Sequence[float], b: Sequence[float],
              alpha: float = ALPHA) -> tuple[float, float]:
    """(lower bound, p) of the one-sided test of ``worse <= margin`` from samples ``a``
    (baseline) and ``b`` (candidate), Welch or one-new-run prediction (module docstring)."""
    from scipy import stats

    na, nb = len(a), len(b)

    def var(x):
        m = math.fsum(x) / len(x)
        return math.fsum((v - m) ** 2 for v in x) / (len(x) - 1)

    if na >= 2 and nb >= 2:
        se2, dof = welch_se2_dof(list(a), list(b))
    elif na >= 2 or nb >= 2:
        x = a if na >= 2 else b
        se2 = var(x) * (1 / len(x) + 1)
        dof = len(x) - 1
    else:
        raise UsageError("one seed on each side: no interval can be given; the gate needs at "
                         "least two seeds in the baseline or in the candidate")
    if se2 == 0:  # identical values within each side: the difference is exact
        return worse, (0.0 if worse > margin else 1.0)
    se = math.sqrt(se2)
    t = (worse - margin) / se
    return worse - stats.t.ppf(1 - alpha, dof) * se, float(stats.t.sf(t, dof))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _side(df, name: str):
    df = df[df["status"].astype(str) != "calibration"]
    df = df[~df["metric"].isin(MACHINE_METRICS)]
    if df.empty:
        raise UsageError(f"no trained runs in the {name}")
    return final_values(df)


def _recipe_diff(ja: str, jb: str) -> list[str]:
    fa, fb = _flatten(json.loads(ja)), _flatten(json.loads(jb))
    keys = sorted(set(fa) | set(fb))
    return [f"{k}={fa.get(k)}->{fb.get(k)}" for k in keys
            if json.dumps(fa.get(k), default=str) != json.dumps(fb.get(k), default=str)]


def check(baseline, candidate, metrics: Optional[Sequence[str]] = None, alpha: float = ALPHA,
          margin: Union[Margin, str, float] = "5%") -> GateResult:
    """Gate ``candidate`` against ``baseline`` (long tables from ``ganbench.results.load``)."""
    import pandas as pd

    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    margin = margin if isinstance(margin, Margin) else Margin.parse(margin)
    base, cand = _side(baseline, "baseline"), _side(candidate, "candidate")
    if metrics:
        known = set(base["metric"])
        unknown = [m for m in metrics if m not in known]
        if unknown:
            raise UsageError(f"metric(s) {', '.join(map(repr, unknown))} not in the baseline "
                             f"(it has: {', '.join(sorted(known))})")
        watched = {ds: list(metrics) for ds in base["dataset"].unique()}
    else:
        watched = default_metrics(base)
    rows: list[Row] = []
    cgroups = {k: g for k, g in cand.groupby(["variant", "dataset"], sort=False)}
    bkeys = set()
    for (variant, dataset), gb in base.groupby(["variant", "dataset"], sort=True):
        bkeys.add((variant, dataset))
        gc = cgroups.get((variant, dataset))
        for side, g in (("baseline", gb), ("candidate", gc)):
            if g is not None and g["recipe"].nunique() > 1:
                raise UsageError(f"the {side} pools {g['recipe'].nunique()} recipes of {variant}"
                                 f" on {dataset}; gate one recipe at a time")
        changes = ""
        if gc is not None:
            spec_b, spec_c = set(gb["eval_spec"].fillna("")), set(gc["eval_spec"].fillna(""))
            diff = _recipe_diff(gb["recipe_json"].iloc[0], gc["recipe_json"].iloc[0])
            if spec_b != spec_c or len(spec_b) > 1:
                raise UsageError(
                    f"{variant} on {dataset}: baseline and candidate were evaluated under "
                    f"different EvalSpecs ({','.join(sorted(spec_b))} vs "
                    f"{','.join(sorted(spec_c))}); their numbers are not comparable. "
                    f"Recipe fields that differ: {', '.join(diff) or 'none recorded'}")
            changes = ", ".join(diff)
        for metric in watched.get(dataset, []):
            mb = gb[gb["metric"] == metric]
            if mb.empty:
                continue
            a = _finite(pd.to_numeric(mb["value"], errors="coerce"))
            hib = _hib(mb["higher_is_better"].iloc[0])
            mc = gc[gc["metric"] == metric] if gc is not None else gb.iloc[0:0]
            b = _finite(pd.to_numeric(mc["value"], errors="coerce"))
            if not a:
                continue  # nothing to gate against
            mean_a = math.fsum(a) / len(a)
            m_abs = margin.amount(mean_a)
            if hib is None:
                raise UsageError(f"metric '{metric}' has no direction (better is neither "
                                 "higher nor lower); gate a quality metric")
            if not b:
                nan = float("nan")
                rows.append(Row(variant, dataset, metric, hib, mean_a, len(a), nan, 0, nan,
                                m_abs, nan, nan, MISSING, recipe_changes=changes))
                continue
            mean_b = math.fsum(b) / len(b)
            worse = (mean_a - mean_b) if hib else (mean_b - mean_a)
            low, p = one_sided(worse, m_abs, a, b, alpha)
            rows.append(Row(variant, dataset, metric, hib, mean_a, len(a), mean_b, len(b),
                            worse, m_abs, low, p, PASS, recipe_changes=changes))
    if not rows:
        raise UsageError("baseline and candidate share no gated metric")
    tested = [r for r in rows if r.verdict != MISSING]
    for r, adj in zip(tested, holm([r.p_value for r in tested])):
        r.p_holm = adj
        r.verdict = FAIL if adj < alpha else PASS
    extra = sorted(f"{v} on {d}" for v, d in cgroups if (v, d) not in bkeys)
    return GateResult(rows, alpha, margin, extra)
