"""The ``ganbench`` command line. Data (tables, JSON) go to stdout; progress and logs to stderr.

Exit codes: 0 success; 1 a run failed or diverged; 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Optional, Sequence

from ganbench import __version__
from ganbench.api.errors import GanbenchError, UsageError, one_line
from ganbench.planning.validate import MAX_SEED

EPILOG_RUN = """examples:
  ganbench run --all                                 the default 'quick' suite
  ganbench run --variant dcgan --dataset digits --budget 30s --seeds 0,1,2
  ganbench run --all --suite mnist --data-root ~/data --budget 60s   MNIST, 4 variants x 3 seeds
  ganbench run --model dcgan --loss minimax --dataset digits --budget 500steps
  ganbench run --variant non-saturating --dataset ring8 --reg r1:10:every=16 --g-ema 0.999
  ganbench run --all --variant non-saturating --lr 2e-4 --out results/lr-sweep
budgets: 20000img (real images seen by D), 500steps (G steps) or 30s / 2min (training
wall-clock, evaluation excluded); all three are recorded in every row whatever the budget.
rerunning a command skips finished runs and resumes interrupted ones from their checkpoint.
exit codes: 0 all runs completed; 1 a run failed or diverged (listed on stderr); 2 bad input."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (``ganbench run: error: ...``) and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def int_range(lo: Optional[int] = 1, hi: Optional[int] = None):
    """An argparse type: a whole number in ``[lo, hi]`` (either end open when None); the
    message of a refusal gives the bound."""
    want = ("a positive integer" if lo == 1 and hi is None else
            f"a whole number from {lo} to {hi}" if lo is not None and hi is not None else
            f"a whole number of at least {lo}" if lo is not None else
            f"a whole number of at most {hi}")

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return v

    parse.__name__ = "integer"
    return parse


_positive_int = int_range(1)


_seed = int_range(0, MAX_SEED)  # a random seed: what torch.Generator().manual_seed takes


def _float(text: str, lo: Optional[float] = None) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    if lo is not None and v < lo:
        raise argparse.ArgumentTypeError(f"expected a number of at least {lo:g}, got {text!r}")
    return v


def _non_negative_float(text: str) -> float:
    return _float(text, lo=0.0)


def _betas(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected two numbers like 0.5,0.999, got {text!r}")
    return (_float(parts[0]), _float(parts[1]))


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def build_parser(commands: Optional[dict] = None) -> argparse.ArgumentParser:
    p = _Parser(prog="ganbench", description="Benchmark GAN variants under a fixed, equal budget.")
    p.add_argument("--version", action="version", version=f"ganbench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    r = sub.add_parser("run", help="train variants under a fixed budget and record metrics",
                       description="Train GAN variants under a fixed, equal budget, evaluate "
                       "them periodically and write one result file per run.",
                       epilog=EPILOG_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = r.add_argument_group("what to run")
    what.add_argument("--all", action="store_true",
                      help="run every entry of the suite (default suite: quick)")
    what.add_argument("--suite", help="suite to run or to take budgets/datasets from "
                      "(default: quick)")
    what.add_argument("--variant", type=_names, action="extend", default=[], metavar="NAME[,NAME]",
                      help="variant(s) to run (with --all: restrict the suite to them)")
    what.add_argument("--model", help="architecture (replaces the variant's; with --loss and "
                      "no --variant: an ad-hoc MODEL+LOSS variant)")
    what.add_argument("--loss", help="GAN objective (replaces the variant's), with options as "
                      "NAME:KEY=VALUE (e.g. topk:k=0.5)")
    what.add_argument("--dataset", type=_names, action="extend", default=[],
                      metavar="NAME[,NAME]", help="dataset(s) (default: the suite's)")
    how = r.add_argument_group("budget and seeds")
    how.add_argument("--budget", help="per-run budget: 20000img, 500steps, 30s (default: suite's)")
    how.add_argument("--seeds", help="comma list or range, e.g. 0,1,2 or 0-4 (default: suite's)")
    how.add_argument("--device", default="auto", help="auto (default: CUDA if available), cpu, "
                     "cuda, cuda:N")
    fp = r.add_argument_group("execution (the GPU fast path; data stays on the device and "
                              "Adam is fused on CUDA and the CPU by default)")
    fp.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: bfloat16 autocast of G and D (changes numerics, so it is part "
                    "of the run id; default fp32)")
    fp.add_argument("--compile", nargs="?", const="default", metavar="MODE",
                    choices=["default", "reduce-overhead", "max-autotune",
                             "max-autotune-no-cudagraphs"],
                    help="torch.compile G and D; MODE default, reduce-overhead (CUDA graphs, "
                    "for small models), max-autotune, max-autotune-no-cudagraphs")
    fp.add_argument("--channels-last", action="store_true",
                    help="NHWC memory layout for conv models (faster on recent GPUs)")
    fp.add_argument("--fused-adam", choices=["auto", "on", "off"], default="auto",
                    help="fused Adam/AdamW kernels (default auto: on CUDA and the CPU)")
    hp = r.add_argument_group("hyperparameter overrides (apply to every selected variant)")
    hp.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop"])
    hp.add_argument("--lr", type=_float, help="learning rate of G and D")
    hp.add_argument("--lr-g", type=_float)
    hp.add_argument("--lr-d", type=_float)
    hp.add_argument("--betas", type=_betas, metavar="B1,B2")
    hp.add_argument("--k", "--d-steps", dest="k", type=_positive_int, help="D steps per G step")
    hp.add_argument("--batch-size", type=_positive_int)
    hp.add_argument("--z-dim", type=_positive_int)
    hp.add_argument("--reg", action="append", default=[], metavar="NAME[:W][:every=N]",
                    help="add a regulariser to D's loss, e.g. gp:10, r1:10:every=16 (lazy: "
                    "every 16th D step, scaled by 16), dragan:10:c=0.5; one naming a regulariser "
                    "the variant has replaces it; 'none' drops the variant's (ganbench list "
                    "regularizers)")
    hp.add_argument("--augment", metavar="NAME[:VALUE][:KEY=VALUE]",
                    help="transform D's inputs (real and fake, in D and G steps), e.g. "
                    "diffaugment:translation,cutout or ada:target=0.6; 'none' drops the "
                    "variant's (ganbench list augmentations)")
    hp.add_argument("--latent", metavar="NAME[:KEY=VALUE]",
                    help="sample G's input with a latent sampler, e.g. infogan:cat=10:cont=2 "
                    "(codes beside z; ganbench list latent_samplers)")
    hp.add_argument("--g-ema", type=_float, metavar="DECAY",
                    help="evaluate an exponential moving average of G's weights (ema <- DECAY "
                    "ema + (1 - DECAY) G after each G step), e.g. 0.999; 0: off")
    ev = r.add_argument_group("evaluation")
    ev.add_argument("--evals", type=_positive_int,
                    help="evaluations spread evenly over the budget, after one at step 0 "
                    "(default: suite's, else 10)")
    ev.add_argument("--eval-every", type=_positive_int, metavar="STEPS",
                    help="evaluate every N G steps instead")
    ev.add_argument("--eval-samples", type=_positive_int, help="generated samples per evaluation")
    ev.add_argument("--extractor", help="features for FID/KID/IS/precision-recall on images: auto "
                    "(default: the ganbench extractor shipped for the dataset, else "
                    "inception-v3-compat), inception-v3-compat, ganbench-DATASET, or none; "
                    "add ',dinov2-vit-s-14' (or '=PATH' to its weights) for FD_DINOv2 beside "
                    "it, e.g. auto,dinov2-vit-s-14")
    ev.add_argument("--fid-weights", metavar="PATH", help="Inception-v3 weights file for "
                    "inception-v3-compat (default: torch-fidelity's download cache)")
    ev.add_argument("--metric", dest="add_metrics", type=_names, action="extend", default=[],
                    metavar="NAME", help="also compute these metrics, e.g. the opt-in "
                    "memorisation and cas (ganbench list metrics); comma-separated or repeated")
    ev.add_argument("--fid-reference", choices=["train", "test"],
                    help="real split FID/KID/precision-recall compare with (default: train)")
    ev.add_argument("--fid-reference-samples", type=_positive_int, metavar="N",
                    help="real images in the reference statistics, a seeded subset (default: "
                    "--eval-samples, at most the split)")
    out = r.add_argument_group("output")
    out.add_argument("--out", default=os.path.join("results", "runs"),
                     help="results directory, one JSON file per run (default: results/runs)")
    out.add_argument("--force", action="store_true",
                     help="train again runs whose result file already exists (default: reuse)")
    out.add_argument("--retrain-stale", action="store_true",
                     help="train again finished runs whose result file records other code "
                     "(a changed model, loss, regulariser, hook, variant or dataset module) or "
                     "no code identity; without it they are kept and listed as stale")
    out.add_argument("--resume", action="store_true",
                     help="skip finished runs and continue interrupted ones from their last "
                     "checkpoint (the default; cannot be combined with --force)")
    out.add_argument("--data-root", default=None,
                     help="where dataset files live (default: $GANBENCH_DATA_ROOT or the user "
                     "cache)")
    out.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                     help="download missing dataset files with torchvision (default); with "
                     "--no-download, fail with one line naming the files expected and where")
    out.add_argument("--resize", type=_positive_int, metavar="PIXELS",
                     help="resize image datasets to PIXELS x PIXELS (default: the suite's, or "
                     "the smallest size the model accepts, e.g. 28 -> 32 for dcgan)")
    out.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    out.add_argument("--no-calibration", action="store_true",
                     help="do not score the calibration rows (held-out real data and uniform "
                          "noise under the same EvalSpec) for each dataset of the plan")
    from ganbench.cli import viz as viz_cli

    viz_cli.add_run_options(out)
    out.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    out.add_argument("--long", action="store_true",
                     help="end-of-run summary with every metric (default: a few per dataset, "
                     "fitting 100 columns)")
    out.add_argument("--json", action="store_true",
                     help="end-of-run summary as JSON records, every metric")
    from ganbench.execution import executors
    from ganbench.analysis import study

    executors.add_arguments(r)
    study.add_sweep_parser(sub, r)

    ls = sub.add_parser("list", help="list variants, models, losses, datasets, metrics, suites",
                        description="List what the loaded plugins registered.")
    ls.add_argument("kind", nargs="?", choices=["variants", "models", "losses", "regularizers",
                                                "step_hooks", "datasets", "metrics", "suites",
                                                "executors", "search_spaces", "augmentations",
                                                "latent_samplers"],
                    help="only this kind (default: all)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")

    pl = sub.add_parser("plugins", help="list loaded plugins with versions and hooks",
                        description="List loaded plugins. Environment: GANBENCH_LOAD_PLUGINS "
                        "(unset: all; empty: built-ins only; comma list: built-ins + those), "
                        "GANBENCH_DISABLE_PLUGINS (comma list).")
    pl.add_argument("--json", action="store_true", help="machine-readable output")

    rs = sub.add_parser("results", help="summary table of a results directory",
                        description="Final value per variant x dataset x metric, mean ± std "
                        "over seeds.")
    rs.add_argument("path", nargs="*", default=[os.path.join("results", "runs")],
                    help="result files or directories (default: results/runs)")
    fmt = rs.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="summary as JSON records")
    fmt.add_argument("--csv", action="store_true", help="summary as CSV")
    rs.add_argument("--long", action="store_true",
                    help="with --json/--csv: every row, not the summary")
    rs.add_argument("--metric", type=_names, action="extend", default=[],
                    help="only these metrics")
    rs.add_argument("--export", metavar="FILE",
                    help="write every row to FILE (.csv or .parquet) as well")
    study.add_results_arguments(rs)
    rs.add_argument("--anytime", nargs="?", const="main", metavar="METRIC",
                    help="stability and anytime quality of METRIC (default: the main metric, "
                    "fid > frechet_data > reverse_kl): final value, area under its curve over "
                    "training seconds and its time average, mean ± std over seeds, diverged "
                    "runs (with --long: per run)")

    cp = sub.add_parser("compare", help="per-metric deltas between two results sets",
                        description="Compare results set B against A: deltas of final values "
                        "(means over seeds), with better/worse from each metric's direction. "
                        "With --variants VA,VB: variant VB against variant VA, per dataset "
                        "(from one results set, or VA's from A and VB's from B).",
                        epilog="example: ganbench compare results/pacgan-cpu.csv --variants "
                        "pacgan-paper-gan,pacgan-paper-pac2")
    cp.add_argument("a", help="baseline: results file or directory")
    cp.add_argument("b", nargs="?", help="candidate: results file or directory (default "
                    "with --variants: A)")
    cp.add_argument("--variants", metavar="VA,VB",
                    help="compare variant VB (in B) against variant VA (in A)")
    cp.add_argument("--json", action="store_true", help="machine-readable output")
    cp.add_argument("--metric", type=_names, action="extend", default=[],
                    help="only these metrics")

    ck = sub.add_parser(
        "check", help="quality gate: exit 1 when CANDIDATE is significantly worse than BASELINE",
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
    ck.add_argument("baseline", help="baseline: results file, directory or exported table")
    ck.add_argument("candidate", help="candidate: results file, directory or exported table")
    ck.add_argument("--metric", type=_names, action="extend", default=[],
                    help="gate these metrics (default: each dataset's main metric)")
    ck.add_argument("--alpha", type=float, default=0.05,
                    help="family-wise one-sided significance level over the gated metrics "
                    "(Holm; default 0.05)")
    ck.add_argument("--margin", default="5%",
                    help="tolerated worsening: a percentage of the baseline mean (5%%, the "
                    "default) or an amount in the metric's unit (2.5)")
    ck.add_argument("--json", action="store_true", help="machine-readable output")

    npl = sub.add_parser(
        "new-plugin", help="write a pip-installable plugin package to start from",
        description="Write DIR/ganbench-NAME: pyproject.toml with the ganbench entry point, a "
        "module with one loss, one regulariser and one variant, a README, tests that use "
        "ganbench.devkit.testing, a speed test on ganbench's pytest plugin and a CI workflow with the "
        "speed and quality gates. As generated it installs (pip install -e DIR/ganbench-NAME) "
        "and its tests pass.")
    npl.add_argument("name", help="plugin name: lowercase letters, digits, dashes (my-gan)")
    npl.add_argument("--dir", default=".", help="where to create ganbench-NAME (default: .)")

    cpl = sub.add_parser(
        "check-plugin", help="conformance checks of an installed plugin",
        description="Check every object plugin NAME (entry-point or distribution name) "
        "registered: models build with the right shapes, embedded datasets load as declared, "
        "losses, regularisers and step hooks train a few steps with finite losses, variants "
        "train a few steps finitely and deterministically, suites name registered objects. "
        "Exit 0 when all pass, 1 otherwise.")
    cpl.add_argument("name", help="plugin entry-point or distribution name")
    cpl.add_argument("--steps", type=_positive_int, default=3,
                     help="training steps per check (default 3)")
    cpl.add_argument("--json", action="store_true", help="machine-readable output")

    viz_cli.add_commands(sub)
    for name, (help_, configure, _handler, _plugin) in (commands or {}).items():
        cmd = sub.add_parser(name, help=help_, description=help_)
        configure(cmd)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands: dict = {}
    try:
        from ganbench.cli.viz import HANDLERS as VIZ

        known = {"run", "sweep", "list", "plugins", "results", "compare", "check", "new-plugin",
                 "check-plugin", *VIZ}
        first = next((a for a in argv if not a.startswith("-")), None)
        from ganbench.registry import registries

        if first is not None and first not in known:  # maybe a plugin command
            commands = registries().commands
        elif first is None:  # top-level help lists plugin commands too (loading is cheap)
            try:
                commands = registries().commands
            except GanbenchError:
                pass  # a broken plugin must not break --help; `ganbench list` reports it
        parser = build_parser(commands)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        from ganbench.analysis.study import cmd_sweep

        handler = {"run": cmd_run, "sweep": cmd_sweep, "list": cmd_list, "plugins": cmd_plugins,
                   "results": cmd_results, "compare": cmd_compare,
                   "check": cmd_check, "new-plugin": cmd_new_plugin,
                   "check-plugin": cmd_check_plugin, **VIZ}.get(args.command)
        if handler is None:
            return int(commands[args.command][2](args) or 0)
        return handler(args)
    except GanbenchError as exc:
        print(f"ganbench: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ganbench: interrupted; finished runs are saved, rerun the same command to "
              "resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


# ---------------------------------------------------------------------------------- run


def cmd_run(args) -> int:
    from ganbench.execution import executors
    from ganbench.planning.budget import Budget, parse_seeds
    from ganbench.planning.plan import Overrides, plan
    from ganbench.registry import registries
    from ganbench.planning.validate import check_run_args

    check_run_args(args)
    executors.check_arguments(args)
    reg = registries()
    reg.executors.get(args.executor)
    budget = Budget.parse(args.budget) if args.budget is not None else None
    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    overrides = Overrides(optimizer=args.optimizer, lr=args.lr, lr_g=args.lr_g, lr_d=args.lr_d,
                          betas=args.betas, k=args.k, batch_size=args.batch_size,
                          z_dim=args.z_dim, regularizers=tuple(args.reg), g_ema=args.g_ema,
                          augment=args.augment, latent=args.latent)
    jobs = plan(reg, suite=args.suite, run_all=args.all, variants=args.variant,
                model=args.model, loss=args.loss, datasets=args.dataset, budget=budget,
                seeds=seeds, overrides=overrides, evals=args.evals, eval_every=args.eval_every,
                eval_samples=args.eval_samples, eval_options=_eval_options(args),
                data_options={"resize": args.resize} if args.resize else None,
                metrics=args.add_metrics)
    return execute_plan(args, reg, jobs)


def execute_plan(args, reg, jobs, show=None) -> int:
    """Train planned ``jobs`` on the chosen executor, then calibrate and print the summary
    (``show(df)`` prints it instead, e.g. a study's)."""
    from ganbench.execution import launch
    from ganbench.store import results
    from ganbench.execution import outcomes as sweep
    from ganbench.training.fastpath import from_args

    device = launch.planning_device(args)
    jobs, fast = from_args(args, jobs, device)
    if args.dry_run:
        for j in jobs:
            print(f"{j.run_id}\t{j.label}")
        return 0
    out = results.check_writable(args.out)
    data_root = args.data_root  # None: loaders use ganbench.data.dataroot.resolve_data_root
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))

    done, stale = ([], {}) if args.force else sweep.stale_runs(out, jobs, reg)
    retrain = getattr(args, "retrain_stale", False)
    kept = {j.run_id for j in done if not (retrain and j.run_id in stale)}
    todo = [j for j in jobs if j.run_id not in kept]
    skipped = len(jobs) - len(todo)
    log(f"ganbench: {len(jobs)} run(s) on {device}; results in {out}"
        + (f"; {skipped} already done there (--force to train them again)" if skipped else ""))
    for line in sweep.stale_lines(jobs, stale, retrain):  # a warning, not progress: always
        print(line, file=sys.stderr)
    t_start = time.perf_counter()
    outcomes = launch.execute(args, reg, todo, device, fast, out, log,
                              retrain={k: code for k, (_, code) in stale.items()} if retrain
                              else None)
    if todo:
        log(f"ganbench: {len(todo)} run(s) in {time.perf_counter() - t_start:.0f}s")

    shown = list(jobs)
    if not args.no_calibration:
        shown += _calibrate(jobs, reg, out, device, data_root, args.download, log)
    df = results.load([results.run_path(out, j.run_id) for j in shown
                       if results.run_path(out, j.run_id).exists()])
    summary = results.summarize(df)
    if show is not None and not df.empty:
        show(df)
    elif args.json:
        print(summary.to_json(orient="records", indent=1))
    elif args.long:
        print(results.format_summary(summary[~summary["metric"].isin(HIDDEN_IN_RUN_SUMMARY)]))
    else:
        print(brief_summary(summary))
    from ganbench.analysis.report import hint

    made = hint(out, [results.run_path(out, j.run_id) for j in shown
                      if results.run_path(out, j.run_id).exists()])
    if made:
        log(f"ganbench: pictures and generators in {out}/RUN_ID/; the report: {made}")
    problems = sweep.report(outcomes)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


def _calibrate(jobs, reg, out, device, data_root, download, log) -> list:
    """Score the calibration rows of every dataset × evaluation protocol in ``jobs`` that
    ``out`` does not hold yet; returns the calibration jobs."""
    from ganbench.evaluation import calibration
    from ganbench.store import results

    cjobs = calibration.plan_calibration(jobs)
    todo = [c for c in cjobs if not results.run_path(out, c.run_id).exists()]
    if todo:
        log(f"ganbench: calibration rows (real data, uniform noise) for {len(todo) // 2 or 1} "
            "dataset protocol(s)")
    for c in todo:
        t0 = time.perf_counter()
        kind = c.variant.removeprefix(calibration.VARIANT_PREFIX)
        rows, spec = calibration.calibrate(c, reg, kind, device=str(device),
                                           data_root=data_root, download=download)
        meta = run_meta(c, device, reg)
        meta.update(status=calibration.STATUS, started=time.time(), finished=time.time(),
                    images_seen=0, steps=0, train_wall_s=0.0,
                    eval_wall_s=time.perf_counter() - t0, eval_spec=spec.__dict__)
        results.write_run(out, meta, rows)
    return cjobs


def _eval_options(args) -> dict[str, Any]:
    from ganbench.evaluation.extractors.select import absolute_paths

    opts = {"extractor": absolute_paths(args.extractor), "reference": args.fid_reference,
            "n_reference": args.fid_reference_samples,
            "fid_weights": os.path.abspath(args.fid_weights) if args.fid_weights else None}
    return {k: v for k, v in opts.items() if v is not None}


HIDDEN_IN_RUN_SUMMARY = {"d_loss", "g_loss", "g_grad_norm"}  # `ganbench results` shows all
# The end-of-run summary shows, per dataset, the first SUMMARY_PER_DATASET of these metrics it
# has (toy mixtures: modes covered, % high quality, reverse KL; images: FID, frechet_data, KID),
# so it fits a 100-column terminal; --long and --json give every metric.
SUMMARY_METRICS = ("fid", "modes_covered", "high_quality_pct", "reverse_kl", "frechet_data",
                   "kid")
SUMMARY_PER_DATASET = 3
SUMMARY_WIDTH = 100


def brief_summary(summary) -> str:
    """One short table per dataset, each line at most SUMMARY_WIDTH columns."""
    from ganbench.store import results

    if summary.empty:
        return "(no results)"
    blocks = []
    for dataset, s in summary.groupby("dataset", sort=True):
        have = set(s["metric"])
        metrics = [m for m in SUMMARY_METRICS if m in have][:SUMMARY_PER_DATASET]
        if not metrics:
            continue
        s = s[s["metric"].isin(metrics)].copy()
        s["variant"] = s["variant"].map(lambda v: v if len(v) <= 30 else v[:29] + "…")
        lines = results.format_summary(s, metrics, ci=False).splitlines()
        blocks.append("\n".join(lines))
    blocks.append("(every metric: ganbench run ... --long or --json, or ganbench results)")
    return "\n\n".join(blocks)


def run_meta(job, device, reg=None) -> dict[str, Any]:
    from ganbench.store.envinfo import code_identity, git_sha, torch_version

    return {
        "run_id": job.run_id, "suite": job.suite, "variant": job.variant, "model": job.model,
        "loss": job.loss, "dataset": job.dataset, "seed": job.seed, "budget": str(job.budget),
        "config": job.config(), "device": str(device), "torch": torch_version(),
        "ganbench_version": __version__, "git_sha": git_sha(),
        "code": code_identity(job, reg),  # beside the run id, never in it
    }


class _Progress:
    """Progress of one run on stderr: a tqdm bar (percent of the budget) when stderr is a
    terminal; otherwise (logs, CI) a plain line at most every ``LINE_EVERY_S`` seconds, so long
    runs are visibly alive without filling logs with carriage returns."""

    LINE_EVERY_S = 30.0

    def __init__(self, label: str, quiet: bool):
        self.label = label
        self.enabled = not quiet
        self.tty = sys.stderr.isatty()
        self.started = self.last = time.monotonic()
        self.bar = None
        if self.enabled and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=100.0, desc=label, unit="%", leave=False, file=sys.stderr,
                            dynamic_ncols=True, mininterval=0.2,
                            bar_format="{desc} {bar} {percentage:5.1f}% [{elapsed}<{remaining}]")

    def update(self, frac: float) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(100.0 * frac - self.bar.n)
            return
        now = time.monotonic()
        if now - self.last >= self.LINE_EVERY_S and frac < 1:
            self.last = now
            print(f"{self.label}: {100 * frac:.0f}% of the budget "
                  f"({now - self.started:.0f}s elapsed)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# ---------------------------------------------------------------------------------- list


def _describe(kind: str, obj) -> dict[str, Any]:
    d: dict[str, Any] = {"name": obj.name, "description": obj.description}
    if kind == "variants":
        d.update(model=obj.model, loss=obj.loss, reference=obj.reference,
                 hparams=obj.hparams.to_dict(), model_options=dict(obj.model_options),
                 regularizers=list(obj.regularizers), step_hooks=list(obj.step_hooks),
                 g_ema=obj.g_ema, augment=obj.augment or None, latent=obj.latent or None)
    elif kind == "losses":
        d.update(output=obj.output, context=obj.uses_context, options=dict(obj.options))
    elif kind == "regularizers":
        d.update(weight=obj.weight, every=obj.every, phase=obj.phase,
                 options=dict(obj.options), reference=obj.reference)
    elif kind == "step_hooks":
        d.update(after=obj.after, options=dict(obj.options))
    elif kind in ("augmentations", "latent_samplers"):
        d.update(options=dict(obj.options), reference=obj.reference)
    elif kind == "models":
        d.update(conditional=obj.conditional,
                 options={k: list(v) if isinstance(v, tuple) else v
                          for k, v in obj.options.items()})
    elif kind == "datasets":
        d.update(kind=obj.spec.kind, shape=list(obj.spec.shape),
                 num_classes=obj.spec.num_classes, source=obj.source,
                 modes=len(obj.modes.centers) if obj.modes else None)
    elif kind == "metrics":  # directions: row -> higher is better (None: no better direction)
        d.update(default=obj.default, directions=dict(obj.directions))
    elif kind == "search_spaces":
        d.update(params={k: str(v) for k, v in obj.params.items()}, reference=obj.reference)
    return d


def cmd_list(args) -> int:
    from ganbench.registry import registries

    reg = registries()
    kinds = [args.kind] if args.kind else ["variants", "models", "losses", "regularizers",
                                            "step_hooks", "datasets", "metrics", "suites",
                                            "executors", "search_spaces", "augmentations",
                                            "latent_samplers"]
    data = {}
    for kind in kinds:
        registry = getattr(reg, kind)
        items = []
        for obj in registry:
            d = _describe(kind, obj)
            d["plugin"] = registry.owner(obj.name)
            if kind == "suites":
                d["entries"] = [dict(variant=e.variant, dataset=e.dataset, budget=e.budget,
                                     seeds=list(e.seeds)) for e in obj.resolve(reg)]
            items.append(d)
        data[kind] = items
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for kind, items in data.items():
        print(f"{kind}:")
        for d in items:
            extra = ""
            if kind == "variants":
                h = d["hparams"]
                betas = ("" if h["optimizer"] == "rmsprop"  # RMSprop has no betas
                         else f", betas {tuple(h['betas'])}")
                terms = "".join(
                    [f"; {k} {v}" for k, v in h.items() if k in ("eps", "weight_decay",
                                                                 "alpha", "lr_schedule",
                                                                 "g_options",
                                                                 "d_options")]
                    + [f"; {k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
                       for k, v in (("options", ", ".join(f"{a}={b}" for a, b in
                                                          d["model_options"].items())),
                                    ("reg", d["regularizers"]), ("hooks", d["step_hooks"]),
                                    ("g_ema", d["g_ema"])) if v])
                extra = (f" [{d['model']} + {d['loss']}; {h['optimizer']} lr {h['lr_g']:g}/"
                         f"{h['lr_d']:g}{betas}, k {h['k']}, batch "
                         f"{h['batch_size']}, z {h['z_dim']}{terms}]")
                if d["reference"]:
                    extra += f"\n  {'':<18} ref: {d['reference']}"
            elif kind == "losses":
                extra = f" [output {d['output']}{', context' if d['context'] else ''}]"
            elif kind == "regularizers":
                extra = (f" [default {d['name']}:{d['weight']:g}"
                         f"{':every=%d' % d['every'] if d['every'] != 1 else ''}"
                         f"{''.join(f':{k}={v:g}' for k, v in d['options'].items())}]")
            elif kind == "step_hooks":
                extra = (f" [after the {d['after'].upper()} step; "
                         f"{', '.join(f'{k}={v:g}' for k, v in d['options'].items())}]")
            elif kind == "datasets":
                extra = f" [{d['kind']} {tuple(d['shape'])}, {d['num_classes']} classes]"
            elif kind == "suites":
                extra = f" [{len(d['entries'])} entries]"
            extra, _, second = extra.partition("\n")
            print(f"  {d['name']:<18} {d['description']}{extra}  ({d['plugin']})"
                  + (f"\n{second}" if second else ""))
    return 0


def cmd_plugins(args) -> int:
    from ganbench.registry import registries

    reg = registries()
    items = [dict(name=p.name, module=p.module, distribution=p.distribution,
                  version=p.version, builtin=p.builtin, hooks=p.hooks) for p in reg.plugins]
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    for p in items:
        tag = "built-in" if p["builtin"] else "third-party"
        print(f"{p['name']:<20} {p['distribution']} {p['version']} ({tag}) {p['module']}: "
              f"{', '.join(p['hooks'])}")
    return 0


# ------------------------------------------------------------------------- results/compare


def cmd_results(args) -> int:
    from ganbench.store import results

    # a study counts a trial that failed before its first evaluation (a run file without rows)
    df = results.load(args.path, empty_runs=bool(args.study))
    if df.empty:
        raise UsageError(f"no result rows found in {', '.join(map(str, args.path))}")
    if args.metric:
        df = df[df["metric"].isin(args.metric) | df["metric"].isna()]
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
        text = table.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        print(table.to_json(orient="records", indent=1) if args.json else
              table.to_csv(index=False) if args.csv else text, end="\n" if not args.csv else "")
        return 0
    table = df if args.long else results.summarize(df)
    if args.json:
        print(table.to_json(orient="records", indent=1))
    elif args.csv:
        print(table.to_csv(index=False), end="")
    else:
        print(results.format_summary(results.summarize(df)))
    return 0


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
    if args.variants:
        a, b = _two_variants(a, b, args.variants)
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
        import pandas as pd

        shown = table.drop(columns=["rel_delta", "same_eval_spec"])
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(shown.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        n = int(table["p_holm"].notna().sum())
        print("delta = mean B - mean A of final values over seeds; ci: its 95% Welch "
              "t-interval; p: Welch's t-test (seeds as samples), or the exact permutation test "
              f"where values tie (no ci); p_holm: Holm-adjusted over the {n} tests with a "
              "verdict, and verdict says better/worse only where p_holm < 0.05 (family-wise); "
              "directions from the metrics' registrations")
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


def cmd_new_plugin(args) -> int:
    from ganbench.devkit.scaffold import new_plugin

    root = new_plugin(args.name, args.dir)
    print(f"wrote {root}\nnext: pip install -e {root}  &&  ganbench check-plugin {args.name}  "
          f"&&  python -m pytest {root / 'tests' / 'test_plugin.py'}")
    return 0


def cmd_check_plugin(args) -> int:
    import dataclasses
    import json

    from ganbench.devkit import testing

    findings = testing.check_plugin(args.name, steps=args.steps)
    if args.json:
        print(json.dumps([dataclasses.asdict(f) for f in findings], indent=1))
    else:
        print(testing.format_findings(findings))
    bad = sum(not f.ok for f in findings)
    if bad:
        print(f"ganbench: {bad} of {len(findings)} check(s) failed", file=sys.stderr)
    return 1 if bad else 0
