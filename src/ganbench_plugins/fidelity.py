"""Metrics on learned features (torch-fidelity) and a domain classifier's labels; the
``train-extractor`` command.

* ``fidelity`` (image datasets with a feature extractor): FID, KID (+ std over subsets),
  Inception Score (+ std over splits) and precision/recall (Kynkäänniemi et al. 2019),
  computed by torch-fidelity on the extractor named in the row's EvalSpec; density and coverage
  (Naeem et al. 2020) on the same features with the same k=3 (``ganbench.evaluation.fidelity``).
* ``labels`` (labelled image datasets with a shipped ganbench classifier): classes covered,
  KL of the predicted-class histogram against uniform, and for conditional generators the
  fraction classified as the label asked for; on ``stacked-mnist`` the mode count out of 1000.
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.api.evalspec import EvalContext
from ganbench.api.specs import MetricSpec, MetricValue

UNITS = {"classes_covered": ("classes", True), "class_kl": ("nats", False),
         "cond_accuracy": ("prob", True), "stacked_modes": ("modes", True),
         "stacked_kl": ("nats", False)}
STACKED = {"stacked-mnist": "mnist"}  # dataset -> extractor classifying each channel


def _fidelity_directions():
    from ganbench.evaluation.fidelity import KEYS

    return dict(KEYS.values())


def compute_fidelity(ctx: EvalContext):
    from ganbench.evaluation.fidelity import compute

    hib = _fidelity_directions()
    return [MetricValue(k, v, "", hib[k]) for k, v in compute(ctx).items()]


def _classifier_dataset(ctx: EvalContext):
    from ganbench.evaluation.extractors import domain

    name = STACKED.get(ctx.dataset.name, ctx.dataset.name)
    if ctx.dataset.spec.kind != "images" or name not in domain.shipped():
        return None
    return name


def compute_labels(ctx: EvalContext):
    from ganbench.evaluation.extractors.domain import load_net
    from ganbench.evaluation.labels import class_metrics, stacked_metrics

    net = load_net(_classifier_dataset(ctx)).to(ctx.device)
    if ctx.dataset.name in STACKED:
        vals = stacked_metrics(net, ctx.samples())
    else:
        vals = class_metrics(net, ctx.samples(), ctx.dataset.spec.num_classes, ctx.labels(),
                             pred=ctx.classified.get(_classifier_dataset(ctx)))
    return [MetricValue(k, v, *UNITS[k]) for k, v in vals.items()]


METRICS = [
    MetricSpec("fidelity", compute_fidelity, "FID, KID, IS, precision/recall by torch-fidelity "
               "on the EvalSpec's feature extractor (images); density and coverage (Naeem et "
               "al. 2020, higher is better) on precision/recall's features, k=3",
               applies=lambda c: c.extractor is not None, directions=_fidelity_directions()),
    MetricSpec("labels", compute_labels, "classes covered, KL of the class histogram vs "
               "uniform, conditional accuracy (domain classifier); stacked-mnist modes of 1000",
               applies=lambda c: _classifier_dataset(c) is not None,
               directions={k: hib for k, (_, hib) in UNITS.items()}),
]


@hookimpl
def ganbench_register_metrics(register):
    for m in METRICS:
        register(m)


def _configure_train_extractor(p) -> None:
    from ganbench.api.argtypes import positive_int, seed

    p.add_argument("--dataset", required=True, help="labelled image dataset to train on "
                   "(its train split; accuracy is measured on its test split)")
    p.add_argument("--epochs", type=int, default=None, help="passes over the train split "
                   "(default: per dataset, see docs/evaluation.md)")
    p.add_argument("--seed", type=seed, default=0, help="seed of initialisation and batches")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--out", default=None, help="directory for DATASET.pt and DATASET.json "
                   "(default: the package's shipped weights directory)")
    p.add_argument("--data-root", default=None, help="where dataset files live")
    p.add_argument("--no-download", dest="download", action="store_false",
                   help="never download data")


def _run_train_extractor(args) -> int:
    import json
    import sys

    from ganbench.evaluation.extractors.train import train_extractor
    from ganbench.registry import registries
    from ganbench.planning.validate import check_path

    for option, value in (("--out", args.out), ("--data-root", args.data_root)):
        if value is not None:  # '' (an unset variable) is no path, not the default
            check_path(option, value)
    rec = train_extractor(registries(), args.dataset, epochs=args.epochs, seed=args.seed,
                          batch_size=args.batch_size, out_dir=args.out,
                          data_root=args.data_root,
                          download=args.download,
                          log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(rec, indent=1))
    return 0


def _configure_crosscheck(p) -> None:
    p.add_argument("--datasets", default="mnist,fashion-mnist", help="comma-separated image "
                   "datasets with a shipped extractor (default: mnist,fashion-mnist)")
    p.add_argument("--n", type=int, default=2000, help="images per side (default 2000)")
    p.add_argument("--standin-n", type=int, default=64, help="images per side on Inception-v3 "
                   "(digits; default 64: 299x299 on a CPU is slow)")
    p.add_argument("--fid-weights", default=None, help="Inception-v3 FID weights (default: "
                   "torch-fidelity's network with seeded random weights, the code path only)")
    p.add_argument("--data-root", default=None, help="where dataset files live (never "
                   "downloaded)")
    p.add_argument("--out", required=True, help="directory for eval-agreement.csv and .md")


def _run_crosscheck(args) -> int:
    import shlex
    import sys
    from pathlib import Path

    import pandas as pd

    from ganbench.evaluation import crosscheck
    from ganbench.api.errors import UsageError
    from ganbench.store.safepath import atomic_write

    if missing := crosscheck.missing_packages():
        raise UsageError(f"crosscheck needs {', '.join(missing)} (pip install -e '.[dev]')")
    if not 2 <= args.n <= 60000 or not 2 <= args.standin_n <= 10000:
        raise UsageError("--n must be in 2..60000 and --standin-n in 2..10000")
    out = Path(args.out)
    try:  # before the minutes of work, so a bad --out costs nothing
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {args.out}: {e.strerror or e}") from None
    rows = crosscheck.run([d for d in args.datasets.split(",") if d], args.n, args.data_root,
                          args.fid_weights, args.standin_n,
                          log=lambda m: print(m, file=sys.stderr))
    command = shlex.join(["ganbench", "crosscheck", "--datasets", args.datasets, "--n",
                          str(args.n), "--standin-n", str(args.standin_n), "--out", args.out]
                         + (["--data-root", args.data_root] if args.data_root else [])
                         + (["--fid-weights", args.fid_weights] if args.fid_weights else []))
    atomic_write(out / "eval-agreement.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    atomic_write(out / "eval-agreement.md", crosscheck.markdown(rows, command).encode())
    bad = [r for r in rows if r["verdict"] == "DISAGREES"]
    print(f"{len(rows)} rows, {len(bad)} disagreeing, written to {out}")
    return 1 if bad else 0


@hookimpl
def ganbench_register_commands(register):
    register("crosscheck", "compare ganbench's FID, KID, precision/recall, density/coverage "
             "with torch-fidelity, clean-fid, pytorch-fid and prdc on the same samples and "
             "features (needs the dev extra)", _configure_crosscheck, _run_crosscheck)
    register("train-extractor", "train the domain classifier used as a FID feature extractor "
             "(reproducible: seed and epochs recorded with the weights)",
             _configure_train_extractor, _run_train_extractor)
