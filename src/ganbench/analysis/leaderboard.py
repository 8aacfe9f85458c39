"""A leaderboard per dataset: which variant won, by how much, and whether seeds can tell.

:func:`leaderboard` turns a long results frame (``ganbench.store.results.load``) into one row
per dataset × variant (× recipe setting), ranked by the dataset's main metric (its
registration's, ``DatasetSpec.main_metrics`` / ``headline``; ``results.main_metrics``):

* each metric's final value, the mean over seeds, with the 95% t-interval of that mean clipped
  to the metric's range (:data:`RANGES`: a percentage stays in [0, 100], a distance >= 0);
* ``best``: the best mean of the main metric (by its registered direction); ``tied``: a row
  whose interval of the main metric overlaps the best's (:data:`TIE_RULE`);
* ``x_noise``: how many times better than the ``calib-noise`` row (uniform noise over the
  data's bounding box, same EvalSpec) the main metric is, ``vs_real``: the main metric as a
  share of the ``calib-real`` row's (held-out real data), both in the better direction;
* ``below_noise``: seeds whose main metric is worse than the noise row's (flagged);
* calibration rows at the bottom of their dataset.

:func:`format_text` renders it for a terminal (each line at most ``width`` columns) and
:func:`format_html` for the report; both end with the same footer (:func:`footer`). Pure
pandas: no torch, no plotting.
"""

from __future__ import annotations

import html
import math
import textwrap
from typing import Any, Iterable, Optional, Sequence

# a metric's range, to which intervals are clipped, is ganbench.store.results's
from ganbench.store.results import RANGES, clip_interval, metric_range  # noqa: F401

CALIB_PREFIX = "calib-"
SAMPLES_METRIC = "calibration_samples"  # evaluation.calibration.SAMPLES_METRIC (no torch here)
REAL, NOISE = "calib-real", "calib-noise"
ARROWS = {True: "↑", False: "↓"}

# the order in which the quality metrics of a dataset follow its main ones
QUALITY_ORDER = ("fid", "kid", "frechet_data", "high_quality_pct", "modes_covered",
                 "reverse_kl", "precision", "recall", "density", "coverage", "is",
                 "classes_covered", "class_kl", "cond_accuracy", "stacked_modes", "stacked_kl")
SHOWN_BESIDE_MAIN = 2  # quality metrics shown after the main one by default (terminal)
SHOWN_BESIDE_MAIN_HTML = 4  # in the report (its own tables below have every metric)

TIE_RULE = ("tied: its 95% interval of the main metric overlaps the best's (a screen, not a "
            "test: overlapping intervals can still differ significantly; ganbench compare "
            "--variants A,B tests a pair)")


def arrow(higher_is_better) -> str:
    """``↑`` (higher is better), ``↓`` (lower), ``""`` (no direction)."""
    if type(higher_is_better).__name__ not in ("bool", "bool_"):  # numpy's bool too
        return ""
    return ARROWS[bool(higher_is_better)]


def ratio(value: float, reference: float, higher_is_better) -> float:
    """How many times better ``value`` is than ``reference`` (value / reference when higher
    is better, reference / value when lower is; > 1: better). NaN when undefined (a side not
    positive, no direction)."""
    if not isinstance(higher_is_better, bool) or not (value == value and reference == reference):
        return math.nan
    if value <= 0 or reference <= 0:
        return math.nan
    return value / reference if higher_is_better else reference / value


def worse(value: float, reference: float, higher_is_better) -> bool:
    """Whether ``value`` is strictly worse than ``reference`` in the metric's direction."""
    if not isinstance(higher_is_better, bool) or value != value or reference != reference:
        return False
    return value < reference if higher_is_better else value > reference


def quality_metrics(metrics: Iterable[str], directions: dict, main: Sequence[str] = ()
                    ) -> list[str]:
    """The metrics with a direction (diagnostics and machine metrics left out), the dataset's
    main ones first, then in :data:`QUALITY_ORDER`, then by name."""
    from ganbench.store.results import MACHINE_METRICS

    have = [m for m in metrics if isinstance(directions.get(m), bool)
            and m not in MACHINE_METRICS]
    rank = {m: i for i, m in enumerate(list(main) + [q for q in QUALITY_ORDER
                                                     if q not in main])}
    return sorted(have, key=lambda m: (rank.get(m, len(rank)), m))


def leaderboard(df, datasets: Optional[Sequence[str]] = None, *, long: bool = False):
    """One row per dataset × variant × recipe setting (module docstring), ranked by the
    dataset's main metric, calibration rows last. ``long``: every metric (diagnostics too),
    else the quality metrics (those with a direction). Columns: ``dataset``, ``rank``
    (1 = best; empty for calibration rows and rows without a value), ``variant``, ``setting``,
    ``runs``, ``status``, ``calibration``, ``main_metric``, ``best``, ``tied``, ``x_noise``,
    ``vs_real``, ``below_noise`` (seeds worse than noise on the main metric),
    ``worse_than_noise`` (the other metrics whose mean is worse than noise's), ``seeds`` (seeds
    with a main value), ``eval_spec``, and per metric M ``M`` (mean), ``M:low``, ``M:high``
    (the clipped 95% interval), ``M:std``. ``board.attrs``: ``metrics`` (dataset -> metrics
    in column order, main first), ``directions`` (metric -> higher_is_better), ``units``."""
    import pandas as pd

    from ganbench.store import results

    data = df[df["metric"].notna()] if "metric" in df else df
    if datasets:
        data = data[data["dataset"].isin(list(datasets))]
    summary = results.summarize(data)
    fin = results.final_values(data)
    directions = results.metric_directions(sorted(set(summary["metric"])), results=data) \
        if not summary.empty else {}
    units = {m: (u if isinstance(u, str) else "")
             for m, u in summary.groupby("metric")["unit"].first().items()} \
        if not summary.empty else {}
    shown: dict[str, list[str]] = {}
    records: list[dict[str, Any]] = []
    for dataset, s in summary.groupby("dataset", sort=True):
        have = sorted(set(s["metric"]))
        main = results.main_metrics(dataset, have)
        quality = quality_metrics(have, directions, main)
        metrics = quality + ([m for m in have if m not in quality] if long else [])
        shown[dataset] = metrics
        m0 = main[0] if main else (quality[0] if quality else None)
        records.extend(_dataset_rows(dataset, s, fin, metrics, m0, directions, units))
    cols = ["dataset", "rank", "variant", "setting", "runs", "status", "calibration",
            "main_metric", "best", "tied", "x_noise", "vs_real", "below_noise",
            "worse_than_noise", "seeds",
            "eval_spec"]
    extra = []
    for ms in shown.values():
        for m in ms:
            for c in (m, f"{m}:low", f"{m}:high", f"{m}:std"):
                if c not in extra:
                    extra.append(c)
    board = pd.DataFrame.from_records(records, columns=cols + extra)
    board["rank"] = board["rank"].astype("Int64")
    board.attrs.update(metrics=shown, directions=directions, units=units)
    return board


def _dataset_rows(dataset, s, fin, metrics, m0, directions, units) -> list[dict[str, Any]]:
    hib = directions.get(m0) if m0 else None
    entries = []
    for (variant, recipe, spec), g in s.groupby(["variant", "recipe", "eval_spec"], sort=True,
                                                dropna=False):
        by = g.set_index("metric")
        row: dict[str, Any] = {
            "dataset": dataset, "variant": variant, "setting": g["setting"].iloc[0],
            "runs": int(g["runs"].max()), "status": g["status"].iloc[0],
            "calibration": str(variant).startswith(CALIB_PREFIX), "main_metric": m0,
            "best": False, "tied": False, "eval_spec": spec, "rank": None}
        for m in metrics:
            if m in by.index:
                r = by.loc[m]
                low, high = clip_interval(m, units.get(m), r["ci_low"], r["ci_high"])
                row.update({m: r["mean"], f"{m}:low": low, f"{m}:high": high,
                            f"{m}:std": r["std"]})
        if SAMPLES_METRIC in by.index and by.loc[SAMPLES_METRIC, "mean"] == \
                by.loc[SAMPLES_METRIC, "mean"]:  # a calibration row of a small split
            row["setting"] = f"n={int(by.loc[SAMPLES_METRIC, 'mean'])}"
        row["_recipe"] = recipe
        entries.append(row)
    calib = {(e["variant"], e["eval_spec"]): e for e in entries if e["calibration"]}
    trained = [e for e in entries if not e["calibration"]]
    nan = math.nan
    for e in trained:
        v = e.get(m0, nan) if m0 else nan
        noise = calib.get((NOISE, e["eval_spec"]), {}).get(m0, nan) if m0 else nan
        real = calib.get((REAL, e["eval_spec"]), {}).get(m0, nan) if m0 else nan
        e["x_noise"], e["vs_real"] = ratio(v, noise, hib), ratio(v, real, hib)
        finals = _finals(fin, dataset, e, m0)
        e["seeds"] = len(finals)
        e["below_noise"] = sum(worse(x, noise, hib) for x in finals)
        noise_row = calib.get((NOISE, e["eval_spec"]), {})
        e["worse_than_noise"] = ",".join(  # other metrics whose mean is worse than noise's
            m for m in metrics if m != m0 and worse(e.get(m, nan), noise_row.get(m, nan),
                                                    directions.get(m)))
    ranked = [e for e in trained if m0 and e.get(m0, nan) == e.get(m0, nan)
              and isinstance(hib, bool)]
    ranked.sort(key=lambda e: (-e[m0] if hib else e[m0], e["variant"]))
    for i, e in enumerate(ranked):
        e["rank"] = i + 1
    if ranked:
        best = ranked[0]
        best["best"] = True
        blo, bhi = best.get(f"{m0}:low", nan), best.get(f"{m0}:high", nan)
        for e in ranked[1:]:
            lo, hi = e.get(f"{m0}:low", nan), e.get(f"{m0}:high", nan)
            if e["eval_spec"] == best["eval_spec"] and all(x == x for x in (lo, hi, blo, bhi)):
                e["tied"] = lo <= bhi and blo <= hi
    unranked = sorted((e for e in trained if e["rank"] is None), key=lambda e: e["variant"])
    order = {REAL: 0, NOISE: 1}
    cal = sorted(calib.values(), key=lambda e: (order.get(e["variant"], 2), e["variant"],
                                                str(e["eval_spec"])))
    out = ranked + unranked + cal
    for e in out:
        e.pop("_recipe", None)
    return out


def _finals(fin, dataset, entry, metric) -> list[float]:
    """Final values of ``metric`` of the runs behind ``entry`` (one per run)."""
    if not metric or fin.empty:
        return []
    import pandas as pd

    f = fin[(fin["dataset"] == dataset) & (fin["variant"] == entry["variant"])
            & (fin["metric"] == metric) & (fin["recipe"] == entry["_recipe"])
            & (fin["eval_spec"].fillna("") == entry["eval_spec"])]
    values = pd.to_numeric(f.drop_duplicates("run_id")["value"], errors="coerce")
    return [float(v) for v in values if v == v]


# ------------------------------------------------------------------------------ rendering


def fmt_value(x: Any) -> str:
    """A number in at most about 6 characters of significant digits; ``""`` for NaN/None."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    if x != x:
        return ""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    a = abs(x)
    if float(x).is_integer() and a < 1e6:
        return str(int(x))
    if a >= 1e6:
        return f"{x:.3g}"
    if a >= 1000:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.01:
        return f"{x:.3g}"
    return f"{x:.2g}"


def fmt_times(x: float) -> str:
    """``91×``, ``2.3×``, ``0.8×``; blank when undefined."""
    if x != x:
        return ""
    return (f"{x:.0f}" if x >= 10 else f"{x:.2g}") + "×"


def fmt_share(x: float) -> str:
    """A share as a percentage (``52%``); blank when undefined."""
    if x != x:
        return ""
    return f"{100 * x:.0f}%" if x >= 0.1 else f"{100 * x:.2g}%"


def fmt_interval(low: float, high: float) -> str:
    if low != low or high != high:
        return ""
    return f"[{fmt_value(low)}, {fmt_value(high)}]"


def footer(board=None) -> str:
    """What the marks and columns mean (the same text under the terminal and HTML tables)."""
    return ("Mean of the runs' final values over seeds; [ ]: the 95% t-interval of that mean, "
            "clipped to the metric's range (none with one seed); ↑/↓: higher/lower is better. "
            "Ranked by the dataset's main metric (the first metric column). ★ best mean; "
            "= tied: its interval overlaps the best's (a screen, not a test: ganbench compare "
            "--variants A,B tests a pair). × noise: times better than uniform noise "
            "(calib-noise); vs real: share of held-out real data's score (calib-real), 100% = "
            "as good, same EvalSpec. ! k/n < noise: k of n seeds worse than noise on the main "
            "metric; a value followed by !: a mean worse than noise's.")


def _rank(e) -> str:
    r = e.get("rank")
    return "" if r is None or r != r or str(r) == "<NA>" else str(int(r))


def _marks(e) -> str:
    return "★" if e.get("best") else "=" if e.get("tied") else ""


def _note(e) -> str:
    parts = []
    st = str(e.get("status") or "")
    if st and st not in ("completed", "calibration"):
        parts.append(st)
    if _f(e.get("below_noise")) > 0:
        parts.append(f"! {int(e['below_noise'])}/{int(e['seeds'])} < noise")

    return "; ".join(parts)


def _cell(e, m, with_ci: bool) -> str:
    v = fmt_value(e.get(m, math.nan))
    if not v:
        return ""
    if m in str(e.get("worse_than_noise") or "").split(","):
        v += " !"  # its mean is worse than the noise row's
    if with_ci:
        ci = fmt_interval(e.get(f"{m}:low", math.nan), e.get(f"{m}:high", math.nan))
        return f"{v} {ci}" if ci else v
    return v


def _label(e) -> str:
    s = e.get("setting") or ""
    return f"{e['variant']} ({s})" if s else str(e["variant"])


def dataset_title(board, dataset: str) -> str:
    b = board[board["dataset"] == dataset]
    m0 = b["main_metric"].dropna().iloc[0] if b["main_metric"].notna().any() else None
    trained = b[~b["calibration"]]
    seeds = sorted(set(int(x) for x in trained["runs"]))
    n = (f"{seeds[0]} seed{'s' if seeds[0] != 1 else ''} per variant" if len(seeds) == 1
         else f"{seeds[0]}-{seeds[-1]} seeds per variant") if seeds else "no trained runs"
    if not m0:
        return f"{dataset}: {n}"
    d = board.attrs.get("directions", {}).get(m0)
    unit = board.attrs.get("units", {}).get(m0) or ""
    return (f"{dataset}: ranked by {m0}{' ' + arrow(d) if arrow(d) else ''}"
            f"{f' ({unit})' if unit else ''}, {n}")


def format_text(board, width: int = 100, *, long: bool = False, footnote: bool = True) -> str:
    """The leaderboard for a terminal: one block per dataset, each line at most ``width``
    columns (secondary metrics dropped, then names shortened, to fit; ``long``: every metric
    with its interval, whatever the width), blank cells where a value is undefined, then the
    footer."""
    if board.empty:
        return "(no results)"
    blocks = []
    directions = board.attrs.get("directions", {})
    for dataset in sorted(set(board["dataset"])):
        b = board[board["dataset"] == dataset]
        metrics = list(board.attrs.get("metrics", {}).get(dataset, []))
        m0 = b["main_metric"].dropna().iloc[0] if b["main_metric"].notna().any() else None
        others = [m for m in metrics if m != m0]
        if not long:
            others = others[:SHOWN_BESIDE_MAIN]
        recs = b.to_dict("records")
        while True:
            head = ["#", "", "variant", "runs"]
            if m0:
                head += [f"{m0} {arrow(directions.get(m0))}".strip(), "× noise", "vs real"]
            head += [f"{m} {arrow(directions.get(m))}".strip() for m in others] + ["notes"]
            rows = []
            for e in recs:
                row = [_rank(e), _marks(e), _label(e), str(int(e["runs"]))]
                if m0:
                    row += [_cell(e, m0, True), fmt_times(_f(e.get("x_noise"))),
                            fmt_share(_f(e.get("vs_real")))]
                row += [_cell(e, m, long) for m in others] + [_note(e)]
                rows.append(row)
            text = fit_width(dataset_title(board, dataset), head, rows,
                             width if not long else 10_000, right=range(3, len(head) - 1),
                             shorten=2, min_name=24 if others else 12)  # names before metrics
            if long or max(map(len, text.splitlines())) <= width or not others:
                break
            others = others[:-1]
        blocks.append(text)
    out = "\n\n".join(blocks)
    if footnote:
        out += "\n\n" + "\n".join(textwrap.wrap(footer(board), width))
    return out


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def fit_width(title: str, head: list[str], rows: list[list[str]], width: int, *,
              right: Iterable[int] = (), shorten: int = 0, min_name: int = 12) -> str:
    """A plain-text table (two spaces between columns, ``right``-aligned columns as given, a
    title line above) whose lines are at most ``width`` columns: column ``shorten``'s cells
    are cut (with ``…``) down to ``min_name`` characters where needed. Trailing spaces are
    stripped."""
    right = set(right)
    cols = len(head)

    def widths(rs):
        return [max(len(str(r[i])) for r in [head] + rs) for i in range(cols)]

    w = widths(rows)
    total = sum(w) + 2 * (cols - 1)
    if total > width and w[shorten] > min_name:
        cut = max(min_name, w[shorten] - (total - width))
        rows = [[(c if i != shorten or len(c) <= cut else c[:cut - 1] + "…")
                 for i, c in enumerate(r)] for r in rows]
        head = [(c if i != shorten or len(c) <= cut else c[:cut - 1] + "…")
                for i, c in enumerate(head)]
        w = widths(rows)

    def line(r):
        return "  ".join((str(c).rjust(w[i]) if i in right else str(c).ljust(w[i]))
                         for i, c in enumerate(r)).rstrip()

    lines = [title[:width] if width else title, line(head)] + [line(r) for r in rows]
    return "\n".join(lines)


def format_html(board) -> str:
    """The leaderboard as an HTML fragment (its own small stylesheet): one table per dataset,
    the best row and tied rows marked, calibration rows at the bottom in grey, flagged rows
    in red, and the footer."""
    if board.empty:
        return "<p>(no results)</p>"
    e_ = html.escape
    directions = board.attrs.get("directions", {})
    parts = ["<style>table.leaderboard{border-collapse:collapse;margin:6px 0 4px 0}"
             "table.leaderboard th,table.leaderboard td{padding:3px 9px;text-align:right;"
             "border-bottom:1px solid #ddd;font-variant-numeric:tabular-nums}"
             "table.leaderboard td,table.leaderboard th{white-space:nowrap}"
             "table.leaderboard td.name,table.leaderboard th.name{text-align:left}"
             "table.leaderboard tr.best td{font-weight:bold;background:#eef7ee}"
             "table.leaderboard tr.tied td{background:#f5fbf5}"
             "table.leaderboard tr.calib td{color:#777;font-style:italic}"
             "table.leaderboard tr.flag td.note{color:#b00}"
             "p.leaderboard-note{font-size:90%;color:#444;max-width:1100px}"
             "div.wide{overflow-x:auto;max-width:100%}</style>",
             "<div class='leaderboard-block'>"]
    for dataset in sorted(set(board["dataset"])):
        b = board[board["dataset"] == dataset]
        metrics = list(board.attrs.get("metrics", {}).get(dataset, []))
        m0 = b["main_metric"].dropna().iloc[0] if b["main_metric"].notna().any() else None
        others = [m for m in metrics if m != m0]
        others = others[:SHOWN_BESIDE_MAIN_HTML]
        parts.append(f"<h3 class='leaderboard-title'>{e_(dataset_title(board, dataset))}</h3>")
        head = ["#", "", "variant", "runs"]
        if m0:
            head += [f"{m0} {arrow(directions.get(m0))} [95% CI]", "× noise", "vs real"]
        head += [f"{m} {arrow(directions.get(m))}" for m in others] + ["notes"]
        # in a box that scrolls sideways when long metric names make it wider than the page
        parts.append("<div class='wide'>"
                     f"<table class='leaderboard' data-dataset='{e_(dataset)}'><tr>"
                     + "".join(f"<th class='{'name' if h in ('variant', 'notes') else ''}'>"
                               f"{e_(h)}</th>" for h in head) + "</tr>")
        for e in b.to_dict("records"):
            cls = ("best" if e["best"] else "tied" if e["tied"] else
                   "calib" if e["calibration"] else "") + (" flag" if _note(e) else "")
            cells = [_rank(e), _marks(e), _label(e), str(int(e["runs"]))]
            if m0:
                cells += [_cell(e, m0, True), fmt_times(_f(e.get("x_noise"))),
                          fmt_share(_f(e.get("vs_real")))]
            cells += [_cell(e, m, True) for m in others] + [_note(e)]
            tds = "".join(f"<td class='{'name' if i == 2 else 'note' if i == len(cells) - 1 else ''}'>"
                          f"{e_(c)}</td>" for i, c in enumerate(cells))
            parts.append(f"<tr class='{cls.strip()}' data-variant='{e_(str(e['variant']))}'>"
                         f"{tds}</tr>")
        parts.append("</table></div>")
    parts.append(f"<p class='leaderboard-note'>{e_(footer(board))}</p></div>")
    return "\n".join(parts)


def report_section(df) -> str:
    """The report's leaderboard section (``ganbench.analysis.report``: at the top of the page):
    a heading, one table per dataset, the footer."""
    board = leaderboard(df)
    return ("<h2 id='leaderboard'>Leaderboard</h2><p class='note'>Per dataset, ranked by its "
            "main metric; the same table as <code>ganbench results</code>.</p>"
            + format_html(board))


DEFAULT_WIDTH = 100


def terminal_width() -> int:
    """The width tables are fitted to: the terminal's (``COLUMNS`` where set), else
    :data:`DEFAULT_WIDTH`; at least 60."""
    import shutil

    return max(60, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def render(df, datasets: Optional[Sequence[str]] = None, *, long: bool = False,
           width: Optional[int] = None) -> str:
    """The leaderboard of the long results frame ``df`` as terminal text (``ganbench results``,
    the end of ``ganbench run``): :func:`leaderboard` then :func:`format_text` at
    :func:`terminal_width` (``long``: every metric, with intervals)."""
    return format_text(leaderboard(df, datasets, long=long), width or terminal_width(),
                       long=long)


COMPARE_FOOTER = (
    "A, B: mean final values over seeds; Δ = B - A with its 95% Welch t-interval [ ] (none "
    "where values tie or a side has one seed); p: Welch's t-test, or the exact permutation "
    "test where values tie, Holm-adjusted over the {n} tests with a verdict (family-wise); "
    "better/worse only where that p < 0.05, by the metric's registered direction (↑/↓); n.s.: "
    "no significant difference. {rows}")
SHORT_VERDICTS = {"no significant difference": "n.s."}


def format_compare(table, width: int = 100, *, long: bool = False,
                   rows_note: Optional[str] = None) -> str:
    """``results.compare``'s table for a terminal: one line per dataset × variant × metric, the
    dataset's main metric first, each line at most ``width`` columns (``long``: every metric,
    diagnostics too; else the metrics with a direction), blanks where undefined, then a
    footer saying what Δ, [ ] and p mean."""
    from ganbench.store.results import MACHINE_METRICS, main_metrics, metric_directions

    if table.empty:
        return "(nothing to compare)"
    t = table.copy()
    directions = metric_directions(sorted(set(t["metric"])))
    if not long:
        t = t[t["metric"].map(lambda m: isinstance(directions.get(m), bool))
              & ~t["metric"].isin(MACHINE_METRICS)]
        if t.empty:
            return "(no quality metric to compare; --long shows every metric)"
    order = {}
    for ds in set(t["dataset"]):
        for i, m in enumerate(main_metrics(ds, set(t.loc[t["dataset"] == ds, "metric"]))):
            order[(ds, m)] = i
    t["_o"] = [order.get((d, m), 99) for d, m in zip(t["dataset"], t["metric"])]
    t = t.sort_values(["dataset", "variant", "_o", "metric"])
    head = ["dataset", "variant", "metric", "A", "B", "Δ [95% CI]", "p", "verdict"]
    rows = []
    for _, r in t.iterrows():
        ci = (f" [{fmt_value(r['ci_low'])}, {fmt_value(r['ci_high'])}]"
              if r["ci_low"] == r["ci_low"] and r["ci_high"] == r["ci_high"] else "")
        delta = fmt_value(r["delta"])
        if delta and not delta.startswith("-") and r["delta"] != 0:
            delta = "+" + delta
        p = r["p_holm"] if r["p_holm"] == r["p_holm"] else r["p_value"]
        n = f" ({int(r['runs_a'])}/{int(r['runs_b'])} seeds)" \
            if r["verdict"] == "no interval (1 seed)" else ""
        verdict = "no interval" + n if n else SHORT_VERDICTS.get(r["verdict"], r["verdict"])
        rows.append([r["dataset"], r["variant"],
                     f"{r['metric']} {arrow(directions.get(r['metric']))}".strip(),
                     fmt_value(r["mean_a"]), fmt_value(r["mean_b"]), delta + ci,
                     "" if p != p else f"{p:.2g}", verdict])
    import textwrap

    text = fit_width("", head, rows, width, right=range(3, 7), shorten=1, min_name=14)
    n = int(table["p_holm"].notna().sum())
    rows_said = rows_note or ("Rows: every metric." if long else
                              "Rows: each dataset's main metrics (--long: every metric).")
    foot = COMPARE_FOOTER.format(n=n, rows=rows_said)
    return text.lstrip("\n") + "\n" + "\n".join(textwrap.wrap(foot, width))

