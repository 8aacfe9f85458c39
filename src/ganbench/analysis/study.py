"""The hyperparameter-robustness study (Lucic et al. 2018, "Are GANs Created Equal?").

``ganbench sweep --variant V[,V] --dataset D --trials N --space NAME`` samples N hyperparameter
settings per variant from a registered search space (``SearchSpaceSpec``), seeded by
(space, ``--space-seed``, variant, trial), so trial t is the same setting whatever N is and
wherever it runs; each setting is recorded in its run (``meta.config.study``: space, seed,
trial, the sampled parameters) and is part of the run id. The jobs run on any executor.

``ganbench results --study`` shows per variant × dataset the distribution of the final main
metric over the trials (fid > frechet_data > reverse_kl) and the expected best value after k
trials, k = 1..N (Lucic et al.'s Figure 4). **Estimator**: the expected best of k settings drawn
at random *without replacement* from the N tried, computed exactly from the order statistics
(Dodge et al. 2019, "Show Your Work", draw with replacement, the empirical CDF to the power k;
drawing without replacement instead makes k = N the best trial): with the values sorted best
first, P(the best of k is the i-th) = C(N-i, k-1) / C(N, k). It is the U-statistic
of min(x_1..x_k): an unbiased estimate of the expected best of k *fresh* trials from the space,
and at k = N it is the best trial observed. **Band**: a nominal 95% band, symmetric about the
estimate, of half-width c_N * max(q_99.5 - est, est - q_0.5), where q are quantiles of the
estimate over 2000 bootstrap resamples of the N trials and c_N = t(0.975, N-1) / z(0.975) *
sqrt(N / (N-1)) (a Student small-sample widening). It is symmetric because a resample's best can
never beat the observed best, so a percentile band would never reach below it at k = N. No band
for an expectation is distribution-free (Bahadur & Savage 1956): its coverage is a simulation
result, committed in ``results/study-band-coverage.md`` (>= 90% at k = 1, 5, N for N = 10
log-normal sigma 0.5 and 1, gamma, exponential and uniform trials; short of it for a heavier bad
tail, log-normal sigma 1.5 at k = 1 (78%), and for an unbounded good tail, the normal at k = N
(89%)). A trial without a finite final value (failed or diverged) counts as the worst value its
variant reached: a wasted trial, never a good one (this substitution is outside the simulation).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
from typing import Any, Optional, Sequence

from ganbench.api.errors import UsageError
# the search spaces' distributions and checks live in planning (the registry checks spaces at
# plugin load, the store checks a run's study settings); they are the study's public names
from ganbench.planning.space import (PARAM_RANGES, Choice, LogUniform, Uniform,  # noqa: F401
                                     check_study, space_problem)

DEFAULT_SPACE = "lucic2018"
BOOTSTRAP = 2000
BAND_TAIL = 0.005  # the band's bootstrap quantiles, before widening (module docstring)
MAX_TRIALS = 1000  # per variant: --trials, and the trials summarised in one group
MAX_SWEEP_RUNS = 20_000  # runs one sweep plans (variants x datasets x seeds x trials)


# ------------------------------------------------------------------------------ sampling


def _rng(space: str, space_seed: int, variant: str, trial: int):
    import numpy as np

    digest = hashlib.sha256(f"{space}\0{space_seed}\0{variant}\0{trial}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def applicable(space, job) -> dict[str, Any]:
    """The parameters of ``space`` that apply to ``job``'s recipe."""
    out = {}
    for name, dist in space.params.items():
        if name in ("beta1", "beta2") and job.hparams.optimizer not in ("adam", "adamw"):
            continue  # RMSprop has no betas; SGD's momentum is not Adam's beta1
        if name == "reg_weight" and not job.regularizers:
            continue
        out[name] = dist
    return out


def sample(space, space_seed: int, job, trial: int) -> dict[str, Any]:
    rng = _rng(space.name, space_seed, job.variant, trial)
    return {name: dist.sample(rng) for name, dist in sorted(applicable(space, job).items())}


def apply(reg, job, params: dict[str, Any], study: tuple) -> Any:
    """``job`` with the sampled ``params`` applied (and the study recorded)."""
    from ganbench.planning.plan import check_hparams
    from ganbench.planning.terms import parse_reg

    h = job.hparams
    changes: dict[str, Any] = {}
    if "lr" in params:
        changes["lr_g"] = changes["lr_d"] = params["lr"]
    for name in ("lr_g", "lr_d", "k", "batch_size", "z_dim"):
        if name in params:
            changes[name] = params[name]
    if "beta1" in params or "beta2" in params:
        changes["betas"] = (params.get("beta1", h.betas[0]), params.get("beta2", h.betas[1]))
    h = dataclasses.replace(h, **changes)
    check_hparams(h, f"variant '{job.variant}' (search space trial)")
    regs = job.regularizers
    if "reg_weight" in params and regs:
        first = parse_reg(reg, regs[0])
        regs = (dataclasses.replace(first, weight=float(params["reg_weight"])).text(),) + regs[1:]
    return dataclasses.replace(job, hparams=h, regularizers=regs, study=study)


# the ``run`` options that fix a parameter a space may sample (a clash is refused)
FIXED_BY = {"lr": ("lr", "lr_g", "lr_d"), "lr_g": ("lr", "lr_g"), "lr_d": ("lr", "lr_d"),
            "betas": ("beta1", "beta2"), "k": ("k",), "batch_size": ("batch_size",),
            "z_dim": ("z_dim",), "reg": ("reg_weight",)}


def check_fixed(args, space) -> None:
    """``--lr`` and the like fix a parameter: applied when the space leaves it alone, refused
    when the space samples it (the sampled value would silently replace it)."""
    for option, names in FIXED_BY.items():
        clash = sorted(set(names) & set(space.params))
        if getattr(args, option, None) not in (None, [], ()) and clash:
            raise UsageError(
                f"--{option.replace('_', '-')} fixes {', '.join(clash)}, which search space "
                f"'{space.name}' samples: drop --{option.replace('_', '-')} or use a space "
                "without it")


def plan_study(reg, base_jobs: Sequence, space_name: str, trials: int, space_seed: int) -> list:
    space = reg.search_spaces.get(space_name)
    if not 1 <= trials <= MAX_TRIALS:
        raise UsageError(f"--trials must be from 1 to {MAX_TRIALS}, got {trials}")
    if len(base_jobs) * trials > MAX_SWEEP_RUNS:
        raise UsageError(f"this sweep would be {len(base_jobs) * trials} runs ({len(base_jobs)} "
                         f"variant x dataset x seed runs x {trials} trials); at most "
                         f"{MAX_SWEEP_RUNS} in one sweep")
    jobs = []
    for job in base_jobs:
        if not applicable(space, job):
            raise UsageError(
                f"search space '{space.name}' samples {', '.join(sorted(space.params))}, none "
                f"of which applies to variant '{job.variant}' (betas need Adam, reg_weight a "
                "regulariser): its trials would all be one setting")
        for t in range(trials):
            params = sample(space, space_seed, job, t)
            study = (("space", space.name), ("space_seed", space_seed), ("trial", t),
                     ("params", tuple(sorted(params.items()))))
            jobs.append(apply(reg, job, params, study))
    return jobs


# ----------------------------------------------------------------------------- commands


def trials(text: str) -> int:
    """The argparse type of ``sweep --trials``."""
    from ganbench.api.argtypes import positive_int

    v = positive_int(text)
    if v > MAX_TRIALS:
        raise argparse.ArgumentTypeError(f"at most {MAX_TRIALS} trials per variant, got {v}")
    return v


def add_results_arguments(rs) -> None:
    rs.add_argument("--study", nargs="?", const="main", metavar="METRIC",
                    help="hyperparameter study (ganbench sweep): per variant the distribution "
                    "of the final METRIC (default: the main metric) over the trials and the "
                    "expected best after k of the N trials (without replacement) with a 95%% "
                    "band (its simulated coverage: results/study-band-coverage.md)")


def cmd_results_study(args, df) -> int:
    metric = None if args.study == "main" else args.study
    s = summarize(df, metric)
    if args.json:  # strict JSON: a missing value (no band with one trial) is null
        print(json.dumps(_finite_or_none(s), indent=1, allow_nan=False))
    elif args.csv:
        import pandas as pd

        print(pd.DataFrame(curve_records(s)).to_csv(index=False), end="")
    else:
        print(format_study(s))
    return 0


def _finite_or_none(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite_or_none(v) for v in x]
    return x


# --------------------------------------------------------------------------- statistics


def expected_best_weights(n: int, k: int):
    """w such that sorted_values @ w is the expected min of k of the n values drawn *without*
    replacement (values sorted ascending): P(min is the i-th smallest) = C(n-i, k-1) / C(n, k)
    (Dodge et al. 2019's expected maximum, without replacement)."""
    import numpy as np
    from scipy.special import gammaln

    i = np.arange(1, n + 1)
    ok = n - i >= k - 1
    m = np.where(ok, n - i, 0)

    def log_comb(a, b):
        return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

    logw = log_comb(m, k - 1) - log_comb(n, k)
    return np.where(ok, np.exp(np.where(ok, logw, 0.0)), 0.0)


def band_factor(n: int) -> float:
    """c_N of the band: how much wider a Student-t interval with the unbiased standard deviation
    is than the plug-in normal interval the bootstrap mimics (1.217 at N = 10)."""
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1) / stats.norm.ppf(0.975) * math.sqrt(n / (n - 1)))


def expected_best(values: Sequence[float], boot: int = BOOTSTRAP,
                  seed: int = 0) -> list[dict[str, float]]:
    """For k = 1..n: the expected best (lowest) of k of the trials drawn without replacement
    and its band (see the module docstring; NaN band with a single trial)."""
    import numpy as np

    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n > MAX_TRIALS:
        raise UsageError(f"{n} trials in one study group; at most {MAX_TRIALS} are summarised")
    if n == 0:
        return []
    w = np.stack([expected_best_weights(n, k) for k in range(1, n + 1)], axis=1)  # n × k
    est = x @ w
    if n == 1:
        return [{"k": 1, "expected_best": float(est[0]), "ci_low": math.nan,
                 "ci_high": math.nan}]
    rng = np.random.default_rng(seed)
    resampled = np.sort(x[rng.integers(0, n, size=(boot, n))], axis=1)
    lo, hi = np.quantile(resampled @ w, [BAND_TAIL, 1 - BAND_TAIL], axis=0)
    half = band_factor(n) * np.maximum(hi - est, est - lo)
    return [{"k": k + 1, "expected_best": float(est[k]), "ci_low": float(est[k] - half[k]),
             "ci_high": float(est[k] + half[k])} for k in range(n)]


def trials_table(df, metric: Optional[str] = None):
    """One row per study trial: variant, dataset, space, trial, params, status, final value
    (mean over training seeds of the trial)."""
    import pandas as pd

    from ganbench.evaluation.calibration import STATUS as CALIBRATION
    from ganbench.store.results import main_metric, main_metrics

    if metric is not None:
        check_metric(df, metric)
    # per dataset the metric its trials are ranked on (None: none; its runs are left out)
    main_of = {ds: metric if metric in set(d["metric"]) else None if metric is not None
               else main_metric(ds, set(d["metric"].dropna()))
               for ds, d in df.groupby("dataset")}
    rows = []
    left_out: set = set()
    for run_id, g in df.groupby("run_id", sort=False):
        try:
            recipe = json.loads(g["recipe_json"].iloc[0] or "{}")
        except (TypeError, ValueError, RecursionError):
            recipe = None
        study = recipe.get("study") if isinstance(recipe, dict) else None
        if study is None or g["status"].iloc[0] == CALIBRATION:
            continue  # calibration rows carry their trial's recipe but are no trial
        try:  # run files are checked when read; an exported table is checked here
            study = check_study(study)
        except ValueError as exc:
            print(f"ganbench: warning: skipping run '{run_id}': {exc}", file=sys.stderr)
            continue
        dataset = g["dataset"].iloc[0]
        if main_of.get(dataset) is None:
            left_out.add(dataset)
            continue
        # a run that failed before its first evaluation has the main metric of its dataset
        m = metric or main_metric(dataset, set(g["metric"].dropna())) or main_of[dataset]
        gm = g[g["metric"] == m]
        final = gm[gm["step"] == gm["step"].max()]["value"] if not gm.empty else pd.Series([])
        value = float(final.iloc[0]) if len(final) else math.nan
        status = g["status"].iloc[0]
        if status != "completed":
            value = math.nan
        rows.append({"variant": g["variant"].iloc[0], "dataset": g["dataset"].iloc[0],
                     "space": study["space"], "space_seed": study["space_seed"],
                     "trial": study["trial"], "params": json.dumps(study["params"],
                                                                    sort_keys=True),
                     "seed": g["seed"].iloc[0], "status": status, "metric": m,
                     "value": value})
    for ds in sorted(left_out):
        print(f"ganbench: warning: the study runs on '{ds}' have no "
              + (f"'{metric}'" if metric else
                 f"main metric ({', '.join(main_metrics(ds))}, or fid, high_quality_pct, "
                 "frechet_data, reverse_kl)")
              + ": left out" + ("" if metric else "; pass --study METRIC"), file=sys.stderr)
    t = pd.DataFrame(rows)
    if t.empty:
        return t
    t["higher_is_better"] = t["metric"].map(lambda name: _direction(df, name))
    keys = ["variant", "dataset", "space", "space_seed", "trial", "params", "metric",
            "higher_is_better"]
    return t.groupby(keys, as_index=False, dropna=False).agg(
        value=("value", lambda v: float(v.mean()) if v.notna().all() else math.nan),
        seeds=("seed", "nunique"), failed=("status", lambda s: int((s != "completed").any())))


def _direction(df, metric) -> bool:
    """Whether higher ``metric`` is better: its registration's direction, as ``compare`` and
    ``check`` take it (``results.metric_directions``: runs that record another, or that disagree
    on an unregistered metric, are refused); False for lower or none."""
    from ganbench.store.results import metric_directions

    return bool(metric_directions([metric], study=df)[metric])


def check_metric(df, metric: str) -> None:
    """``--study METRIC`` names a metric of these runs that has a better direction."""
    rows = df[df["metric"] == metric]
    if rows.empty:
        known = sorted(str(m) for m in df["metric"].dropna().unique())
        raise UsageError(f"no metric '{metric}' in these runs (they have: "
                         f"{', '.join(known) or 'none'})")
    import numpy as np

    hib = list(rows["higher_is_better"])
    if not all(isinstance(v, (bool, np.bool_)) for v in hib):
        raise UsageError(f"metric '{metric}' has no better direction (higher or lower) in these "
                         "runs, so its trials cannot be ranked: pick a quality metric")
    _direction(df, metric)


def summarize(df, metric: Optional[str] = None) -> list[dict[str, Any]]:
    """Per variant × dataset × space: the distribution of the final metric over trials and
    the expected-best curve (see the module docstring)."""
    return summarize_trials(trials_table(df, metric))


def summarize_trials(t) -> list[dict[str, Any]]:
    """:func:`summarize` of a :func:`trials_table` already made (the report has one)."""
    import numpy as np

    if t.empty:
        raise UsageError("no study runs here (they come from 'ganbench sweep')")
    out = []
    for (variant, dataset, space, metric_name), g in t.groupby(
            ["variant", "dataset", "space", "metric"], sort=True):
        sign = -1.0 if g["higher_is_better"].iloc[0] else 1.0
        vals = g["value"].to_numpy(dtype=float)
        finite = vals[np.isfinite(vals)]
        worst = (finite.max() if sign > 0 else finite.min()) if len(finite) else math.nan
        scored = np.where(np.isfinite(vals), vals, worst)
        q = (np.quantile(finite, [0, 0.25, 0.5, 0.75, 1]) if len(finite)
             else [math.nan] * 5)
        curve = (expected_best(sign * scored) if len(finite) else [])
        for c in curve:
            c["expected_best"] *= sign
            lo, hi = sorted((sign * c["ci_low"], sign * c["ci_high"]))
            c["ci_low"], c["ci_high"] = lo, hi
        best = g.loc[g["value"].idxmin() if sign > 0 else g["value"].idxmax()] \
            if len(finite) else None
        out.append({"variant": variant, "dataset": dataset, "space": space,
                    "metric": metric_name, "trials": int(len(g)),
                    "failed": int((~np.isfinite(vals)).sum()),
                    "min": float(q[0]), "q25": float(q[1]), "median": float(q[2]),
                    "q75": float(q[3]), "max": float(q[4]),
                    "best_trial": int(best["trial"]) if best is not None else None,
                    "best_params": json.loads(best["params"]) if best is not None else None,
                    "expected_best": curve})
    return out


def curve_records(summary) -> list[dict[str, Any]]:
    return [{k: s[k] for k in ("variant", "dataset", "space", "metric")} | c
            for s in summary for c in s["expected_best"]]


def format_study(summary) -> str:
    lines = []
    for s in summary:
        lines.append(f"{s['variant']} on {s['dataset']} ({s['space']}, {s['trials']} trials, "
                     f"{s['failed']} failed or diverged): final {s['metric']} min {s['min']:.4g}"
                     f", quartiles {s['q25']:.4g} / {s['median']:.4g} / {s['q75']:.4g}, max "
                     f"{s['max']:.4g}")
        if s["best_params"] is not None:
            shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in s["best_params"].items())
            lines.append(f"  best: trial {s['best_trial']} ({shown})")
        lines.append(f"  expected best {s['metric']} after k trials (k of the N drawn without "
                     "replacement) [95% band]:")
        for c in s["expected_best"]:
            band = (f"[{c['ci_low']:.4g}, {c['ci_high']:.4g}]" if math.isfinite(c["ci_low"])
                    else "(no band from one trial)")
            lines.append(f"    k={c['k']:<3d} {c['expected_best']:.4g} {band}")
    return "\n".join(lines)
