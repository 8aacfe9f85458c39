"""``ganbench report RESULTS... --out DIR``: one static HTML page that works offline.

It reads only run files and the files beside them (``ganbench.artifacts``), so it can be made
on another machine than the one that trained. ``DIR/index.html`` links only files inside
``DIR`` (figures drawn with matplotlib's Agg backend, and copies of the runs' sample pictures);
no script, no web font, no CDN. Per dataset: quality vs training seconds and vs images seen for
each variant (mean over seeds, band: ± one std, at each evaluation point; calibration rows as
dashed levels), the final metrics with their 95% t-intervals (``results.summarize``), the
anytime table (``anytime.summarize``), the calibration rows, stability curves (D/G losses, D
outputs, G's gradient norm), each variant's final pictures side by side and, per variant, its
pictures over time. At the end: the environment (device, versions, EvalSpecs).
"""

from __future__ import annotations

import html
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import quote

from ganbench.errors import UsageError

QUALITY = ("fid", "frechet_data", "reverse_kl", "modes_covered", "high_quality_pct", "kid",
           "classes_covered")
QUALITY_PER_DATASET = 3
STABILITY = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")
CALIB_PREFIX = "calib-"

CSS = """
body{font-family:sans-serif;margin:1.5em;max-width:1400px;color:#222}
h1{font-size:1.6em} h2{border-bottom:2px solid #ccc;padding-top:.6em} h3{margin-bottom:.3em}
table{border-collapse:collapse;font-size:.85em;margin:.4em 0 1em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} th{background:#f0f0f0}
td.l,th.l{text-align:left}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.strip{display:flex;gap:6px;overflow-x:auto;padding-bottom:6px}
figure{margin:0;text-align:center;font-size:.8em}
img.pic{width:220px;image-rendering:pixelated;border:1px solid #ddd}
.strip img.pic{width:150px}
img.fig{max-width:100%}
.note{color:#555;font-size:.9em}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _read_runs(paths, warn):
    """``{run_id: (path, meta)}`` of the valid run files under ``paths``."""
    from ganbench import results

    runs: dict[str, tuple[Path, dict]] = {}
    for f in results._files(paths):
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
    from ganbench import results

    warn = warn or (lambda msg: print(f"ganbench: warning: {msg}", file=sys.stderr))
    runs = _read_runs(paths, warn)
    if not runs:
        raise UsageError(f"no run files found in {', '.join(map(str, paths))}")
    df = results.load([p for p, _ in runs.values()], warn=lambda m: None)
    if df.empty:
        raise UsageError(f"the run files in {', '.join(map(str, paths))} hold no rows")
    out = Path(out_dir)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UsageError(f"'{out}' is a symlink or not a directory: give a directory for the "
                         "report")
    img = out / "img"
    try:
        img.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write the report to '{out}': {exc.strerror or exc}") from None
    t0 = time.perf_counter()
    body = [f"<h1>{_e(title)}</h1>",
            f"<p class='note'>{len(runs)} run file(s) from {_e(', '.join(map(str, paths)))}; "
            f"made {_e(time.strftime('%Y-%m-%d %H:%M:%S'))}. Numbers are final values at the "
            "end of each run's budget; intervals are 95% t-intervals of the mean over seeds "
            "(none with one seed). Bands in the curves: mean ± one std over seeds.</p>"]
    datasets = sorted(df["dataset"].dropna().unique())
    body.append("<p>Datasets: " + ", ".join(f"<a href='#ds-{_e(d)}'>{_e(d)}</a>"
                                             for d in datasets) + "</p>")
    for ds in datasets:
        body.append(_dataset_section(ds, df[df["dataset"] == ds], runs, out, img))
    body.append(_environment(runs))
    body.append(f"<p class='note'>report made in {time.perf_counter() - t0:.1f}s</p>")
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    index = out / "index.html"
    from ganbench.artifacts import atomic_write

    atomic_write(index, page.encode("utf-8"))
    return index


# ---------------------------------------------------------------------------------- figures


def _curves(d, metric: str, x: str):
    """Per variant: x, mean, std of ``metric`` at each evaluation index (seeds pooled)."""
    import pandas as pd

    m = d[d["metric"] == metric].copy()
    if m.empty:
        return {}
    m["value"] = pd.to_numeric(m["value"], errors="coerce")
    m = m.sort_values(["run_id", "step"])
    m["k"] = m.groupby("run_id").cumcount()
    out = {}
    for variant, g in m.groupby("variant", sort=True):
        a = g.groupby("k").agg(x=(x, "mean"), mean=("value", "mean"), std=("value", "std"),
                               n=("value", "count"))
        out[variant] = a
    return out


def _calibration_levels(d, metric: str) -> dict[str, float]:
    import pandas as pd

    c = d[(d["metric"] == metric) & d["variant"].astype(str).str.startswith(CALIB_PREFIX)]
    return {v: float(pd.to_numeric(g["value"], errors="coerce").mean())
            for v, g in c.groupby("variant")}


def _figure_quality(d, calib, metric: str, path: Path) -> bool:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4), dpi=90)
    axes = fig.subplots(1, 2)
    drawn = False
    for ax, (x, label) in zip(axes, (("wall_s", "training seconds"),
                                     ("images_seen", "images seen"))):
        for i, (variant, a) in enumerate(_curves(d, metric, x).items()):
            color = f"C{i % 10}"
            ax.plot(a["x"], a["mean"], marker="o", ms=3, color=color,
                    label=f"{variant} ({int(a['n'].max())} seed(s))")
            if (a["n"] > 1).any():
                ax.fill_between(a["x"], a["mean"] - a["std"].fillna(0),
                                a["mean"] + a["std"].fillna(0), color=color, alpha=0.2)
            drawn = True
        for j, (variant, level) in enumerate(sorted(_calibration_levels(calib, metric).items())):
            ax.axhline(level, ls="--", lw=1, color="green" if "real" in variant else "grey",
                       label=variant)
        ax.set_xlabel(label)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    if not drawn:
        return False
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(f"{metric} over training")
    fig.tight_layout()
    fig.savefig(path)
    return True


def _figure_stability(d, metrics: list[str], path: Path) -> bool:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if not metrics:
        return False
    fig = Figure(figsize=(3.2 * len(metrics), 3.0), dpi=90)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        for i, (variant, a) in enumerate(_curves(d, metric, "images_seen").items()):
            color = f"C{i % 10}"
            ax.plot(a["x"], a["mean"], color=color, label=variant)
            if (a["n"] > 1).any():
                ax.fill_between(a["x"], a["mean"] - a["std"].fillna(0),
                                a["mean"] + a["std"].fillna(0), color=color, alpha=0.2)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("images seen", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    return True


# ---------------------------------------------------------------------------------- tables


def _num(x) -> str:
    from ganbench.results import _num as fmt

    try:
        return fmt(float(x))
    except (TypeError, ValueError):
        return str(x)


def _table(columns: list[str], rows: list[list[Any]], left: int = 1) -> str:
    head = "".join(f"<th class='{'l' if i < left else ''}'>{_e(c)}</th>"
                   for i, c in enumerate(columns))
    body = "".join("<tr>" + "".join(f"<td class='{'l' if i < left else ''}'>{_e(v)}</td>"
                                    for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _final_table(summary) -> str:
    if summary.empty:
        return "<p class='note'>(no final values)</p>"
    from ganbench.results import MACHINE_METRICS

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
            ci = (f" [{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
                  if r["ci_low"] == r["ci_low"] else "")
            cells.append(_num(r["mean"]) + ci)
        rows.append(cells)
    return _table(["variant", "status", "runs"] + metrics, rows, left=2)


def _df_table(t, left: int = 3) -> str:
    if t.empty:
        return "<p class='note'>(none)</p>"
    return _table(list(t.columns), [[_num(v) if isinstance(v, float) else v for v in r]
                                    for r in t.itertuples(index=False)], left=left)


# ---------------------------------------------------------------------------------- pictures


def _copy_pictures(run_id: str, run_file: Path, img: Path) -> list[tuple[int, str]]:
    """Copy a run's pictures into the report; ``(step, relative src)`` by step."""
    from ganbench import artifacts

    try:
        found = artifacts.pictures(run_file.parent, run_id)
    except UsageError:
        return []
    if not found:
        return []
    dest = img / "runs" / run_id
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for step, p in found:
        target = dest / p.name
        if target.is_symlink():
            target.unlink()
        shutil.copyfile(p, target)
        out.append((step, "img/runs/" + quote(run_id) + "/" + quote(p.name)))
    return out


def _pictures_section(d, runs, img) -> str:
    variants = sorted(v for v in d["variant"].unique() if not str(v).startswith(CALIB_PREFIX))
    per_variant: dict[str, list[tuple[dict, list]]] = {}
    for v in variants:
        ids = sorted(d.loc[d["variant"] == v, "run_id"].unique(),
                     key=lambda r: (runs[r][1].get("seed") or 0, r))
        per_variant[v] = [(runs[r][1], _copy_pictures(r, runs[r][0], img)) for r in ids]
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


def _dataset_section(ds: str, d, runs, out: Path, img: Path) -> str:
    from ganbench import anytime, results

    calib = d[d["variant"].astype(str).str.startswith(CALIB_PREFIX)]
    trained = d[~d["variant"].astype(str).str.startswith(CALIB_PREFIX)]
    metrics = set(trained["metric"])
    parts = [f"<h2 id='ds-{_e(ds)}'>{_e(ds)}</h2>"]
    slug = quote(ds, safe="")
    for metric in [m for m in QUALITY if m in metrics][:QUALITY_PER_DATASET]:
        name = f"{slug}--{metric}.png"
        if _figure_quality(trained, calib, metric, img / name):
            parts.append(f"<img class='fig' src='img/{quote(name)}' alt='{_e(metric)} vs "
                         f"training time and images seen on {_e(ds)}'>")
    summary = results.summarize(d)
    parts.append("<h3>Final metrics (mean [95% CI] over seeds)</h3>")
    parts.append(_final_table(summary[~summary["variant"].astype(str)
                                      .str.startswith(CALIB_PREFIX)]))
    parts.append("<h3>Calibration rows</h3><p class='note'>calib-real: held-out real data "
                 "(what a perfect generator scores); calib-noise: uniform noise over the data's "
                 "range. A number means something only between the two.</p>")
    cal = summary[summary["variant"].astype(str).str.startswith(CALIB_PREFIX)]
    parts.append(_final_table(cal) if not cal.empty else
                 "<p class='note'>(no calibration rows among these files)</p>")
    parts.append("<h3>Anytime quality</h3><p class='note'>final value, area under the metric "
                 "over training seconds and its time average, mean ± std over seeds</p>")
    parts.append(_df_table(anytime.summarize(trained)))
    stab = [m for m in STABILITY if m in metrics]
    name = f"{slug}--stability.png"
    if _figure_stability(trained, stab, img / name):
        parts.append("<h3>Stability</h3>"
                     f"<img class='fig' src='img/{quote(name)}' alt='training statistics on "
                     f"{_e(ds)}'>")
    parts.append(_pictures_section(trained, runs, img))
    return "\n".join(parts)


def _environment(runs) -> str:
    import json

    envs: dict[tuple, int] = {}
    specs: dict[str, dict] = {}
    for _, meta in runs.values():
        key = (meta.get("device"), meta.get("torch"), meta.get("ganbench_version"),
               meta.get("git_sha"), json.dumps(meta.get("fastpath") or {}, sort_keys=True))
        envs[key] = envs.get(key, 0) + 1
        spec = meta.get("eval_spec")
        if isinstance(spec, dict):
            from ganbench.evaluation import EvalSpec

            try:
                h = EvalSpec(**spec).hash
            except TypeError:
                h = "?"
            specs.setdefault(h, spec)
    rows = [list(k) + [n] for k, n in sorted(envs.items(), key=lambda kv: str(kv[0]))]
    parts = ["<h2 id='environment'>Environment</h2>",
             _table(["device", "torch", "ganbench", "git sha", "fast path", "runs"], rows,
                    left=5)]
    cols = sorted({k for s in specs.values() for k in s})
    parts.append("<h3>Evaluation protocols (EvalSpec)</h3>")
    parts.append(_table(["hash"] + cols, [[h] + [s.get(c, "") for c in cols]
                                          for h, s in sorted(specs.items())], left=1))
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
