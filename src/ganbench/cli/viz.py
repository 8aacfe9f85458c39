"""The commands that look at what runs made: ``sample``, ``interpolate``, ``arithmetic``,
``report``; and the ``run`` options ``--keep-generators`` and ``--tensorboard``.

``ganbench.cli.run`` calls :func:`add_run_options` (the run options reach each job through
``ganbench.execution.worker.WorkerOptions``); the commands register through the command hook.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ganbench import hookimpl
from ganbench.api.argtypes import int_range, non_negative_float, seed
from ganbench.api.errors import UsageError

RUN_HELP = ("RUN: a run file (OUT/RUN_ID.json), or a run id with --results DIR. The run's "
            "kept generator (OUT/RUN_ID/generator.safetensors) is rebuilt through the "
            "registries and run on the CPU.")


def add_run_options(group) -> None:
    group.add_argument("--keep-generators", choices=["final", "all"], default="final",
                       help="keep the generator of the last evaluation point (final, the "
                       "default) or of every evaluation point (all), as weights-only "
                       "safetensors files in OUT/RUN_ID/")
    group.add_argument("--tensorboard", metavar="DIR",
                       help="also log every metric row as a scalar and each evaluation's "
                       "sample picture to TensorBoard event files in DIR/RUN_ID")


def _run_arguments(p) -> None:
    p.add_argument("run", metavar="RUN", help="run file, or run id with --results")
    p.add_argument("--results", metavar="DIR", help="results directory holding RUN_ID.json")
    p.add_argument("--step", type=int_range(0), metavar="STEP",
                   help="the generator of this evaluation step (runs trained with "
                   "--keep-generators all; default: the final one)")
    p.add_argument("--out", required=True, metavar="FILE.png", help="PNG file to write")


class _Wrapped(argparse.RawDescriptionHelpFormatter):
    """Descriptions wrapped to the terminal; epilogs (examples) kept as written."""

    def add_text(self, text):
        if text and text is not argparse.SUPPRESS and "\n" not in text:
            import textwrap

            text = textwrap.fill(text, width=min(self._width, 100))
        super().add_text(text)


@hookimpl
def ganbench_register_commands(register):
    fmt = _Wrapped
    register("sample", "sample pictures from a run's kept generator", configure_sample,
             cmd_sample,
             description="Samples of a run's kept generator as a PNG. Default: the "
             "run's fixed evaluation noise, so the picture equals the run's last "
             "evaluation picture (bitwise on the CPU). " + RUN_HELP,
             epilog="examples:\n  ganbench sample results/runs/RUN_ID.json --out s.png"
             "\n  ganbench sample RUN_ID --results results/runs --class 3 --seed 1 "
             "--out threes.png", formatter_class=fmt)
    register("interpolate", "linear and spherical interpolation between latents",
             configure_interpolate, cmd_interpolate,
             description="Rows of interpolation between pairs of random latents: for "
             "each pair a row of linear (lerp) and a row of spherical (slerp) "
             "interpolation. On point data, the paths are drawn over the modes. "
             + RUN_HELP, formatter_class=fmt,
             epilog="example:\n  ganbench interpolate RUN_ID --results results/runs "
             "--pairs 4 --steps 10 --out interp.png")
    register("arithmetic", "latent vector arithmetic over classes (Radford et al. 2015)",
             configure_arithmetic, cmd_arithmetic,
             description="Latent vector arithmetic for labelled image data, after "
             "Radford et al. 2015: for each class of EXPR (e.g. 7-1+4) the mean "
             "latent of the --exemplars samples the dataset's shipped classifier is "
             "most sure are of that class (out of --pool random latents); the signed "
             "sum is decoded, with --count - 1 copies jittered by uniform noise of "
             "+-jitter, and classified. The PNG has one row per term (its exemplars, "
             "then its mean latent decoded, last column) and a last row of results. "
             "Prints what the classifier says. Needs an unconditional generator on "
             "images with a shipped classifier (digits, mnist, fashion-mnist). "
             + RUN_HELP, formatter_class=fmt,
             epilog="example:\n  ganbench arithmetic RUN_ID --results results/runs "
             "7-1+4 --out arith.png")
    register("report", "a static HTML report of results directories", configure_report,
             cmd_report,
             description="Write DIR/index.html: per dataset the hyperparameter "
             "studies of 'ganbench sweep' (expected best after k trials with its 95% "
             "band, every trial's final value, the numbers of 'ganbench "
             "results --study' and each trial's settings), quality vs training time "
             "and images seen, final metrics with 95% intervals, the anytime table, "
             "calibration rows, stability curves and sample pictures (final, and "
             "over time); the environment and EvalSpecs. Offline: no script, no CDN; "
             "figures and pictures are files beside index.html. One colour and line "
             "style per variant in every figure; legends below the axes.",
             formatter_class=fmt,
             epilog="example:\n  ganbench report results/runs --out results/report")


def _sizes():
    from ganbench.analysis.latent import MAX_SAMPLES

    # every size is bounded: each sample costs memory
    return int_range(1, MAX_SAMPLES), int_range(0), MAX_SAMPLES


def configure_sample(s) -> None:
    count, cls, _ = _sizes()
    _run_arguments(s)
    s.add_argument("--n", type=count, help="number of samples (default: 64 images in an 8x8 "
                   "grid, one row per class for a conditional G; all evaluation samples for "
                   "points)")
    s.add_argument("--class", dest="cls", type=cls, metavar="C",
                   help="class C: asked of a conditional G; for an unconditional G, the samples "
                   "the dataset's shipped classifier assigns to C")
    s.add_argument("--seed", type=seed, help="fresh latents from this seed (default: the "
                   "run's evaluation noise)")


def configure_interpolate(i) -> None:
    count, cls, max_samples = _sizes()
    _run_arguments(i)
    i.add_argument("--pairs", type=count, default=4, help="pairs of latents (default 4: 8 rows)")
    i.add_argument("--steps", type=int_range(2, max_samples), help="points per path, "
                   "endpoints included (default: 10 for images, 64 for points)")
    i.add_argument("--seed", type=seed, default=0, help="seed of the endpoint latents")
    i.add_argument("--class", dest="cls", type=cls, metavar="C",
                   help="conditional G: the class of every row (default: a class per pair)")


def configure_arithmetic(a) -> None:
    count, _, _ = _sizes()
    _run_arguments(a)
    a.add_argument("expression", metavar="EXPR", help="classes joined by + and -, e.g. 7-1+4")
    a.add_argument("--exemplars", type=count, default=3, help="samples averaged per class "
                   "(default 3, as in the paper)")
    a.add_argument("--pool", type=count, default=2000, help="random latents to pick exemplars "
                   "from (default 2000)")
    a.add_argument("--seed", type=seed, default=0, help="seed of the pool and of the jitter")
    a.add_argument("--jitter", type=non_negative_float, default=0.25, help="uniform noise "
                   "on the result latent for the extra results (default 0.25, as in the paper)")
    a.add_argument("--count", dest="n_results", type=count, default=8, metavar="N",
                   help="results decoded: the sum and N - 1 jittered copies (default 8)")
    a.add_argument("--json", action="store_true", help="the classifier's verdicts as JSON")


def configure_report(r) -> None:
    r.add_argument("paths", nargs="+", metavar="RESULTS",
                   help="result files or directories")
    r.add_argument("--out", required=True, metavar="DIR", help="report directory")
    r.add_argument("--title", default="ganbench report")


def _warn(msg: str) -> None:
    print(f"ganbench: warning: {msg}", file=sys.stderr)


def _write_png(path: str, picture, layout: dict) -> None:
    from ganbench.store import pictures
    from ganbench.store.safepath import atomic_write

    if not path.lower().endswith(".png"):
        raise UsageError(f"--out must name a .png file, got '{path}'")
    p = Path(path)
    if not p.parent.is_dir():
        raise UsageError(f"cannot write '{path}': no directory '{p.parent}'")
    try:
        atomic_write(p, pictures.png_bytes(picture, layout))
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {exc.strerror or exc}") from None


def _open(args):
    from ganbench.analysis.latent import open_run
    from ganbench.registry import registries
    from ganbench.planning.validate import check_path

    check_path("RUN", args.run)
    if args.results is not None:
        check_path("--results", args.results)  # '' would be the current directory
    return open_run(args.run, args.results, registries(), step=args.step)


def cmd_sample(args) -> int:
    from ganbench.analysis import latent

    kept = _open(args)
    pic, layout, samples = latent.sample(kept, n=args.n, cls=args.cls, seed=args.seed,
                                         warn=_warn)
    layout.update(run_id=kept.meta["run_id"], step=kept.record["step"], source="sample",
                  seed=args.seed, cls=args.cls)
    _write_png(args.out, pic, layout)
    shown = sum(k is not None for k in layout["cells"]) if "cells" in layout else \
        layout.get("points", len(samples))
    print(f"ganbench: {shown} samples of {kept.meta['run_id']} (step "
          f"{kept.record['step']}) -> {args.out}", file=sys.stderr)
    return 0


def cmd_interpolate(args) -> int:
    from ganbench.analysis import latent

    kept = _open(args)
    pic, layout, z, _ = latent.interpolate(kept, pairs=args.pairs, steps=args.steps,
                                           seed=args.seed, cls=args.cls)
    layout.update(run_id=kept.meta["run_id"], step=kept.record["step"], source="interpolate")
    _write_png(args.out, pic, layout)
    print(f"ganbench: {z.shape[0]} rows x {z.shape[1]} steps (linear, spherical per pair) -> "
          f"{args.out}", file=sys.stderr)
    return 0


def cmd_arithmetic(args) -> int:
    from ganbench.analysis import latent

    kept = _open(args)
    res = latent.arithmetic(kept, args.expression, exemplars=args.exemplars, pool=args.pool,
                            seed=args.seed, jitter=args.jitter, results=args.n_results)
    res["layout"].update(run_id=kept.meta["run_id"], step=kept.record["step"],
                         source="arithmetic")
    _write_png(args.out, res["picture"], res["layout"])
    verdict = {k: v for k, v in res.items() if k not in ("picture", "layout", "z", "samples")}
    if args.json:
        print(json.dumps(verdict, indent=1))
        return 0
    for t in res["terms"]:
        print(f"{t['sign']}{t['class']}: {len(t['exemplar_confidence'])} exemplars (classifier "
              f"p {', '.join(f'{c:.2f}' for c in t['exemplar_confidence'])}); their mean latent "
              f"decodes as {t['mean_decodes_as']} (p {t['mean_confidence']:.2f})")
    counts = ", ".join(f"{k}: {v}" for k, v in res["result_classes"].items())
    print(f"{res['expression']} decodes as {res['result_decodes_as']} (p "
          f"{res['result_confidence']:.2f}); with jitter ±{res['jitter']:g}, the "
          f"{sum(res['result_classes'].values())} results are classified {counts}")
    print(f"picture: {args.out}", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    from ganbench.analysis.report import make_report

    index = make_report(args.paths, args.out, title=args.title)
    print(f"ganbench: report written to {index}", file=sys.stderr)
    print(os.fspath(index))
    return 0
