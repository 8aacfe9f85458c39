"""``ganbench results``, ``compare`` and ``check``: tables and the quality gate over results
directories."""

from __future__ import annotations

import os
import sys

from ganbench import hookimpl
from ganbench.api.argtypes import names
from ganbench.api.errors import UsageError


@hookimpl
def ganbench_register_commands(register):
    register("results", "leaderboard and summary tables of a results directory",
             configure_results, cmd_results,
             description="By default the leaderboard of each dataset: variants ranked by the "
             "dataset's main metric, mean over seeds with its 95% interval, the best and the "
             "rows tied with it marked, x noise / vs real against the calibration rows, runs "
             "worse than noise flagged (docs/leaderboard.md). --long: every metric, mean ± "
             "std [95% CI] over seeds; --csv/--json: the summary table.")
    register("compare", "per-metric deltas between two results sets", configure_compare,
             cmd_compare,
             description="Compare results set B against A: deltas of final values "
             "(means over seeds), with better/worse from each metric's direction. "
             "With --variants VA,VB: variant VB against variant VA, per dataset "
             "(from one results set, or VA's from A and VB's from B).",
             epilog="example: ganbench compare results/pacgan-cpu.csv --variants "
             "pacgan-paper-gan,pacgan-paper-pac2")
    register(
        "check", "quality gate: exit 1 when CANDIDATE is significantly worse than BASELINE",
        configure_check, cmd_check,
        description="Quality gate for CI. For each variant x dataset of BASELINE, the final "
        "value of each gated metric (default: the dataset's main metric, fid > frechet_data > "
        "reverse_kl) is compared over seeds: exit 1 when the candidate is worse than the "
        "baseline by more than --margin at family-wise one-sided significance --alpha (Holm; "
        "Welch t-test, on the log scale for positive lower-is-better metrics; with one seed on "
        "a side, the other side's spread stands in for it; the exact permutation test where "
        "values tie), or when a candidate seed diverged, failed or lacks a finite value; exit "
        "0 otherwise. The metric's direction is its registration's. Different EvalSpecs, a "
        "direction that disagrees with the registration and a malformed results file are "
        "refused (exit 2); a different recipe is reported. BASELINE may be a committed table "
        "(ganbench results DIR --long --csv > baseline.csv).")


def configure_results(rs) -> None:
    from ganbench.analysis import study

    rs.add_argument("path", nargs="*", default=[os.path.join("results", "runs")],
                    help="result files or directories (default: results/runs)")
    fmt = rs.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="summary as JSON records")
    fmt.add_argument("--csv", action="store_true", help="summary as CSV")
    rs.add_argument("--long", action="store_true",
                    help="every metric, diagnostics included: as text the wide table of every "
                    "metric instead of the leaderboard; with --json/--csv every row, not the "
                    "summary")
    rs.add_argument("--dataset", type=names, action="extend", default=[],
                    help="only these datasets")
    rs.add_argument("--metric", type=names, action="extend", default=[],
                    help="only these metrics")
    rs.add_argument("--export", metavar="FILE",
                    help="write every row to FILE (.csv or .parquet) as well")
    study.add_results_arguments(rs)
    rs.add_argument("--anytime", nargs="?", const="main", metavar="METRIC",
                    help="stability and anytime quality of METRIC (default: each dataset's "
                    "main metric, its registration's: %% high quality on the mixtures, FID on "
                    "images, else frechet_data): final value, area under its curve over "
                    "training seconds and its time average, mean ± std over seeds, diverged "
                    "runs (with --long: per run)")


def configure_compare(cp) -> None:
    cp.add_argument("a", help="baseline: results file or directory")
    cp.add_argument("b", nargs="?", help="candidate: results file or directory (default "
                    "with --variants: A)")
    cp.add_argument("--variants", metavar="VA,VB",
                    help="compare variant VB (in B) against variant VA (in A)")
    cp.add_argument("--json", action="store_true", help="machine-readable output")
    cp.add_argument("--metric", type=names, action="extend", default=[],
                    help="only these metrics (default: each dataset's main metrics)")
    cp.add_argument("--long", action="store_true",
                    help="every metric, diagnostics included (default: each dataset's main "
                    "metrics, the family Holm adjusts over)")
    cp.add_argument("--dataset", type=names, action="extend", default=[],
                    help="only these datasets")


def configure_check(ck) -> None:
    ck.add_argument("baseline", help="baseline: results file, directory or exported table")
    ck.add_argument("candidate", help="candidate: results file, directory or exported table")
    ck.add_argument("--metric", type=names, action="extend", default=[],
                    help="gate these metrics (default: each dataset's main metric)")
    ck.add_argument("--alpha", type=float, default=0.05,
                    help="family-wise one-sided significance level over the gated metrics "
                    "(Holm; default 0.05)")
    ck.add_argument("--margin", default="5%",
                    help="tolerated worsening: a percentage of the baseline mean (5%%, the "
                    "default) or an amount in the metric's unit (2.5)")
    ck.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_results(args) -> int:
    from ganbench.store import results

    # a study counts a trial that failed before its first evaluation (a run file without rows)
    df = results.load(args.path, empty_runs=bool(args.study))
    if df.empty:
        raise UsageError(f"no result rows found in {', '.join(map(str, args.path))}")
    if args.metric:
        df = df[df["metric"].isin(args.metric) | df["metric"].isna()]
    df = _datasets(df, args.dataset, ", ".join(map(str, args.path)))
    if args.export:
        _export(df, args.export)
    if args.study:
        from ganbench.analysis.study import cmd_results_study

        return cmd_results_study(args, df)
    if args.anytime:
        from ganbench.analysis import anytime

        metric = None if args.anytime == "main" else args.anytime
        table = anytime.per_run(df, metric) if args.long else anytime.summarize(df, metric)
        if table.empty:
            raise UsageError(f"no runs with metric '{args.anytime}'")
        if args.long:
            text = table.to_string(index=False, na_rep="", float_format=lambda x: f"{x:.4g}")
        else:
            from ganbench.analysis.leaderboard import terminal_width

            text = anytime.format_summary(table, terminal_width())
        print(table.to_json(orient="records", indent=1) if args.json else
              table.to_csv(index=False) if args.csv else text, end="\n" if not args.csv else "")
        return 0
    table = df if args.long else results.summarize(df)
    if args.json:
        print(table.to_json(orient="records", indent=1))
    elif args.csv:
        print(table.to_csv(index=False), end="")
    elif args.long:
        print(results.format_summary(results.summarize(df)))
    else:
        from ganbench.analysis import leaderboard

        print(leaderboard.render(df))
    return 0


def _datasets(df, wanted, where: str):
    """The rows of ``df`` on the datasets ``wanted`` (all when empty); UsageError naming the
    ones it does not hold."""
    if not wanted:
        return df
    have = set(df["dataset"].dropna())
    unknown = [d for d in wanted if d not in have]
    if unknown:
        raise UsageError(f"no runs on dataset(s) {', '.join(map(repr, unknown))} in {where} "
                         f"(it has: {', '.join(sorted(have)) or 'none'})")
    return df[df["dataset"].isin(wanted)]


def _export(df, path: str) -> None:
    from ganbench.store.safepath import atomic_write

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"--export needs a .csv or .parquet file name, got '{path}'")
    if suffix == ".csv":
        def write(f):
            df.to_csv(f, index=False)
    else:  # parquet columns have one type: mixed object columns are written as text
        def write(f):
            obj = df.select_dtypes(include="object").columns
            df.astype({c: "string" for c in obj}).to_parquet(f, index=False)
    try:
        atomic_write(os.path.abspath(path), write)
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {exc.strerror or exc}") from None
    except Exception as exc:  # pyarrow raises many types for a table it cannot write
        raise UsageError(f"cannot export to '{path}': {type(exc).__name__}: {exc}") from None


def cmd_compare(args) -> int:
    from ganbench.store import results

    if args.b is None and not args.variants:
        raise UsageError("compare needs two results sets A B, or --variants VA,VB")
    a = results.load(args.a)
    b = a if args.b is None else results.load(args.b)  # --variants within one set: read once
    for name, df in (("A", a), ("B", b)):
        if df.empty:
            raise UsageError(f"no result rows in {name} ({args.a if name == 'A' else args.b})")
    a = _datasets(a, args.dataset, args.a)
    b = a if args.b is None else _datasets(b, args.dataset, args.b)
    if args.variants:
        a, b = _two_variants(a, b, args.variants)
    if not (args.metric or args.long):  # each dataset's main metrics: the default family
        a, b = results.main_rows(a), results.main_rows(b)
    if args.metric:
        known = set(a["metric"]) & set(b["metric"])
        unknown = [m for m in args.metric if m not in known]
        if unknown:
            raise UsageError(f"metric(s) {', '.join(map(repr, unknown))} not in both A and B "
                             f"(they share: {', '.join(sorted(known)) or 'none'})")
        a, b = a[a["metric"].isin(args.metric)], b[b["metric"].isin(args.metric)]
    table = results.compare(a, b)
    if table.empty:
        raise UsageError("A and B share no variant x dataset x metric to compare")
    if args.json:
        print(table.to_json(orient="records", indent=1))
    else:
        from ganbench.analysis import leaderboard

        note = "Rows: the metrics asked for (--metric)." if args.metric else None
        print(leaderboard.format_compare(table, leaderboard.terminal_width(),
                                         long=args.long or bool(args.metric), rows_note=note))
    bad = int((~table["same_eval_spec"]).sum())
    if bad:
        print(f"ganbench: warning: {bad} row(s) were evaluated with different EvalSpecs and are "
              "marked incomparable", file=sys.stderr)
    return 0


def _two_variants(a, b, spec: str):
    """Rows of variant VA from ``a`` and of VB from ``b``, both named ``VB vs VA`` so that
    ``results.compare`` pairs them per dataset and metric."""
    names = [n.strip() for n in str(spec).split(",")]
    if len(names) != 2 or not all(names) or names[0] == names[1]:
        raise UsageError(f"--variants needs two different variant names VA,VB, got {spec!r}")
    label = f"{names[1]} vs {names[0]}"
    sides = []
    for name, df, side in ((names[0], a, "A"), (names[1], b, "B")):
        rows = df[df["variant"] == name]
        if rows.empty:
            have = ", ".join(sorted(set(df["variant"].dropna()))) or "none"
            raise UsageError(f"no runs of variant '{name}' in {side} (it has: {have})")
        sides.append(rows.assign(variant=label))
    return sides[0], sides[1]


def cmd_check(args) -> int:
    from ganbench.analysis import gate
    from ganbench.store import results

    # strict: a file that is not a usable results file is refused, never skipped; failed
    # candidate runs (run files without rows) count against the candidate
    base = results.load(args.baseline, strict=True)
    cand = results.load(args.candidate, strict=True, empty_runs=True)
    for name, df, path in (("baseline", base, args.baseline), ("candidate", cand,
                                                                args.candidate)):
        if df.empty:
            raise UsageError(f"no result rows in the {name} ({path})")
    outcome = gate.check(base, cand, metrics=args.metric or None, alpha=args.alpha,
                         margin=args.margin)
    print(outcome.to_json() if args.json else outcome.explain())
    return 0 if outcome.passed else 1
