"""Metric-validity ladders: degrade real held-out data along known axes and record every
metric's response (issue 28, section 2). A script, not a benchmark: it writes
results/metric-ladders.csv (one row per dataset x axis x rung x metric).

    python benchmarks/metric_ladders.py --data-root /work/shared/data --n 1000

Axes: Gaussian noise (pixels in [-1, 1], or coordinates) at increasing sigma; Gaussian blur
(images); classes/modes kept (all -> 1, the held-out points of the dropped ones replaced by
points of the kept ones, so the count stays n); memorisation (copies of training points, the
fraction of copies rising); a shift of the mean (every pixel/coordinate + s).
Metrics: FID, KID, precision, recall, density, coverage (images, shipped extractor) and
frechet_data (raw pixels/coordinates); modes covered, % high quality and reverse KL (mixtures);
memorisation's copy_fraction and data_copying_z (``ganbench.evaluation.memorisation``: nearest
distances to the whole train split, against those of the clean held-out data, in the
extractor's features or raw coordinates).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch

RUNGS = {
    "noise": [0.0, 0.1, 0.25, 0.5, 1.0],
    "blur": [0.0, 0.5, 1.0, 1.5, 2.0],
    "memorise": [0.0, 0.25, 0.5, 0.75, 1.0],
    "shift": [0.0, 0.05, 0.1, 0.2, 0.4],
}


def degrade(axis, level, held, held_y, train, g):
    x = held.clone()
    if axis == "noise":
        x = x + level * torch.randn(x.shape, generator=g)
    elif axis == "blur" and level > 0:
        from torchvision.transforms.functional import gaussian_blur

        x = gaussian_blur(x, kernel_size=2 * int(3 * level) + 1, sigma=level)
    elif axis == "memorise":
        m = int(round(level * len(x)))
        x[:m] = train[torch.randperm(len(train), generator=g)[:m]]
    elif axis == "shift":
        x = x + level
    elif axis == "classes":
        keep = held_y < level
        pool = x[keep]
        x = pool[torch.randint(0, len(pool), (len(x),), generator=g)]
        x[: int(keep.sum())] = pool  # every kept held-out point once, then repeats
    return x.clamp(-1, 1) if x.dim() == 4 else x


def memorisation_setup(ext, train, held):
    """What memorisation needs once per dataset: the extractor's feature network (None in data
    space), the training split's features and the clean held-out points' nearest-training
    distances."""
    from ganbench.evaluation import memorisation as mem

    net = mem.feature_net(ext) if ext is not None else None
    feats = mem.features(ext, train, net=net)
    return net, feats, mem.nn_distances(mem.features(ext, held, net=net), feats)


def measure(name, ds, x, train_ref, ref_u8, ext, n, mem_setup=None):
    from ganbench.evaluation.frechet import frechet_distance, moments

    out = {"frechet_data": frechet_distance(*moments(x.flatten(1).double()),
                                             *moments(train_ref.flatten(1).double()))}
    if ext is not None:
        from ganbench.evaluation import fidelity
        from ganbench.evaluation.extractors.domain_net import to_uint8

        vals = fidelity.calculate(fidelity.tensor_input(to_uint8(x)), len(x),
                                  fidelity.tensor_input(ref_u8), len(ref_u8), ext, cuda=False,
                                  seed=0, isc=False)
        out.update({k: v for k, v in vals.items() if k != "kid_std"})
    if ds.modes is not None:
        from ganbench_plugins.metrics import mode_stats

        out.update(mode_stats(x, ds.modes.centers, ds.modes.std))
    if mem_setup is not None:
        from ganbench.evaluation import memorisation as mem

        net, train_feats, d_held = mem_setup
        out.update(mem.scores(mem.nn_distances(mem.features(ext, x, net=net), train_feats),
                              d_held))
    return out


def ladder(name, n, data_root, log):
    from ganbench import registry as plugins
    from ganbench.evaluation.extractors.domain_net import to_uint8
    from ganbench.evaluation.extractors.select import resolve_extractor
    from ganbench.api.specs import DataRequest

    ds = plugins.load(use_env=False).datasets.get(name)
    kw = dict(data_root=data_root, download=False)
    train = ds.load(DataRequest("train", **kw))
    test = ds.load(DataRequest("test", **kw))
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(train.x), generator=g)
    ref = train.x[perm[:n]]                       # the reference: a train subset
    pool = train.x[perm[n:]] if len(train.x) > 2 * n else train.x[perm[:n]]
    held, held_y = test.x[:n], test.y[:n]
    images = ds.spec.kind == "images"
    ext = resolve_extractor("auto", name) if images else None
    ref_u8 = to_uint8(ref) if images else None
    n_classes = ds.spec.num_classes
    axes = dict(RUNGS)
    if not images:
        axes.pop("blur")
        axes["noise"] = [0.0, 0.02, 0.05, 0.1, 0.2]
    axes["classes"] = sorted({n_classes, *[k for k in (8, 5, 3, 2, 1) if k <= n_classes]},
                             reverse=True)
    mem_setup = memorisation_setup(ext, train.x, held)
    rows = []
    for axis, levels in axes.items():
        for level in levels:
            log(f"{name} {axis} {level}")
            # memorisation copies training points the reference does not hold (pool); for
            # digits, whose train split is small, the pool is the reference itself
            x = degrade(axis, level, held, held_y, pool, torch.Generator().manual_seed(1))
            for metric, value in measure(name, ds, x, ref, ref_u8, ext, n, mem_setup).items():
                rows.append({"dataset": name, "axis": axis, "level": level, "metric": metric,
                             "value": float(value), "n": len(x)})
    return rows


# metric -> higher is better (ganbench's MetricValue directions)
HIB = {"fid": False, "kid": False, "precision": True, "recall": True, "density": True,
       "coverage": True, "frechet_data": False, "modes_covered": True, "high_quality_pct": True,
       "reverse_kl": False, "copy_fraction": False,
       # no better direction when registered (0 is ideal); here lower = closer to the training
       # set than held-out data = more copying, the 'worse' way on the memorise axis
       "data_copying_z": True}
# (kind, axis, metric) that must get worse, monotonically, as the degradation grows
MUST = {("images", "noise", m) for m in ("fid", "kid", "precision", "density", "frechet_data")} \
    | {("images", "blur", m) for m in ("fid", "kid")} \
    | {("images", "classes", m) for m in ("fid", "kid", "recall", "coverage")} \
    | {("images", "shift", m) for m in ("fid", "kid", "frechet_data")} \
    | {(kind, "memorise", m) for kind in ("images", "points")
       for m in ("copy_fraction", "data_copying_z")} \
    | {("points", "noise", "high_quality_pct")} \
    | {("points", "classes", m) for m in ("modes_covered", "reverse_kl", "frechet_data")} \
    | {("points", "shift", m) for m in ("high_quality_pct", "frechet_data")}


def severity(axis, level):
    """Larger is more degraded (fewer classes kept is more degraded)."""
    return -level if axis == "classes" else level


PROPORTIONS = {"precision": 1, "recall": 1, "coverage": 1, "high_quality_pct": 100,
               "copy_fraction": 1}
DISTANCES = ("fid", "kid", "frechet_data", "reverse_kl")


def noise_floor(metric, a, b, clean, n, k=3):
    """How much a metric may move the 'better' way between two rungs by sampling alone: two
    binomial standard errors for proportions; 2 for data_copying_z (a z-score); for density
    (a mean of Poisson-like counts / k) two of sqrt(density / (k n)); for distances their
    value between held-out real data and the reference (the distance two real samples already
    have); 0 for modes covered."""
    if metric in PROPORTIONS:
        p = max(a, b) / PROPORTIONS[metric]
        return 2 * PROPORTIONS[metric] * (p * (1 - p) / n) ** 0.5
    if metric == "density":
        return 2 * (max(a, b, 1 / n) / (k * n)) ** 0.5
    if metric in DISTANCES:
        return abs(clean)
    if metric == "data_copying_z":  # about N(0, 1) between exchangeable samples
        return 2.0
    return 0.0


def verdicts(df):
    """One row per dataset x axis x metric: Spearman's rho of 'worse' against severity, the
    values at the mildest and severest rung, and the verdict: 'worse, monotone' (every step
    worse or equal), 'worse, monotone within noise' (no step better by more than
    :func:`noise_floor`), 'worse, not monotone' / 'better ...' / 'no response beyond noise'
    (the severest rung within the noise floor of the clean one) / 'no consistent response'."""
    import math

    from scipy.stats import spearmanr

    out = []
    for (ds, axis, metric), g in df.groupby(["dataset", "axis", "metric"], sort=False):
        g = g.assign(sev=[severity(axis, v) for v in g.level]).sort_values("sev")
        v = g["value"].to_numpy()
        n = int(g["n"].iloc[0])
        sign = -1 if HIB[metric] else 1
        finite = all(math.isfinite(x) for x in v)
        rho = spearmanr(g.sev, sign * v).statistic if finite and v.max() > v.min() \
            else float("nan")
        steps = [(sign * (b - a), noise_floor(metric, a, b, v[0], n))
                 for a, b in zip(v, v[1:])]
        if not finite:
            verdict = "undefined at some rung (NaN)"
        elif abs(v[-1] - v[0]) <= noise_floor(metric, v[0], v[-1], v[0], n) + 1e-12:
            net = sign * (v[-1] - v[0])
            verdict = "no response beyond noise" + (" (net worse)" if net > 0 else
                                                     " (net better)" if net < 0 else "")
        elif all(s >= -1e-12 for s, _ in steps):
            verdict = "worse, monotone"
        elif all(s >= -f - 1e-12 for s, f in steps) and sign * (v[-1] - v[0]) > 0:
            verdict = "worse, monotone within noise"
        elif all(s <= 1e-12 for s, _ in steps):
            verdict = "better, monotone"
        elif all(s <= f + 1e-12 for s, f in steps) and sign * (v[-1] - v[0]) < 0:
            verdict = "better, monotone within noise"
        elif rho >= 0.8:
            verdict = "worse, not monotone"
        elif rho <= -0.8:
            verdict = "better, not monotone"
        else:
            verdict = "no consistent response"
        kind = "images" if ds in IMAGE_SETS else "points"
        out.append({"dataset": ds, "axis": axis, "metric": metric, "mildest": v[0],
                    "severest": v[-1], "rho": rho, "verdict": verdict,
                    "must_worsen": (kind, axis, metric) in MUST})
    return out


IMAGE_SETS = ("mnist", "fashion-mnist", "digits")


def report(csv_path, md_path, png_path, command):
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.read_csv(csv_path)
    vs = verdicts(df)
    from ganbench.evaluation.crosscheck import versions

    used = versions(("torch", "torch-fidelity", "scipy"))
    lines = ["# Metric-validity ladders", "", f"Versions: {used}.", "",
             f"Made by `{command}`; `tests/unit/evaluation/test_crosscheck.py` recomputes the verdicts from "
             "metric-ladders.csv and re-runs a few rungs live (digits, ring8; the memorise "
             "rung in `tests/unit/evaluation/test_memorisation.py`). Held-out real "
             "data (the test split) "
             "degraded along each axis, against a train-split reference of the same size. "
             "`rho`: Spearman's correlation of the metric's *worse* direction with the "
             "degradation; *must* marks the pairs that have to get worse (asserted). "
             "Where a metric does not respond, that is a finding about the metric.", "",
             "| dataset | axis | metric | clean / mildest | severest | rho | verdict | must |",
             "|---|---|---|---|---|---|---|---|"]
    lines[-2:-2] = ["Noise floors (how far a metric may move the 'better' way between rungs by "
                    "sampling alone; `noise_floor` in the script): two binomial standard errors "
                    "for precision, recall, coverage and % high quality; two of "
                    "sqrt(density / (k n)) for density; for FID, KID, frechet_data and reverse "
                    "KL the value the held-out real data already has against the reference. "
                    "On digits (train split 1,437 < 2n) the memorising generator copies the "
                    "reference images themselves; elsewhere it copies train images outside the "
                    "reference. Memorisation (`copy_fraction`, `data_copying_z`; "
                    "`ganbench.evaluation.memorisation`) measures each point's distance to its "
                    "nearest image of the whole train split against the clean held-out data's; "
                    "`data_copying_z` has no better direction when registered (0 is ideal): it "
                    "is read here as lower = nearer the training set than real data = worse, "
                    "so its 'better' on the other axes means farther from the training set than "
                    "real data (poorer samples), not better ones.", "",
                    "## Which metrics get worse", "",
                    "| dataset | axis | gets worse | does not get worse |", "|---|---|---|---|"]
    for (ds, axis), group in pd.DataFrame(vs).groupby(["dataset", "axis"], sort=False):
        worse = [r.metric for r in group.itertuples() if r.verdict.startswith("worse")]
        other = [f"{r.metric} ({r.verdict})" for r in group.itertuples()
                 if not r.verdict.startswith("worse")]
        lines[-2:-2] = [f"| {ds} | {axis} | {', '.join(worse) or 'none'} | "
                        f"{', '.join(other) or 'none'} |"]
    lines[-2:-2] = ["", "## Every metric on every ladder", ""]
    for r in vs:
        lines.append(f"| {r['dataset']} | {r['axis']} | {r['metric']} | {r['mildest']:.4g} | "
                     f"{r['severest']:.4g} | {r['rho']:.2f} | {r['verdict']} | "
                     f"{'yes' if r['must_worsen'] else ''} |")
    Path(md_path).write_text("\n".join(lines) + "\n")
    axes = list(dict.fromkeys(df.axis))
    metrics = list(dict.fromkeys(df.metric))
    colour = {ds: f"C{i}" for i, ds in enumerate(dict.fromkeys(df.dataset))}
    fig, grid = plt.subplots(len(axes), len(metrics), figsize=(2.2 * len(metrics),
                                                                  2.0 * len(axes)),
                             squeeze=False)
    for i, axis in enumerate(axes):
        for j, metric in enumerate(metrics):
            ax = grid[i][j]
            for ds, g in df[(df.axis == axis) & (df.metric == metric)].groupby("dataset"):
                g = g.assign(sev=[severity(axis, v) for v in g.level]).sort_values("sev")
                ax.plot(g.level, g.value, marker="o", ms=3, label=ds, color=colour[ds])
            if not ax.lines:
                ax.axis("off")
            if axis == "classes":
                ax.invert_xaxis()
            if metric in ("fid", "kid", "frechet_data"):
                ax.set_yscale("symlog", linthresh=1e-2)
            ax.tick_params(labelsize=6)
            if i == 0:
                ax.set_title(metric + (" (0 ideal, < 0 copying)" if metric == "data_copying_z"
                                       else " (higher better)" if HIB[metric]
                                       else " (lower better)"), fontsize=7)
            if j == 0:
                ax.set_ylabel(axis + (" (classes kept)" if axis == "classes" else ""),
                              fontsize=8)
    handles, labels = [], []
    for row in grid:
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(png_path, dpi=90)
    return vs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="mnist,fashion-mnist,digits,ring8,grid25")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    p.add_argument("--report-only", action="store_true", help="redo the .md and .png from "
                   "the CSV")
    a = p.parse_args(argv)
    out = Path(a.out)
    command = ("python benchmarks/metric_ladders.py --datasets " + a.datasets + f" --n {a.n}"
               + (" --data-root DATA_ROOT" if a.data_root else ""))
    if a.report_only:
        report(out / "metric-ladders.csv", out / "metric-ladders.md", out / "metric-ladders.png",
               command)
        return
    rows = []
    for name in a.datasets.split(","):
        rows += ladder(name, a.n, a.data_root, lambda m: print(m, file=sys.stderr))
    out = out / "metric-ladders.csv"
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    report(out, out.with_suffix(".md"), out.with_suffix(".png"), command)
    print(f"{len(rows)} rows -> {out} (.md, .png)")


if __name__ == "__main__":
    main()
