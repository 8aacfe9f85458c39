"""Stability and anytime quality: the main metric over training wall-clock time.

The main metric of a dataset is its registration's (``DatasetSpec.main_metrics``, else the
rule of ``DatasetSpec.headline``: % high quality on the mixtures, FID on images, frechet_data
otherwise; ``ganbench.store.results.main_metric``). Every run evaluates it at each evaluation point, giving a quality-vs-wall-time
curve. Per run: the final value, the area under the curve (trapezoids over ``wall_s``, in
metric x seconds) and its time average (area / training seconds, in the metric's unit: what
quality the run had on average while it trained), the best value and whether it diverged.
Per variant x dataset: mean and std of these over seeds, and the number of diverged runs.
"""

from __future__ import annotations

from typing import Optional

# The quality gate's default metric (``ganbench check``, ``analysis.gate.default_metrics``):
# the first of these a dataset has. Kept apart from the datasets' main metrics because CI's
# committed baseline (results/quick-baseline.csv) holds these values only.
MAIN_METRICS = ("fid", "frechet_data", "reverse_kl")
RUN_COLUMNS = ["run_id", "variant", "dataset", "seed", "metric", "final", "auc", "time_avg",
               "best", "wall_s", "evals", "diverged", "eval_spec", "higher_is_better", "unit"]


def main_metric(metrics) -> Optional[str]:
    """The gate's default metric among ``metrics`` (the first of :data:`MAIN_METRICS`)."""
    names = set(metrics)
    return next((m for m in MAIN_METRICS if m in names), None)


def per_run(df, metric: Optional[str] = None):
    """One row per run: final, auc, time_avg, best, diverged of ``metric`` (default: each
    dataset's main metric)."""
    import numpy as np
    import pandas as pd

    from ganbench.store.results import main_metric as dataset_main_metric

    rows = []
    present = {ds: set(g["metric"].dropna()) for ds, g in df.groupby("dataset")}
    for (run_id, dataset), g in df.groupby(["run_id", "dataset"], sort=True):
        m = metric or dataset_main_metric(dataset, present[dataset])
        if m is None:
            continue
        c = g[g["metric"] == m].sort_values("step")
        if c.empty:
            continue
        t = c["wall_s"].to_numpy(dtype=float)
        v = c["value"].to_numpy(dtype=float)
        ok = np.isfinite(v)
        tt, vv = t[ok], v[ok]
        auc = float(np.sum((tt[1:] - tt[:-1]) * (vv[1:] + vv[:-1]) / 2)) if len(tt) > 1 \
            else float("nan")
        span = tt[-1] - tt[0] if len(tt) > 1 else 0.0
        hib = c["higher_is_better"].iloc[0]
        hib = bool(hib) if type(hib).__name__ in ("bool", "bool_") else None  # numpy's too
        best = (np.nanmax(v) if hib is True else np.nanmin(v)) if ok.any() else float("nan")
        first = c.iloc[0]
        rows.append({
            "run_id": run_id, "variant": first["variant"], "dataset": dataset,
            "seed": first["seed"], "metric": m, "final": float(v[-1]), "auc": auc,
            "time_avg": auc / span if span > 0 else float("nan"), "best": float(best),
            "wall_s": float(t[-1]), "evals": len(c),
            "diverged": bool((g["status"] == "diverged").any()) or not bool(ok[-1]),
            "eval_spec": first["eval_spec"], "higher_is_better": hib,
            "unit": first.get("unit") if "unit" in c else None,
        })
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def summarize(df, metric: Optional[str] = None):
    """Per variant x dataset: mean and std over seeds of final, auc and time_avg; runs and
    diverged runs."""
    import pandas as pd

    runs = per_run(df, metric)
    cols = ["variant", "dataset", "metric", "final_mean", "final_std", "auc_mean", "auc_std",
            "time_avg_mean", "time_avg_std", "runs", "diverged", "higher_is_better", "unit"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    g = runs.groupby(["variant", "dataset", "metric"], sort=True)
    out = g[["final", "auc", "time_avg"]].agg(["mean", "std"])
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    out["runs"] = g.size()
    out["diverged"] = g["diverged"].sum().astype(int)
    out["higher_is_better"] = g["higher_is_better"].first()
    out["unit"] = g["unit"].first()
    return out.reset_index()[cols]


FOOTER = ("final: the value at the last evaluation; time avg: the area under the metric's curve "
          "over training seconds divided by those seconds (the quality the run had on average "
          "while it trained, in the metric's unit); AUC in metric x s; mean ± std over seeds "
          "(std with 2 or more); div: diverged runs; ↑/↓: higher/lower is better, rows "
          "ordered by time avg, best first")


def format_summary(table, width: int = 100) -> str:
    """:func:`summarize`'s table as text, one block per dataset × metric, each line at most
    ``width`` columns: rows ordered by time average (best first, by the metric's direction),
    blanks where a value is undefined, and a footer saying what the columns mean."""
    import pandas as pd

    from ganbench.analysis.leaderboard import arrow, fit_width

    if table.empty:
        return "(no results)"
    blocks = []
    for (dataset, metric), t in table.groupby(["dataset", "metric"], sort=True):
        hib = t["higher_is_better"].iloc[0]
        hib = bool(hib) if type(hib).__name__ in ("bool", "bool_") else None
        calib = t["variant"].astype(str).str.startswith("calib-")
        t = pd.concat([t[~calib].sort_values(["time_avg_mean", "final_mean"],
                                             ascending=hib is not True, na_position="last"),
                       t[calib].sort_values("variant", ascending=False)])  # real, then noise
        unit = t["unit"].iloc[0] if isinstance(t["unit"].iloc[0], str) else ""
        name = f"{metric}{' ' + arrow(hib) if arrow(hib) else ''}"
        head = ["variant", "runs", "div", f"final {name}", "time avg", f"AUC ({metric}·s)"]
        rows = []
        for _, r in t.iterrows():
            rows.append([r["variant"], str(int(r["runs"])), str(int(r["diverged"])) or "",
                         _pm(r["final_mean"], r["final_std"], r["runs"]),
                         _pm(r["time_avg_mean"], r["time_avg_std"], r["runs"]),
                         _pm(r["auc_mean"], r["auc_std"], r["runs"])])
        title = f"{dataset}: anytime {metric}{f' ({unit})' if unit else ''}"
        blocks.append(fit_width(title, head, rows, width, right=range(1, 6)))
    return "\n\n".join(blocks) + "\n" + _wrap(FOOTER, width)


def _pm(mean, std, runs) -> str:
    from ganbench.analysis.leaderboard import fmt_value

    if mean != mean:
        return ""
    return fmt_value(mean) + (f" ± {fmt_value(std)}" if runs > 1 and std == std else "")


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
