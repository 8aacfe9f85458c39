"""``ganbench run`` and ``ganbench sweep``: options → ``ganbench.execution.launch`` (plan, train,
calibrate) → the end-of-run summary on stdout."""

from __future__ import annotations

import argparse
import os

from ganbench import hookimpl
from ganbench.api.argtypes import betas, finite_float, names, positive_int

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


@hookimpl
def ganbench_register_commands(register):
    register("run", "train variants under a fixed budget and record metrics", configure_run,
             cmd_run, description="Train GAN variants under a fixed, equal budget, evaluate "
             "them periodically and write one result file per run.",
             epilog=EPILOG_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    register("sweep", "hyperparameter-robustness study: N sampled settings per variant",
             configure_sweep, cmd_sweep,
             description="Sample --trials hyperparameter settings per variant from a search "
             "space (seeded; recorded in every run), train them on any executor, and show the "
             "distribution of the final main metric and the expected best after k trials "
             "(Lucic et al. 2018, Figure 4). Every option of 'ganbench run' applies; --seeds "
             "defaults to 0 (one training seed per setting).",
             epilog="example:\n  ganbench sweep --variant non-saturating,wgan-gp --dataset ring8 "
             "--trials 20 --budget 2000steps --executor processes --jobs 2 --out results/study\n"
             "  ganbench results results/study --study",
             formatter_class=argparse.RawDescriptionHelpFormatter)


def configure_run(p) -> None:
    from ganbench.execution import executors

    _what(p)
    _budget(p)
    _fast_path(p)
    _hyperparameters(p)
    _evaluation(p)
    _output(p)
    executors.add_arguments(p)


def _what(p) -> None:
    what = p.add_argument_group("what to run")
    what.add_argument("--all", action="store_true",
                      help="run every entry of the suite (default suite: quick)")
    what.add_argument("--suite", help="suite to run or to take budgets/datasets from "
                      "(default: quick)")
    what.add_argument("--variant", type=names, action="extend", default=[], metavar="NAME[,NAME]",
                      help="variant(s) to run (with --all: restrict the suite to them)")
    what.add_argument("--model", help="architecture (replaces the variant's; with --loss and "
                      "no --variant: an ad-hoc MODEL+LOSS variant)")
    what.add_argument("--loss", help="GAN objective (replaces the variant's), with options as "
                      "NAME:KEY=VALUE (e.g. topk:k=0.5)")
    what.add_argument("--dataset", type=names, action="extend", default=[],
                      metavar="NAME[,NAME]", help="dataset(s) (default: the suite's)")


def _budget(p) -> None:
    how = p.add_argument_group("budget and seeds")
    how.add_argument("--budget", help="per-run budget: 20000img, 500steps, 30s (default: suite's)")
    how.add_argument("--seeds", help="comma list or range, e.g. 0,1,2 or 0-4 (default: suite's)")
    how.add_argument("--device", default="auto", help="auto (default: CUDA if available), cpu, "
                     "cuda, cuda:N")


def _fast_path(p) -> None:
    fp = p.add_argument_group("execution (the GPU fast path; data stays on the device and "
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


def _hyperparameters(p) -> None:
    hp = p.add_argument_group("hyperparameter overrides (apply to every selected variant)")
    hp.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop"])
    hp.add_argument("--lr", type=finite_float, help="learning rate of G and D")
    hp.add_argument("--lr-g", type=finite_float)
    hp.add_argument("--lr-d", type=finite_float)
    hp.add_argument("--betas", type=betas, metavar="B1,B2")
    hp.add_argument("--k", "--d-steps", dest="k", type=positive_int, help="D steps per G step")
    hp.add_argument("--batch-size", type=positive_int)
    hp.add_argument("--z-dim", type=positive_int)
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
    hp.add_argument("--g-ema", type=finite_float, metavar="DECAY",
                    help="evaluate an exponential moving average of G's weights (ema <- DECAY "
                    "ema + (1 - DECAY) G after each G step), e.g. 0.999; 0: off")


def _evaluation(p) -> None:
    ev = p.add_argument_group("evaluation")
    ev.add_argument("--evals", type=positive_int,
                    help="evaluations spread evenly over the budget, after one at step 0 "
                    "(default: suite's, else 10)")
    ev.add_argument("--eval-every", type=positive_int, metavar="STEPS",
                    help="evaluate every N G steps instead")
    ev.add_argument("--eval-samples", type=positive_int, help="generated samples per evaluation")
    ev.add_argument("--extractor", help="features for FID/KID/IS/precision-recall on images: auto "
                    "(default: the ganbench extractor shipped for the dataset, else "
                    "inception-v3-compat), inception-v3-compat, ganbench-DATASET, or none; "
                    "add ',dinov2-vit-s-14' (or '=PATH' to its weights) for FD_DINOv2 beside "
                    "it, e.g. auto,dinov2-vit-s-14")
    ev.add_argument("--fid-weights", metavar="PATH", help="Inception-v3 weights file for "
                    "inception-v3-compat (default: torch-fidelity's download cache)")
    ev.add_argument("--metric", dest="add_metrics", type=names, action="extend", default=[],
                    metavar="NAME", help="also compute these metrics, e.g. the opt-in "
                    "memorisation and cas (ganbench list metrics); comma-separated or repeated")
    ev.add_argument("--fid-reference", choices=["train", "test"],
                    help="real split FID/KID/precision-recall compare with (default: train)")
    ev.add_argument("--fid-reference-samples", type=positive_int, metavar="N",
                    help="real images in the reference statistics, a seeded subset (default: "
                    "--eval-samples, at most the split)")


def _output(p) -> None:
    from ganbench.cli import viz

    out = p.add_argument_group("output")
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
    out.add_argument("--resize", type=positive_int, metavar="PIXELS",
                     help="resize image datasets to PIXELS x PIXELS (default: the suite's, or "
                     "the smallest size the model accepts, e.g. 28 -> 32 for dcgan)")
    out.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    out.add_argument("--no-calibration", action="store_true",
                     help="do not score the calibration rows (held-out real data and uniform "
                          "noise under the same EvalSpec) for each dataset of the plan")
    viz.add_run_options(out)
    out.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    out.add_argument("--long", action="store_true",
                     help="end-of-run summary with every metric (default: a few per dataset, "
                     "fitting 100 columns)")
    out.add_argument("--json", action="store_true",
                     help="end-of-run summary as JSON records, every metric")


def configure_sweep(p) -> None:
    """Every ``run`` option, plus the study's."""
    from ganbench.analysis.study import DEFAULT_SPACE, MAX_TRIALS, trials

    configure_run(p)
    g = p.add_argument_group("study")

    g.add_argument("--trials", type=trials, required=True, metavar="N",
                   help=f"hyperparameter settings per variant (1 to {MAX_TRIALS})")
    g.add_argument("--space", default=DEFAULT_SPACE, metavar="NAME",
                   help=f"search space (default {DEFAULT_SPACE}; ganbench list search_spaces)")
    g.add_argument("--space-seed", type=int, default=0, metavar="S",
                   help="seed of the sampling (default 0): the same seed gives the same "
                   "settings")


def cmd_run(args) -> int:
    from ganbench.execution import launch
    from ganbench.registry import registries

    launch.check_args(args)
    reg = registries()
    reg.executors.get(args.executor)
    jobs = launch.plan_from_args(args, reg)
    return launch.execute_plan(args, reg, jobs, show=run_summary(args))


def cmd_sweep(args) -> int:
    from ganbench.analysis import study
    from ganbench.api.errors import UsageError
    from ganbench.execution import launch
    from ganbench.registry import registries

    launch.check_args(args)
    if args.all:
        raise UsageError("sweep takes --variant and --dataset, not --all")
    reg = registries()
    reg.executors.get(args.executor)
    study.check_fixed(args, reg.search_spaces.get(args.space))
    base = launch.plan_from_args(args, reg, default_seeds=[0])
    jobs = study.plan_study(reg, base, args.space, args.trials, args.space_seed)
    summary = run_summary(args)

    def show(df) -> None:
        if df.empty:
            summary(df)
        else:
            print(study.format_study(study.summarize(df)))

    return launch.execute_plan(args, reg, jobs, show=show)


def run_summary(args):
    """What ``run`` prints of its runs' rows ``df``: JSON records, every metric (--long) or,
    by default, the leaderboard of each dataset (``ganbench.analysis.leaderboard``: ranked by
    the dataset's main metric, intervals, ties, calibration rows; fits the terminal, 100
    columns where its width is unknown)."""
    def show(df) -> None:
        from ganbench.store import results

        if args.json:
            print(results.summarize(df).to_json(orient="records", indent=1))
        elif args.long:
            summary = results.summarize(df)
            print(results.format_summary(summary[~summary["metric"].isin(HIDDEN_IN_RUN_SUMMARY)]))
        else:
            from ganbench.analysis import leaderboard

            print(leaderboard.render(df))
            print(RUN_SUMMARY_NOTE)

    return show


HIDDEN_IN_RUN_SUMMARY = {"d_loss", "g_loss", "g_grad_norm"}  # `ganbench results` shows all
RUN_SUMMARY_NOTE = "(every metric: ganbench run ... --long or --json, or ganbench results --long)"
