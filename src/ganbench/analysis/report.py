"""``ganbench report RESULTS... --out DIR``: one static HTML page that works offline.

It reads only run files and the files beside them (``ganbench.store.artifacts``), so it can be made
on another machine than the one that trained. ``DIR/index.html`` links only files inside
``DIR`` (figures drawn with matplotlib's Agg backend, and copies of the runs' sample pictures);
no script, no web font, no CDN. Per dataset: a section per search space of the study runs of
``ganbench sweep`` (``study.summarize``: the expected best after k trials with its
band, every trial's final value, the numbers and each trial's settings); quality vs training
seconds and vs images seen for each variant (mean over runs, band: ± one std, at each
evaluation point, computed on the axis's scale: on a log axis the geometric mean and ± one std
of log10, :func:`band_limits`; calibration rows as black dashed/dotted levels; engineering tick
labels, :func:`eng`; y labels with the metric's unit and direction), the final metrics with
their 95% t-intervals (``results.summarize``), the anytime table (``anytime.summarize``), the
calibration rows, stability curves (D/G losses, D outputs, G's gradient norm; a row of panels
per loss kind, :func:`loss_kinds`, so that a Wasserstein critic's scale does not flatten the
others), each variant's final pictures side by side and, per variant, its pictures over time.
At the end: the environment and the EvalSpecs as key/value tables.

A variant keeps one colour, line style and marker in every figure of a report (:func:`_styles`,
20 distinct colours, :func:`palette`) and every figure has one legend, below its axes
(:func:`_save`), so that 20 variants neither cover the curves nor share a look. Figures are
:data:`FIG_WIDTH` inches wide (the page's 1350 pixels).
"""

from __future__ import annotations

import html
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import quote

from ganbench.api.errors import UsageError

QUALITY = ("fid", "frechet_data", "reverse_kl", "modes_covered", "high_quality_pct", "kid",
           "classes_covered")
QUALITY_PER_DATASET = 3
STABILITY = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")
CALIB_PREFIX = "calib-"
DISTANCES = ("fid", "frechet_data", "reverse_kl", "kid")  # lower is better, >= 0 (kid: about)
LOG_SPREAD = 30.0
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")
DPI = 90
FIG_WIDTH = 15.0  # inches: 1350 pixels at DPI, the page's width (body max 1400px, margins)
LEGEND_FONT = 10
LEGEND_COLUMN_IN = 2.9  # inches per legend column
LEGEND_ROW_IN = 0.24
COUNTS = ("modes_covered", "classes_covered")  # whole numbers: integer ticks
STABILITY_NAMES = {"d_loss": "d_loss: D's loss", "g_loss": "g_loss: G's loss",
                   "d_real": "d_real: D(real), probability",
                   "d_fake": "d_fake: D(fake), probability",
                   "d_real_raw": "d_real_raw: D's raw output on real data",
                   "d_fake_raw": "d_fake_raw: D's raw output on fakes",
                   "g_grad_norm": "g_grad_norm: L2 norm of G's gradient"}
MAX_PICTURE_BYTES = 64 * 2**20  # a run's sample picture copied into the report
STUDY_K = (1, 5)  # the study table's columns of the expected best, and k = N

CSS = """
body{font-family:sans-serif;margin:1.5em;max-width:1400px;color:#222}
h1{font-size:1.6em} h2{border-bottom:2px solid #ccc;padding-top:.6em} h3{margin-bottom:.3em}
table{border-collapse:collapse;font-size:.85em;margin:.4em 0 1em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} th{background:#f0f0f0}
td.l,th.l{text-align:left}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.strip{display:flex;gap:6px;overflow-x:auto;padding-bottom:6px}
figure{margin:0;text-align:center;font-size:.8em}
img.pic{width:320px;image-rendering:pixelated;border:1px solid #ddd}
.strip img.pic{width:460px}
img.fig{width:100%;max-width:1350px}
.note{color:#555;font-size:.9em}
.wide{overflow-x:auto;max-width:100%} .wide td{white-space:nowrap}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _read_runs(paths, warn):
    """``{run_id: (path, meta)}`` of the valid run files under ``paths``."""
    from ganbench.store import results

    runs: dict[str, tuple[Path, dict]] = {}
    for f in results.result_files(paths):
        if f.suffix != ".json":
            continue
        try:
            meta = results.read_run(f)["meta"]
        except ValueError as exc:
            warn(f"skipping '{f}': {exc}")
            continue
        runs.setdefault(meta["run_id"], (f, meta))
    return runs


def make_report(paths: list[Union[str, Path]], out_dir: Union[str, Path], *,
                warn=None, title: str = "ganbench report") -> Path:
    """Write the report for the run files under ``paths`` to ``out_dir``; returns index.html."""
    from ganbench.analysis import leaderboard
    from ganbench.store import results

    warn = warn or (lambda msg: print(f"ganbench: warning: {msg}", file=sys.stderr))
    runs = _read_runs(paths, warn)
    if not runs:
        raise UsageError(f"no run files found in {', '.join(map(str, paths))}")
    # with a row for each run file without rows (a trial that failed before evaluating),
    # which the studies count; every other part of the report reads the rows alone
    df_all = results.load([p for p, _ in runs.values()], warn=lambda m: None, empty_runs=True)
    df = df_all[df_all["metric"].notna()]
    if df.empty:
        raise UsageError(f"the run files in {', '.join(map(str, paths))} hold no rows")
    from ganbench.planning.validate import check_path

    check_path("--out", os.fspath(out_dir))
    out = _report_dir(Path(out_dir))
    img = _report_dir(out / "img")
    index = _refuse_link(out / "index.html")
    t0 = time.perf_counter()
    body = [f"<h1>{_e(title)}</h1>",
            f"<p class='note'>{len(runs)} run file(s) from {_e(', '.join(map(str, paths)))}; "
            f"made {_e(time.strftime('%Y-%m-%d %H:%M:%S'))}. Numbers are final values at the "
            "end of each run's budget; intervals are 95% t-intervals of the mean over seeds "
            "(none with one seed). Bands in the curves: mean ± one std over seeds "
            "(on log axes: geometric mean, ± one std of log10).</p>"]
    datasets = sorted(df["dataset"].dropna().unique())
    body.append("<p>Datasets: " + ", ".join(f"<a href='#ds-{_e(d)}'>{_e(d)}</a>"
                                             for d in datasets) + "</p>")
    body.append(leaderboard.report_section(df))  # ganbench.analysis.leaderboard: ranked, ties
    studies = {ds: _studies(df_all[df_all["dataset"] == ds]) for ds in datasets}
    if any(studies.values()):
        body.append("<p>Hyperparameter studies: " + ", ".join(
            f"<a href='#{_e(_study_id(ds, space))}'>{_e(space)} on {_e(ds)}</a>"
            for ds in datasets for space, _, _ in studies[ds]) + "</p>")
    styles = _styles(v for v in df["variant"].dropna().astype(str).unique()
                     if not v.startswith(CALIB_PREFIX))
    import warnings

    import numpy as np
    from matplotlib import rc_context

    # names are drawn as plain text ('$' is no mathtext; a character no font has is a box,
    # without a warning); values at the float limit (1e308, inf) are shown as they are,
    # without numpy's overflow warnings
    with rc_context({"text.parse_math": False, "text.usetex": False}), \
            np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Glyph \d+ .*missing from font", UserWarning)
        for ds in datasets:
            body.append(_dataset_section(ds, df[df["dataset"] == ds], studies[ds], runs,
                                         styles, img, warn))
    body.append(_environment(runs))
    body.append(f"<p class='note'>report made in {time.perf_counter() - t0:.1f}s</p>")
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    _write(index, page.encode("utf-8"))  # last: a report that fails keeps its old page
    return index


# ------------------------------------------------------------------------------ its files


def _refuse_link(path: Path) -> Path:
    """``path``, refused (UsageError) when it is a symlink: the report writes only inside its
    directory, as runs do (``safepath.refuse_symlink``)."""
    from ganbench.store.safepath import refuse_symlink

    return refuse_symlink(path)


def _report_dir(path: Path) -> Path:
    """``path`` as a directory of the report, made if needed; a symlink or a file there is
    refused."""
    _refuse_link(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"'{path}' exists and is not a directory: the report needs a "
                         "directory there")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the report to '{path}': {exc.strerror or exc}") \
            from None
    return path


def _write(path: Path, data) -> None:
    """Write one file of the report atomically (``data``: bytes, or a function writing into
    the file; a temporary file, then a rename: a full disk leaves the previous file whole); a
    symlink at ``path`` is refused, not followed."""
    from ganbench.store.safepath import atomic_write

    try:
        atomic_write(path, data)
    except OSError as exc:
        raise UsageError(f"cannot write the report file '{path}': {exc.strerror or exc} "
                         "(the previous index.html, if any, is unchanged)") from None


def _file_name(*parts: str, suffix: str = ".png") -> str:
    """A safe file name for ``parts`` (dataset, metric, ...): the parts joined by '--' when
    they are short and plain, else a plain prefix and a hash of them (names are free text: a
    300-character dataset name, '/' or '$' must not make the file name)."""
    import hashlib
    import re

    from ganbench.store.safepath import SAFE_NAME_RE

    name = "--".join(parts)
    if len(name) <= 80 and SAFE_NAME_RE.fullmatch(name + suffix):
        return name + suffix
    plain = re.sub(r"[^A-Za-z0-9._+=-]+", "_", name).strip("._-")[:60] or "x"
    return f"{plain}-{hashlib.sha256(name.encode()).hexdigest()[:12]}{suffix}"


# ---------------------------------------------------------------------------------- figures


def _curves(d, metric: str, x: str):
    """Per variant: x, mean, std of ``metric`` at each evaluation index (seeds pooled), and
    the same on a log scale (``lmean``, ``lstd``: mean and std of log10 of the positive
    values; NaN where there are none) for log axes."""
    import numpy as np
    import pandas as pd

    m = d[d["metric"] == metric].copy()
    if m.empty:
        return {}
    m["value"] = pd.to_numeric(m["value"], errors="coerce")
    with np.errstate(divide="ignore", invalid="ignore"):
        m["log"] = np.log10(m["value"].where(m["value"] > 0))
    m = m.sort_values(["run_id", "step"])
    m["k"] = m.groupby("run_id").cumcount()
    out = {}
    for variant, g in m.groupby("variant", sort=True):
        a = g.groupby("k").agg(x=(x, "mean"), mean=("value", "mean"), std=("value", "std"),
                               n=("value", "count"), lmean=("log", "mean"),
                               lstd=("log", "std"))
        out[variant] = a
    return out


def band_limits(a, log: bool, floor: Optional[float] = None,
                ceiling: Optional[float] = None):
    """``(centre, low, high)`` of a curve ``a`` (:func:`_curves`) as drawn: on a linear axis
    the mean ± one std over seeds; on a log axis the same computed on the axis's scale, the
    geometric mean times / divided by 10**std(log10 value), so that it is positive and never
    falls to the axis floor. The band is then clipped to ``[floor, ceiling]`` (the data range
    of the axes it is drawn on), so that it never stretches the axis beyond the data."""
    import numpy as np

    if log:
        centre = np.power(10.0, a["lmean"].to_numpy(dtype=float))
        s = a["lstd"].fillna(0).to_numpy(dtype=float)
        low = np.power(10.0, a["lmean"].to_numpy(dtype=float) - s)
        high = np.power(10.0, a["lmean"].to_numpy(dtype=float) + s)
    else:
        centre = a["mean"].to_numpy(dtype=float)
        s = a["std"].fillna(0).to_numpy(dtype=float)
        low, high = centre - s, centre + s
    low, high = np.clip(low, floor, ceiling), np.clip(high, floor, ceiling)
    gone = ~(np.isfinite(centre) & np.isfinite(s))  # a mean that overflowed: no band there
    low[gone], high[gone] = np.nan, np.nan
    return centre, low, high


def _data_range(d, metric: str, log: bool) -> tuple[Optional[float], Optional[float]]:
    """The smallest and largest value of ``metric`` in ``d`` (positive ones on a log axis)."""
    import numpy as np
    import pandas as pd

    v = pd.to_numeric(d.loc[d["metric"] == metric, "value"], errors="coerce").to_numpy(float)
    v = v[np.isfinite(v) & ((v > 0) if log else True)]
    return (float(v.min()), float(v.max())) if len(v) else (None, None)


def _calibration_levels(d, metric: str) -> dict[str, float]:
    import pandas as pd

    c = d[(d["metric"] == metric) & d["variant"].astype(str).str.startswith(CALIB_PREFIX)]
    return {v: float(pd.to_numeric(g["value"], errors="coerce").mean())
            for v, g in c.groupby("variant")}


def palette(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` colours, distinct for up to 20: tab10's ten, then the five dark shades of
    tab20b (navy, olive, ochre, brown-red, plum) and five light shades of tab20 (blue,
    orange, green, red, purple) — no two closer than 0.12 in RGB (tab20 itself has light
    blue and light cyan at 0.10); a variant past the tenth also gets another line style and
    marker (:func:`_styles`). Past 20 the list repeats."""
    from matplotlib import colormaps

    tab10, tab20, tab20b = colormaps["tab10"], colormaps["tab20"], colormaps["tab20b"]
    colours = ([tab10(i) for i in range(10)] + [tab20b(4 * i) for i in range(5)]
               + [tab20(2 * i + 1) for i in range(5)])
    return [colours[i % len(colours)] for i in range(n)]


def _styles(variants) -> dict[str, dict[str, Any]]:
    """One look per variant for every figure of a report (whatever the dataset or section),
    by sorted name: 20 distinct colours (:func:`palette`), and from the eleventh on another
    line style and marker too, so that 20 and more variants stay apart."""
    names = sorted(set(variants))
    colours = palette(len(names))
    out = {}
    for i, v in enumerate(names):
        cycle = i // 10
        out[v] = {"color": colours[i], "ls": LINESTYLES[cycle % len(LINESTYLES)],
                  "marker": MARKERS[cycle % len(MARKERS)]}
    return out


def _calibration_lines(ax, calib, metric: str) -> None:
    for variant, level in sorted(_calibration_levels(calib, metric).items()):
        ax.axhline(level, lw=1.2, color="black", ls=(0, (5, 3)) if "real" in variant else ":",
                   label=variant)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig, axes, path: Path):
    """One legend for the whole figure, below the axes (never over a curve), in as many
    columns as the width holds; the figure grows by its rows. Returns ``fig``."""
    entries: dict[str, Any] = {}
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, h)
    if entries:
        w, h = fig.get_size_inches()
        cols = max(1, min(len(entries), int(w // LEGEND_COLUMN_IN)))
        rows = -(-len(entries) // cols)
        fig.set_size_inches(w, h + LEGEND_ROW_IN * rows + 0.15)
        fig.legend(list(entries.values()), list(entries), loc="outside lower center",
                   ncols=cols, fontsize=LEGEND_FONT, frameon=False)
    _write(path, lambda f: fig.savefig(f, format="png"))
    return fig


def eng(x: float, pos=None) -> str:
    """An engineering tick label: 40k, 1.2M, 3G; plain below 1000 (0.5, 12, 950)."""
    import math

    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}" if a else "0"


def _eng_axis(axis, integer: bool = False) -> None:
    """Engineering labels (:func:`eng`) and at most 6 ticks (whole numbers for a count) on a
    linear axis."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(6, integer=integer))
    axis.set_major_formatter(FuncFormatter(eng))


def _set_log(ax) -> None:
    """A log y axis with plain-text tick labels (10, 100, 1000): the report draws with
    mathtext off, so that a '$' in a name stays text, and the log scale's default labels are
    mathtext."""
    from matplotlib.ticker import LogFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(LogFormatter(base=10))
    ax.yaxis.set_minor_formatter(LogFormatter(base=10, labelOnlyBase=False))


def _spread(values) -> bool:
    """Whether positive values span more than :data:`LOG_SPREAD` (a log axis is wanted)."""
    import numpy as np

    v = np.asarray([y for y in values if y == y], dtype=float)
    v = v[np.isfinite(v)]
    return bool(len(v) and v.min() > 0 and v.max() / v.min() > LOG_SPREAD)


def _log_if_spread(ax, metric: str, label: Optional[str] = None) -> None:
    """A log y axis for a distance whose curves span more than :data:`LOG_SPREAD` (the first
    evaluation of an untrained G would flatten every later difference to the floor); the
    calibration levels do not decide it."""
    if metric not in DISTANCES:
        return
    ys = [y for line in ax.get_lines() if not line.get_label().startswith(CALIB_PREFIX)
          for y in line.get_ydata()]
    if _spread(ys):
        _set_log(ax)
        ax.set_ylabel(f"{label or metric}, log scale")


def metric_label(d, metric: str) -> str:
    """The y label of ``metric``: its name, its unit (from the rows) and its direction."""
    import pandas as pd

    rows = d[d["metric"] == metric]
    unit = next((str(u) for u in rows.get("unit", pd.Series(dtype=object)).dropna()
                 if str(u) and str(u) not in ("raw",)), "")
    up = next((bool(h) for h in rows.get("higher_is_better", pd.Series(dtype=object))
               if h is not None and h == h), None)
    name = metric
    parts = [p for p in (unit, None if up is None else
                         ("higher is better" if up else "lower is better")) if p]
    return f"{name} ({', '.join(parts)})" if parts else name


def _figure_quality(d, calib, metric: str, styles, path: Path):
    """The figure (saved to ``path``), or None when ``d`` has no ``metric``. A distance
    whose values span more than :data:`LOG_SPREAD` is drawn on a log axis, its curves as
    geometric means and its bands on that scale (:func:`band_limits`)."""
    curves = {x: _curves(d, metric, x) for x in ("wall_s", "images_seen")}
    if not curves["images_seen"]:
        return None
    label = metric_label(d, metric)
    log = metric in DISTANCES and _spread(
        v for a in curves["images_seen"].values() for v in a["mean"])
    floor, ceiling = _data_range(d, metric, log)
    fig = _figure(FIG_WIDTH, 4.2)
    axes = fig.subplots(1, 2)
    for ax, (x, xlabel) in zip(axes, (("wall_s", "training time (s)"),
                                      ("images_seen", "images seen (real images D was shown)"))):
        for variant, a in curves[x].items():
            st = styles[variant]
            n = int(a["n"].max())
            centre, low, high = band_limits(a, log, floor, ceiling)
            ax.plot(a["x"], centre, marker=st["marker"], ms=3.5, color=st["color"],
                    ls=st["ls"], lw=1.6, label=f"{variant} ({n} run{'s' if n > 1 else ''})")
            if (a["n"] > 1).any():
                ax.fill_between(a["x"], low, high, color=st["color"], alpha=0.18, lw=0)
        _calibration_lines(ax, calib, metric)
        if log:
            _set_log(ax)
        else:
            _eng_axis(ax.yaxis, integer=metric in COUNTS)
        ax.set_ylabel(label + (", log scale" if log else ""))
        _eng_axis(ax.xaxis)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{metric} over training "
                 f"({'geometric ' if log else ''}mean over seeds, band ± one std"
                 f"{' of log10' if log else ''})")
    return _save(fig, axes, path)


def _band(ax, a, color, log: bool = False, floor=None, ceiling=None) -> None:
    if (a["n"] > 1).any():
        _, low, high = band_limits(a, log, floor, ceiling)
        ax.fill_between(a["x"], low, high, color=color, alpha=0.2, lw=0)


def loss_kinds(d) -> dict[str, list[str]]:
    """``{loss kind: [variants]}`` of the trained rows ``d`` (the run files' ``loss``; one
    group, '', when the rows do not say): the stability figure draws a row of panels per
    kind, since the scale of D's loss, its outputs and G's gradients is the loss's (a
    Wasserstein critic's loss of -1200 and gradient norm 25,000 would flatten a
    non-saturating GAN's curves on a shared axis)."""
    kinds: dict[str, set] = {}
    has = "loss" in d.columns
    for variant, g in d.groupby("variant", sort=True):
        loss = g["loss"].dropna().astype(str) if has else []
        kind = loss.iloc[0] if len(loss) else ""
        kinds.setdefault(kind, set()).add(str(variant))
    return {k: sorted(v) for k, v in sorted(kinds.items())}


def _figure_stability(d, metrics: list[str], styles, path: Path):
    """A row of panels (one per statistic) per loss kind (:func:`loss_kinds`), each with its
    own y axis; G's gradient norm on a log axis when it spans more than
    :data:`LOG_SPREAD`."""
    if not metrics:
        return None
    kinds = loss_kinds(d)
    rows = max(1, len(kinds))
    fig = _figure(FIG_WIDTH, 2.6 * rows + 0.4)
    axes = fig.subplots(rows, len(metrics), squeeze=False)
    for r, (kind, variants) in enumerate(kinds.items()):
        dk = d[d["variant"].astype(str).isin(variants)]
        for ax, metric in zip(axes[r], metrics):
            if not (dk["metric"] == metric).any() and (dk["metric"] == f"{metric}_raw").any():
                metric = f"{metric}_raw"  # D's outputs of a loss without probabilities
            curves = _curves(dk, metric, "images_seen")
            if not curves:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{metric}: not recorded\nfor this loss", ha="center",
                        va="center", transform=ax.transAxes, fontsize=9, color="#555")
                continue
            log = metric == "g_grad_norm" and _spread(
                v for a in curves.values() for v in a["mean"])
            floor, ceiling = _data_range(dk, metric, log)
            for variant, a in curves.items():
                st = styles[variant]
                centre, _, _ = band_limits(a, log)
                ax.plot(a["x"], centre, color=st["color"], ls=st["ls"], marker=st["marker"],
                        ms=2.5, label=variant)
                _band(ax, a, st["color"], log, floor, ceiling)
            if log:
                _set_log(ax)
            else:
                _eng_axis(ax.yaxis)
            _eng_axis(ax.xaxis)
            title = STABILITY_NAMES.get(metric, metric)
            ax.set_title(f"{title}{', log scale' if log else ''}", fontsize=9)
            if r == rows - 1:
                ax.set_xlabel("images seen", fontsize=8)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
        axes[r][0].set_ylabel(f"loss: {kind}" if kind else "value", fontsize=9)
    return _save(fig, list(axes.ravel()), path)


def _figure_study(rows, trials, calib, styles, path: Path):
    """Lucic et al.'s Figure 4 for one (dataset, search space): the expected best of k trials
    with its band per variant (left), every trial's final value per variant over a
    box of its quartiles (right; failed or diverged trials counted under the name)."""
    import numpy as np

    metric = rows[0]["metric"]
    fig = _figure(FIG_WIDTH, 4.6)
    ax, dist = fig.subplots(1, 2, width_ratios=[1.3, 1])
    for s in rows:
        st = styles[s["variant"]]
        c = s["expected_best"]
        k = [p["k"] for p in c]
        ax.plot(k, [p["expected_best"] for p in c], color=st["color"], ls=st["ls"],
                marker=st["marker"], ms=3, label=f"{s['variant']} ({s['trials']} trials)")
        low = [p["ci_low"] for p in c]
        if metric in DISTANCES:  # a distance is >= 0: its band stops there
            low = [max(v, 0.0) if v == v else v for v in low]
        ax.fill_between(k, low, [p["ci_high"] for p in c], color=st["color"], alpha=0.15,
                        lw=0)
    _calibration_lines(ax, calib, metric)
    _log_if_spread(ax, metric)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("trials k (hyperparameter settings tried)")
    ax.set_ylabel(f"expected best {metric}")
    ax.set_title("expected best after k trials (95% band)", fontsize=9)
    ax.grid(alpha=0.3)
    names, values = [], []
    for i, s in enumerate(rows):
        t = trials[trials["variant"] == s["variant"]]["value"].to_numpy(dtype=float)
        values.append(t[np.isfinite(t)])
        names.append(s["variant"] + (f"\n({s['failed']} failed)" if s["failed"] else ""))
    dist.boxplot([v if len(v) else [np.nan] for v in values], positions=range(len(rows)),
                 widths=0.5, showfliers=False, medianprops={"color": "black"})
    for i, (s, v) in enumerate(zip(rows, values)):
        jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(len(v))
        dist.plot(i + jitter, v, ls="none", marker=styles[s["variant"]]["marker"], ms=4,
                  color=styles[s["variant"]]["color"], alpha=0.8)
    _calibration_lines(dist, calib, metric)
    _log_if_spread(dist, metric)
    dist.set_xticks(range(len(rows)), names, rotation=30 if len(rows) > 4 else 0,
                    ha="right" if len(rows) > 4 else "center", fontsize=8)
    dist.set_ylabel(f"final {metric}")
    dist.set_title("final value of every trial", fontsize=9)
    dist.grid(alpha=0.3, axis="y")
    fig.suptitle(f"hyperparameter study {rows[0]['space']} on {rows[0]['dataset']}")
    return _save(fig, [ax], path)


# ---------------------------------------------------------------------------------- tables


def _num(x) -> str:
    from ganbench.store.results import format_number as fmt

    try:
        return fmt(float(x))
    except (TypeError, ValueError):
        return str(x)


def _table(columns: list[str], rows: list[list[Any]], left: int = 1,
           text: tuple[int, ...] = ()) -> str:
    """Columns before ``left`` and those in ``text`` are aligned left, the others right."""
    def cls(i):
        return "l" if i < left or i in text else ""

    head = "".join(f"<th class='{cls(i)}'>{_e(c)}</th>" for i, c in enumerate(columns))
    body = "".join("<tr>" + "".join(f"<td class='{cls(i)}'>{_e(v)}</td>"
                                    for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _final_table(summary) -> str:
    if summary.empty:
        return "<p class='note'>(no final values)</p>"
    from ganbench.store.results import MACHINE_METRICS, clip_interval

    metrics = [m for m in QUALITY if m in set(summary["metric"])] + sorted(
        set(summary["metric"]) - set(QUALITY) - set(STABILITY) - MACHINE_METRICS)
    keys = summary[["variant", "setting"]].drop_duplicates().values.tolist()
    rows = []
    for variant, setting in keys:
        s = summary[(summary["variant"] == variant) & (summary["setting"] == setting)]
        cells = [variant + (f" [{setting}]" if setting else ""), s["status"].iloc[0],
                 int(s["runs"].max())]
        for m in metrics:
            r = s[s["metric"] == m]
            if r.empty:
                cells.append("")
                continue
            r = r.iloc[0]
            # clipped to the metric's range, as the leaderboard's: no FID interval below 0
            low, high = clip_interval(m, r.get("unit"), r["ci_low"], r["ci_high"])
            ci = f" [{_num(low)}, {_num(high)}]" if low == low else ""
            cells.append(_num(r["mean"]) + ci)
        rows.append(cells)
    # every metric of the run files: wider than the page with many metrics, so the table
    # scrolls inside its own box instead of widening the page past the figures
    return ("<div class='wide'>" + _table(["variant", "status", "runs"] + metrics, rows, left=2)
            + "</div>")


def _df_table(t, left: int = 3) -> str:
    if t.empty:
        return "<p class='note'>(none)</p>"
    return _table(list(t.columns), [[_num(v) if isinstance(v, float) else v for v in r]
                                    for r in t.itertuples(index=False)], left=left)


# ---------------------------------------------------------------------------------- pictures


def _copy_pictures(run_id: str, run_file: Path, img: Path, warn) -> list[tuple[int, str]]:
    """Copy a run's pictures into the report; ``(step, relative src)`` by step."""
    from ganbench.store import artifacts

    try:
        found = artifacts.pictures(run_file.parent, run_id)
    except UsageError:
        return []
    if not found:
        return []
    from ganbench.store.results import read_regular
    from ganbench.store.safepath import check_name

    dest = _report_dir(_report_dir(img / "runs") / check_name(run_id))
    out = []
    for step, p in found:
        try:
            data = read_regular(p, MAX_PICTURE_BYTES)
        except ValueError as exc:
            warn(f"skipping picture '{p}': {exc}")
            continue
        _write(_refuse_link(dest / p.name), data)
        out.append((step, "img/runs/" + quote(run_id) + "/" + quote(p.name)))
    return out


def _pictures_section(d, runs, img, warn) -> str:
    variants = sorted(v for v in d["variant"].unique() if not str(v).startswith(CALIB_PREFIX))
    per_variant: dict[str, list[tuple[dict, list]]] = {}
    for v in variants:
        ids = sorted(d.loc[d["variant"] == v, "run_id"].unique(),
                     key=lambda r: (runs[r][1].get("seed") or 0, r))
        per_variant[v] = [(runs[r][1], _copy_pictures(r, runs[r][0], img, warn))
                          for r in ids]
    if not any(p for lst in per_variant.values() for _, p in lst):
        return ("<p class='note'>No sample pictures beside these run files (runs made before "
                "ganbench kept pictures, or calibration rows only).</p>")
    parts = ["<h3>Final samples (last evaluation point, fixed evaluation noise)</h3>"
             "<div class='row'>"]
    for v, lst in per_variant.items():
        for meta, pics in lst:
            if not pics:
                continue
            step, src = pics[-1]
            parts.append(f"<figure><img class='pic' src='{src}' alt='{_e(v)} final samples'>"
                         f"<figcaption>{_e(v)} seed {_e(meta.get('seed'))}<br>step {step}, "
                         f"{_e(meta.get('status'))}</figcaption></figure>")
    parts.append("</div><h3>Samples over time (the same latents at every evaluation point; "
                 "first seed of each variant)</h3>")
    for v, lst in per_variant.items():
        meta, pics = next(((m, p) for m, p in lst if p), (None, []))
        if not pics:
            continue
        parts.append(f"<p><b>{_e(v)}</b> seed {_e(meta.get('seed'))}</p><div class='strip'>")
        for step, src in pics:
            parts.append(f"<figure><img class='pic' src='{src}' alt='{_e(v)} step {step}'>"
                         f"<figcaption>step {step}</figcaption></figure>")
        parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------- sections


def _dataset_section(ds: str, d, studies, runs, styles, img: Path, warn) -> str:
    from ganbench.analysis import anytime
    from ganbench.store import results

    calib = d[d["variant"].astype(str).str.startswith(CALIB_PREFIX)]
    trained = d[~d["variant"].astype(str).str.startswith(CALIB_PREFIX)]
    metrics = set(trained["metric"])
    parts = [f"<h2 id='ds-{_e(ds)}'>{_e(ds)}</h2>"]
    for space, rows, trials in studies:
        parts.append(_study_section(ds, space, rows, trials, calib, styles, img))
    if studies:
        parts.append("<h3>Quality over training (every run)</h3>")
    main = list(results.main_metrics(ds, metrics))  # the dataset's main metric(s) first
    for metric in (main + [m for m in QUALITY if m in metrics and m not in main]
                   )[:QUALITY_PER_DATASET]:
        name = _file_name(ds, metric)
        if _figure_quality(trained, calib, metric, styles, img / name) is not None:
            parts.append(f"<img class='fig' src='img/{quote(name)}' alt='{_e(metric)} vs "
                         f"training time and images seen on {_e(ds)}'>")
    summary = results.summarize(d)
    parts.append("<h3>Final metrics (mean [95% CI] over seeds)</h3>")
    parts.append(_final_table(summary[~summary["variant"].astype(str)
                                      .str.startswith(CALIB_PREFIX)]))
    parts.append("<h3>Calibration rows</h3><p class='note'>calib-real: held-out real data, "
                 "drawn without replacement (about what a generator of the data's distribution "
                 "scores; a small split is used whole, its sample count in calibration_samples); "
                 "calib-noise: uniform noise over the data's range. A number means something "
                 "only between the two.</p>")
    cal = summary[summary["variant"].astype(str).str.startswith(CALIB_PREFIX)]
    parts.append(_final_table(cal) if not cal.empty else
                 "<p class='note'>(no calibration rows among these files)</p>")
    parts.append("<h3>Anytime quality</h3><p class='note'>final value, area under the metric "
                 "over training seconds and its time average, mean ± std over seeds</p>")
    parts.append(_df_table(anytime.summarize(trained)))
    stab = [m for m in STABILITY if m in metrics]
    name = _file_name(ds, "stability")
    if _figure_stability(trained, stab, styles, img / name) is not None:
        parts.append("<h3>Stability</h3>"
                     f"<img class='fig' src='img/{quote(name)}' alt='training statistics on "
                     f"{_e(ds)}'>")
    parts.append(_pictures_section(trained, runs, img, warn))
    return "\n".join(parts)


def _band_text(c: dict) -> str:
    return f"{_num(c['expected_best'])} [{_num(c['ci_low'])}, {_num(c['ci_high'])}]"


def _params_text(params: Optional[dict]) -> str:
    if not params:
        return ""
    return ", ".join(f"{k}={_num(v)}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


def _study_table(rows) -> str:
    """Per variant: the distribution of the final value, the best trial and its settings,
    and the expected best (with its band) at k = 1, 5 and N — ``study.summarize``'s numbers."""
    ks = [k for k in STUDY_K if any(s["trials"] >= k for s in rows)]
    table = []
    for s in rows:
        by_k = {c["k"]: c for c in s["expected_best"]}
        cells = [s["variant"], s["trials"], s["failed"], _num(s["min"]), _num(s["median"]),
                 _num(s["max"])]
        cells += [_band_text(by_k[k]) if k in by_k else "" for k in ks]
        n = len(s["expected_best"])
        cells.append(_band_text(by_k[n]) if n else "")
        cells += ["" if s["best_trial"] is None else s["best_trial"],
                  _params_text(s["best_params"])]
        table.append(cells)
    cols = (["variant", "trials", "failed", "min", "median", "max"]
            + [f"k={k}" for k in ks] + ["k=N", "best trial", "best trial's settings"])
    return _table(cols, table, left=1, text=(len(cols) - 1,))


def _trials_table(trials) -> str:
    import json

    params = [json.loads(p) for p in trials["params"]]
    names = sorted({k for p in params for k in p})
    rows = [[t.variant, t.trial, _num(t.value), "failed or diverged" if t.failed else "",
             *[_num(p[n]) if isinstance(p.get(n), float) else p.get(n, "") for n in names]]
            for t, p in zip(trials.itertuples(index=False), params)]
    return _table(["variant", "trial", trials["metric"].iloc[0], "status"] + names, rows,
                  left=1)


def _studies(d) -> list[tuple[str, list[dict], Any]]:
    """``(space, study.summarize rows, study.trials_table rows)`` per search space of the
    study runs in ``d`` (one dataset); empty without study runs."""
    from ganbench.analysis import study

    trials = study.trials_table(d)
    if trials.empty:
        return []
    summary = study.summarize_trials(trials)
    best_first = not bool(trials["higher_is_better"].iloc[0])
    return [(space, [s for s in summary if s["space"] == space],
             trials[trials["space"] == space].sort_values(
                 ["variant", "value", "trial"], ascending=[True, best_first, True]))
            for space in sorted(trials["space"].unique())]


def _study_section(ds: str, space: str, rows, trials, calib, styles, img: Path) -> str:
    name = _file_name(ds, f"study-{space}")
    _figure_study(rows, trials, calib, styles, img / name)
    metric = rows[0]["metric"]
    n = max(s["trials"] for s in rows)
    return "\n".join([
        f"<h3 id='{_e(_study_id(ds, space))}'>Hyperparameter study: search space "
        f"{_e(space)}, {n} trial(s) per variant</h3>",
        "<p class='note'>Each trial is one hyperparameter setting sampled from the space "
        f"(ganbench sweep). Expected best: the expected best final {_e(metric)} of k "
        "settings drawn at random without replacement from the N tried (Lucic et al. 2018, "
        "Figure 4; at k = N the best trial), band: nominal 95%, its simulated coverage in "
        "ganbench's results/study-band-coverage.md. A failed or diverged trial counts as its "
        "variant's worst value there; the quartiles are over the finished trials. Black "
        "lines: calibration rows (dashed real data, dotted noise).</p>",
        f"<img class='fig' src='img/{quote(name)}' alt='expected best {_e(metric)} after k "
        f"trials and the final {_e(metric)} of every trial, {_e(space)} on {_e(ds)}'>",
        f"<h4>Final {_e(metric)} over the trials, and the expected best after k trials "
        "[95% band]</h4>",
        _study_table(rows),
        f"<details><summary>Every trial's settings and final {_e(metric)} ({len(trials)} "
        "trials, best first per variant)</summary>",
        _trials_table(trials), "</details>"])


def _study_id(ds: str, space: str) -> str:
    return f"study-{ds}-{space}"


def _plain(v: Any) -> str:
    """A value of the environment as text: a dict as 'key=value, ...', lists joined, None and
    empty values as a dash."""
    if v is None or v == "" or v == {} or v == []:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict):
        return ", ".join(f"{k}={'none' if x is None else _plain(x)}"
                         for k, x in sorted(v.items())) or "—"
    if isinstance(v, (list, tuple)):
        return ", ".join(_plain(x) for x in v) or "—"
    if isinstance(v, float):
        return _num(v)
    return str(v)


ENV_KEYS = (("device", "device"), ("torch", "torch"), ("ganbench", "ganbench_version"),
            ("git sha", "git_sha"), ("fast path", "fastpath"))


def _environment(runs) -> str:
    """Each environment the runs were made in (device, versions, fast path), and each
    evaluation protocol, as key/value tables: a column per environment or protocol."""
    import json

    envs: dict[str, list] = {}
    specs: dict[str, dict] = {}
    for _, meta in runs.values():
        values = [meta.get(k) for _, k in ENV_KEYS]
        key = json.dumps(values, sort_keys=True, default=str)
        envs.setdefault(key, [values, 0])[1] += 1
        spec = meta.get("eval_spec")
        if isinstance(spec, dict):
            from ganbench.api.evalspec import EvalSpec

            try:
                h = EvalSpec(**spec).hash
            except TypeError:
                h = "?"
            specs.setdefault(h, spec)
    found = [envs[k] for k in sorted(envs)]
    cols = ([""] + [f"environment {i + 1}" for i in range(len(found))]
            if len(found) > 1 else ["", "value"])
    rows = [[name] + [_plain(v[i]) for v, _ in found] for i, (name, _) in enumerate(ENV_KEYS)]
    rows.append(["runs"] + [n for _, n in found])
    parts = ["<h2 id='environment'>Environment</h2>", _table(cols, rows, left=len(cols))]
    fields = sorted({k for s in specs.values() for k in s})
    parts.append("<h3>Evaluation protocols (EvalSpec)</h3>")
    if specs:
        hashes = sorted(specs)
        parts.append(_table(["field"] + [f"EvalSpec {h}" for h in hashes],
                            [[f] + [_plain(specs[h].get(f)) for h in hashes] for f in fields],
                            left=len(hashes) + 1))
    else:
        parts.append("<p class='note'>(no EvalSpec recorded)</p>")
    import platform

    parts.append(f"<p class='note'>report made with Python {_e(platform.python_version())} "
                 f"on {_e(platform.platform())}</p>")
    return "\n".join(parts)


def default_dir(out: Union[str, Path]) -> str:
    return os.path.join(str(out), "report")


def hint(out: Union[str, Path], run_files: list[Path]) -> Optional[str]:
    """The command that makes the report of ``run_files`` (all in ``out``)."""
    import shlex

    out = Path(out)
    if not run_files:
        return None
    present = {p.resolve() for p in out.glob("*.json")}
    if present <= {p.resolve() for p in run_files}:
        what = shlex.quote(str(out))
    else:
        what = " ".join(shlex.quote(str(p)) for p in run_files)
    return f"ganbench report {what} --out {shlex.quote(default_dir(out))}"
