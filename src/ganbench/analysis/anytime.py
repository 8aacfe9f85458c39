"""Stability and anytime quality: the main metric over training wall-clock time.

Every run evaluates its main metric at each evaluation point, giving a quality-vs-wall-time
curve. Per run: the final value, the area under the curve (trapezoids over ``wall_s``, in
metric x seconds) and its time average (area / training seconds, in the metric's unit: what
quality the run had on average while it trained), the best value and whether it diverged.
Per variant x dataset: mean and std of these over seeds, and the number of diverged runs.
"""

from __future__ import annotations

from typing import Optional

MAIN_METRICS = ("fid", "frechet_data", "reverse_kl")  # first one a run has is its main metric
RUN_COLUMNS = ["run_id", "variant", "dataset", "seed", "metric", "final", "auc", "time_avg",
               "best", "wall_s", "evals", "diverged", "eval_spec"]


def main_metric(metrics) -> Optional[str]:
    names = set(metrics)
    return next((m for m in MAIN_METRICS if m in names), None)


def per_run(df, metric: Optional[str] = None):
    """One row per run: final, auc, time_avg, best, diverged of ``metric`` (default: each
    dataset's main metric)."""
    import numpy as np
    import pandas as pd

    rows = []
    for (run_id, dataset), g in df.groupby(["run_id", "dataset"], sort=True):
        m = metric or main_metric(g["metric"].unique())
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
        best = (np.nanmax(v) if hib is True else np.nanmin(v)) if ok.any() else float("nan")
        first = c.iloc[0]
        rows.append({
            "run_id": run_id, "variant": first["variant"], "dataset": dataset,
            "seed": first["seed"], "metric": m, "final": float(v[-1]), "auc": auc,
            "time_avg": auc / span if span > 0 else float("nan"), "best": float(best),
            "wall_s": float(t[-1]), "evals": len(c),
            "diverged": bool((g["status"] == "diverged").any()) or not bool(ok[-1]),
            "eval_spec": first["eval_spec"],
        })
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def summarize(df, metric: Optional[str] = None):
    """Per variant x dataset: mean and std over seeds of final, auc and time_avg; runs and
    diverged runs."""
    import pandas as pd

    runs = per_run(df, metric)
    cols = ["variant", "dataset", "metric", "final_mean", "final_std", "auc_mean", "auc_std",
            "time_avg_mean", "time_avg_std", "runs", "diverged"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    g = runs.groupby(["variant", "dataset", "metric"], sort=True)
    out = g[["final", "auc", "time_avg"]].agg(["mean", "std"])
    out.columns = [f"{a}_{b}" for a, b in out.columns]
    out["runs"] = g.size()
    out["diverged"] = g["diverged"].sum().astype(int)
    return out.reset_index()[cols]
