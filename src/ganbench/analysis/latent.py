"""What one does with a trained generator: samples, interpolation, latent vector arithmetic.

The generator is the one a run kept (``ganbench.store.artifacts``), rebuilt through the registries.
Everything runs on the CPU in eval mode under ``torch.no_grad()``.

* :func:`sample` — by default the run's evaluation noise (the same latents and labels as every
  evaluation picture): the picture of the kept generator's evaluation point, reproduced. With a
  seed, fresh latents. A class: asked of a conditional G, or, for an unconditional G on a dataset
  with a shipped classifier, the samples the classifier assigns to that class.
* :func:`interpolate` — pairs of random latents; for each pair a row of linear interpolation
  and a row of spherical interpolation (slerp, White 2016: the path stays at the typical norm
  of a Gaussian latent, where linear paths pass through the low-norm middle).
* :func:`arithmetic` — Radford et al. 2015's vector arithmetic, for data whose concepts are
  classes: for each class of an expression such as ``7-1+4``, the mean latent of the K samples
  the shipped classifier is most confident are of that class (averaging exemplars, as the
  paper does, gives stable directions where single latents do not); the signed sum is decoded
  (plus copies with uniform noise of ±jitter, as in the paper) and classified.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

from ganbench.api.errors import UsageError

BATCH = 1000  # the batch EvalContext.samples uses: same batches, bitwise the same outputs
MAX_SAMPLES = 100_000  # samples one command draws (sample --n, interpolate, arithmetic --pool)
MAX_DECODE_BYTES = 2 * 2**30  # the latents, or the samples, of one command (float32)


@dataclass
class Kept:
    """A run's kept generator, ready to use."""

    run_file: Path
    meta: dict[str, Any]
    record: dict[str, Any]
    generator: Any  # torch.nn.Module, CPU, eval mode
    dataset: Any  # a DatasetSpec-like object: .name, .spec, .modes
    extra: dict[str, Any] = field(default_factory=dict)
    sampler: Any = None  # the run's latent sampler (--latent); None: z ~ N(0, I)

    @property
    def kind(self) -> str:
        return self.record["data_spec"]["kind"]

    @property
    def num_classes(self) -> int:
        return int(self.record["data_spec"]["num_classes"])

    @property
    def conditional(self) -> bool:
        return bool(self.record["conditional"])

    @property
    def z_dim(self) -> int:
        return int(self.record["z_dim"])


def resolve_run(run: str, results_dir: Optional[str]) -> Path:
    """The run file named by ``run``: a path, or a run id inside ``results_dir``."""
    from ganbench.store.results import run_path

    p = Path(run)
    if p.is_dir():
        raise UsageError(f"'{run}' is a directory: give a run file (RUN_ID.json), or a run id "
                         "with --results DIR")
    if p.exists():
        return p
    if results_dir is not None:
        if not Path(results_dir).is_dir():
            raise UsageError(f"no results directory '{results_dir}'")
        f = run_path(results_dir, run[:-5] if run.endswith(".json") else run)
        if not f.exists():
            raise UsageError(f"no run '{run}' in '{results_dir}' (ganbench results "
                             f"{results_dir} --long --json lists its run ids)")
        return f
    raise UsageError(f"no run file '{run}' (give a run file, or a run id with --results DIR)")


def open_run(run: str, results_dir: Optional[str], reg, step: Optional[int] = None) -> Kept:
    """Load the generator ``run`` kept (its final one, or the one of evaluation ``step`` when
    the run kept one per evaluation point)."""
    from ganbench.store import artifacts
    from ganbench.store import results
    from ganbench.api.specs import DataSpec

    path = resolve_run(run, results_dir)
    try:
        meta = results.read_run(path)["meta"]
    except ValueError as exc:
        raise UsageError(f"'{path}' is not a ganbench run file: {exc}") from None
    if meta.get("status") == "calibration":
        raise UsageError(f"'{path}' is a calibration row ({meta['variant']}): it has no "
                         "generator")
    gdir = artifacts.run_dir(path.parent, meta["run_id"])
    gfile = gdir / artifacts.generator_name(step)
    final = gdir / artifacts.generator_name(None)
    if step is not None and not gfile.exists():
        # the final generator is the one of the last evaluation point: --step of that point
        # names it too (a run kept with --keep-generators final has only that file)
        final_step = _final_step(final)
        if final_step == step:
            gfile = final
        else:
            kept = sorted(s for s in (artifacts.step_of(p.name)
                                      for p in gdir.glob("generator-*")) if s is not None) \
                if gdir.is_dir() else []
            have = ", ".join(map(str, kept))
            if final_step is not None and final_step not in kept:
                have = (f"{have}, " if have else "") + f"{final_step} (the final generator)"
            if not kept:
                have = (have or "none") + "; train with --keep-generators all for every step"
            raise UsageError(f"run {meta['run_id']} kept no generator of step {step} (kept: "
                             f"{have})")
    record, state = artifacts.read_generator(gfile)
    if record.get("run_id") != meta["run_id"]:
        raise UsageError(f"'{gfile}' belongs to run {record.get('run_id')!r}, not "
                         f"{meta['run_id']!r}")
    g = artifacts.build_generator(record, state, reg, gfile)
    spec = DataSpec(record["data_spec"]["kind"], tuple(record["data_spec"]["shape"]),
                    int(record["data_spec"]["num_classes"]))
    name = record["dataset"]
    modes = reg.datasets.get(name).modes if name in reg.datasets else None
    ds = SimpleNamespace(name=name, spec=spec, modes=modes)
    return Kept(path, meta, record, g, ds, sampler=run_sampler(meta, record, spec, reg))


def run_sampler(meta: dict, record: dict, data_spec, reg):
    """The latent sampler the run trained and evaluated with (its ``--latent``, recorded in the
    run's config), so that pictures draw G's input as training did: InfoGAN's codes beside z,
    not Gaussian noise in their place. None for plain z ~ N(0, I)."""
    text = (meta.get("config") or {}).get("latent")
    if not text:
        return None
    from ganbench.planning.terms import parse_latent

    t = parse_latent(reg, text)
    return t.spec.build(int(record["z_dim"]), data_spec, **dict(t.options))


def _final_step(path: Path) -> Optional[int]:
    """The evaluation step of the final generator file ``path`` (None when there is none or
    it cannot be read: opening it says why)."""
    from ganbench.store import artifacts

    if not path.is_file() or path.is_symlink():
        return None
    try:
        record, _ = artifacts.read_generator(path)
    except UsageError:
        return None
    return int(record["step"])


# ---------------------------------------------------------------------------------- decoding


def decode(kept: Kept, z, y=None):
    """G(z[, y]) in batches of :data:`BATCH`, float32."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(z), BATCH):
            args = (z[i:i + BATCH],) if y is None else (z[i:i + BATCH], y[i:i + BATCH])
            out.append(kept.generator(*args).float())
    return torch.cat(out) if out else torch.empty(0)


def evaluation_samples(kept: Kept):
    """``(samples, labels, z)`` of the run's fixed evaluation noise, computed exactly as the
    evaluation computed them (``EvalContext.samples``)."""
    import torch

    from ganbench.api.evalspec import EvalContext, EvalSpec

    spec = EvalSpec(**kept.record["eval_spec"])
    check_size(kept, spec.n_samples, "the run's evaluation noise", limit=None)
    job = SimpleNamespace(hparams=SimpleNamespace(z_dim=kept.z_dim))
    ctx = EvalContext(job=job, dataset=kept.dataset, data=None, generator=kept.generator,
                      conditional=kept.conditional, device=torch.device("cpu"), eval_spec=spec,
                      step=int(kept.record["step"]), images_seen=0, wall_s=0.0,
                      sampler=kept.sampler)
    samples = ctx.samples(BATCH)
    return samples, ctx.labels(), ctx.cache["eval_z"]


def _check_class(kept: Kept, cls: Optional[int]) -> None:
    if cls is None:
        return
    if kept.num_classes < 1:
        raise UsageError(f"--class: dataset '{kept.dataset.name}' has no classes")
    if not 0 <= cls < kept.num_classes:
        raise UsageError(f"--class {cls} is out of range: '{kept.dataset.name}' has classes "
                         f"0-{kept.num_classes - 1}")


def check_size(kept: Kept, n: int, what: str, limit: Optional[int] = MAX_SAMPLES) -> None:
    """UsageError, before anything is allocated, when ``n`` samples are more than ``limit``
    or their latents or outputs (float32) more than :data:`MAX_DECODE_BYTES`."""
    if limit is not None and n > limit:
        raise UsageError(f"{what}: {n} samples asked for; at most {limit}")
    need = n * max(kept.z_dim, math.prod(kept.dataset.spec.shape)) * 4
    if need > MAX_DECODE_BYTES:
        raise UsageError(f"{what}: {n} samples of this generator (z_dim {kept.z_dim}, data "
                         f"shape {list(kept.dataset.spec.shape)}) would take "
                         f"{need / 2**30:.1f} GiB; at most {MAX_DECODE_BYTES >> 30} GiB")


def _generator(seed: int):
    """A torch generator seeded with ``seed`` (UsageError for a seed torch cannot take)."""
    import torch

    from ganbench.planning.validate import MAX_SEED

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def _seeded_z(kept: Kept, n: int, seed: int):
    import torch

    check_size(kept, n, "latents")
    return draw(kept, n, _generator(seed))


def draw(kept: Kept, n: int, g):
    """``n`` inputs of the run's G from the torch generator ``g``: through the run's latent
    sampler when it has one, else z ~ N(0, I)."""
    import torch

    if kept.sampler is not None:
        return kept.sampler(n, g, "cpu").input
    return torch.randn(n, kept.z_dim, generator=g)


def picture(kept: Kept, samples, labels=None, n: Optional[int] = None, by_class: bool = True):
    from ganbench.store import pictures

    if kept.kind != "images":
        win = kept.record.get("window") or pictures.window(kept.dataset.modes, samples)
        return pictures.scatter(samples, win, kept.dataset.modes)
    if labels is not None and by_class and kept.num_classes:
        cols = pictures.GRID_COLUMNS if n is None else max(1, math.ceil(n / kept.num_classes))
        return pictures.image_grid(samples, kept.num_classes, cols,
                                   pictures.class_cells(labels, kept.num_classes, cols))
    return pictures.eval_picture(samples, None, kind="images",
                                 n=pictures.GRID_ROWS * pictures.GRID_COLUMNS if n is None else n)


def sample(kept: Kept, n: Optional[int] = None, cls: Optional[int] = None,
           seed: Optional[int] = None, warn=lambda msg: None):
    """``(picture, layout, samples)`` — see the module docstring."""
    import torch

    _check_class(kept, cls)
    if n is not None and n < 1:
        raise UsageError("--n must be a positive number of samples")
    if n is not None:
        check_size(kept, n, "--n")
    if cls is not None and not kept.conditional:
        return _sample_classified(kept, n or 64, cls, seed, warn)
    if seed is None:
        samples, labels, z = evaluation_samples(kept)
        if n is not None and n > len(samples):
            raise UsageError(f"--n {n}: the run's evaluation noise has {len(samples)} latents; "
                             "give --seed S to draw more")
        if cls is not None:  # conditional: the evaluation latents, all asked for class cls
            k = n or 64
            labels = torch.full((k,), cls, dtype=torch.long)
            samples = decode(kept, z[:k], labels)
            return (*picture(kept, samples, None, k), samples)
        if kept.kind != "images":
            samples = samples if n is None else samples[:n]
            return (*picture(kept, samples), samples)
        if labels is not None and n is not None:
            samples, labels = samples[:n * kept.num_classes], labels[:n * kept.num_classes]
        return (*picture(kept, samples, labels, n), samples)
    k = n or (64 if kept.kind == "images" else
              min(kept.record["eval_spec"]["n_samples"], MAX_SAMPLES))
    z = _seeded_z(kept, k, seed)
    labels = None
    if kept.conditional:
        labels = (torch.full((k,), cls, dtype=torch.long) if cls is not None
                  else torch.arange(k) % kept.num_classes)
    samples = decode(kept, z, labels)
    by_class = cls is None
    if labels is not None and by_class and kept.kind == "images":
        return (*picture(kept, samples, labels, k), samples)
    return (*picture(kept, samples, None, k), samples)


# ------------------------------------------------------------------------- the classifier


def classifier(kept: Kept):
    """The shipped domain classifier of the run's dataset, or a UsageError saying why none."""
    from ganbench.evaluation.extractors import domain

    if kept.kind != "images":
        raise UsageError(f"'{kept.dataset.name}' holds points, not images: there is no "
                         "classifier to name the classes of samples")
    if kept.dataset.name not in domain.shipped():
        raise UsageError(f"no shipped classifier for '{kept.dataset.name}' (shipped: "
                         f"{', '.join(domain.shipped())}; train one with ganbench "
                         "train-extractor)")
    return domain.load_net(kept.dataset.name)


def class_probabilities(net, x):
    """Softmax class probabilities of images in [-1, 1] (through the uint8 path metrics use)."""
    import torch

    from ganbench.evaluation.extractors.domain_net import from_uint8, to_uint8

    out = []
    with torch.no_grad():
        for i in range(0, len(x), 2000):
            u = to_uint8(x[i:i + 2000])
            out.append(torch.softmax(net(from_uint8(u, net.arch["channels"],
                                                    net.arch["size"]))[1], 1))
    return torch.cat(out)


def _sample_classified(kept: Kept, n: int, cls: int, seed: Optional[int], warn):
    net = classifier(kept)
    if seed is None:
        pool, _, _ = evaluation_samples(kept)
        where = "of the evaluation noise's"
    else:
        pool = decode(kept, _seeded_z(kept, min(max(20 * n, 2000), MAX_SAMPLES), seed))
        where = f"of {len(pool)} seeded"
    pred = class_probabilities(net, pool).argmax(1)
    idx = (pred == cls).nonzero().flatten()[:n]
    if len(idx) == 0:
        raise UsageError(f"none {where} {len(pool)} samples is classified as {cls}: this "
                         "generator does not draw class " f"{cls}")
    if len(idx) < n:
        warn(f"only {len(idx)} {where} {len(pool)} samples are classified as {cls}")
    samples = pool[idx]
    return (*picture(kept, samples, None, len(samples)), samples)


# ------------------------------------------------------------------------------ interpolation


def slerp(z0, z1, t):
    """Spherical interpolation between latents ``z0`` and ``z1`` (1-D) at fractions ``t``;
    linear where they are (anti)parallel. The endpoints are exactly z0 and z1."""
    import torch

    a, b = z0 / z0.norm(), z1 / z1.norm()
    omega = torch.arccos((a * b).sum().clamp(-1, 1))
    so = torch.sin(omega)
    t = t[:, None]
    if so.abs() < 1e-6:
        path = (1 - t) * z0 + t * z1
    else:
        path = torch.sin((1 - t) * omega) / so * z0 + torch.sin(t * omega) / so * z1
    path[0], path[-1] = z0, z1
    return path


def lerp(z0, z1, t):
    t = t[:, None]
    path = (1 - t) * z0 + t * z1
    path[0], path[-1] = z0, z1
    return path


def interpolate(kept: Kept, pairs: int = 4, steps: Optional[int] = None, seed: int = 0,
                cls: Optional[int] = None):
    """``(picture, layout, z, samples)``: ``z`` is ``(2 * pairs, steps, z_dim)``, rows
    alternating linear and spherical paths between the same two latents."""
    import torch

    from ganbench.store import pictures

    _check_class(kept, cls)
    if cls is not None and not kept.conditional:
        raise UsageError("--class with interpolate needs a conditional generator")
    if pairs < 1:
        raise UsageError("--pairs must be at least 1")
    if steps is None:
        steps = 10 if kept.kind == "images" else 64
    if steps < 2:
        raise UsageError("--steps must be at least 2 (the two endpoints)")
    check_size(kept, 2 * pairs * steps, f"--pairs {pairs} x --steps {steps} (x2: linear, "
               "spherical)")
    ends = _seeded_z(kept, 2 * pairs, seed)
    t = torch.linspace(0, 1, steps)
    rows = []
    for p in range(pairs):
        z0, z1 = ends[2 * p], ends[2 * p + 1]
        rows += [lerp(z0, z1, t), slerp(z0, z1, t)]
    z = torch.stack(rows)
    flat = z.reshape(-1, kept.z_dim)
    y = None
    if kept.conditional:
        per_row = [cls if cls is not None else (r // 2) % kept.num_classes
                   for r in range(len(rows))]
        y = torch.tensor(per_row).repeat_interleave(steps)
    samples = decode(kept, flat, y)
    if kept.kind == "images":
        pic, layout = pictures.image_grid(samples, len(rows), steps)
        labels = [f"pair {r // 2 + 1} {'spherical' if r % 2 else 'linear'}"
                  + (f", class {per_row[r]}" if y is not None else "")
                  for r in range(len(rows))]
        pic, layout = pictures.annotate(pic, layout, row_labels=labels, title=(
            f"interpolation from the left latent to the right one, {steps} steps: linear "
            "(lerp) and spherical (slerp) per pair"))
    else:
        win = kept.record.get("window") or pictures.window(kept.dataset.modes, samples)
        pic, layout = pictures.paths(samples.reshape(len(rows), steps, -1), win,
                                     kept.dataset.modes, pairs=pairs)
    layout.update(rows_are="linear, spherical for each pair of latents", seed=seed)
    return pic, layout, z, samples


# ------------------------------------------------------------------------------ arithmetic

_EXPR = re.compile(r"^\s*(\d{1,9})((?:\s*[+-]\s*\d{1,9})+)\s*$")
MAX_TERMS = 64  # each term is a row of the picture and decodes its own mean latent
ARITHMETIC_CELL = 56  # pixels per cell at least: room for its caption under it


def parse_expression(expr: str, num_classes: int) -> list[tuple[int, int]]:
    """``"7-1+4"`` -> ``[(+1, 7), (-1, 1), (+1, 4)]``; UsageError for anything else."""
    m = _EXPR.match(expr or "")
    shown = repr(expr[:40] + "..." if len(expr or "") > 40 else expr)
    if not m:
        raise UsageError(f"arithmetic expression {shown} is not like 7-1+4 (classes joined "
                         "by + and -, at least two terms)")
    terms = [(1, int(m.group(1)))] + [(1 if s == "+" else -1, int(c)) for s, c in
                                      re.findall(r"([+-])\s*(\d+)", m.group(2))]
    if len(terms) > MAX_TERMS:
        raise UsageError(f"arithmetic expression {shown} has {len(terms)} terms; at most "
                         f"{MAX_TERMS}")
    for _, c in terms:
        if not 0 <= c < num_classes:
            raise UsageError(f"class {c} in {shown} is out of range: classes are "
                             f"0-{num_classes - 1}")
    return terms


def arithmetic(kept: Kept, expr: str, exemplars: int = 3, pool: int = 2000, seed: int = 0,
               jitter: float = 0.25, results: int = 8) -> dict[str, Any]:
    """Latent arithmetic over class means; see the module docstring. Returns a dict with the
    picture (``picture``, ``layout``), and per term and for the result what the classifier
    says."""
    import torch

    from ganbench.store import pictures

    if exemplars < 1 or pool < exemplars or results < 1:
        raise UsageError("--exemplars, --pool and --count must be positive, with "
                         "--pool >= --exemplars")
    if not (math.isfinite(jitter) and jitter >= 0):
        raise UsageError(f"--jitter must be a finite number >= 0, got {jitter}")
    check_size(kept, pool, "--pool")
    check_size(kept, results, "--count")
    if kept.kind != "images":
        raise UsageError(f"arithmetic needs image data with a classifier; "
                         f"'{kept.dataset.name}' holds points")
    if kept.conditional:
        raise UsageError("arithmetic needs an unconditional generator: a conditional G gets "
                         "the class as an input, so its latents hold no class to average")
    net = classifier(kept)
    terms = parse_expression(expr, kept.num_classes)
    g = _generator(seed)
    z = draw(kept, pool, g)
    x = decode(kept, z)
    prob = class_probabilities(net, x)
    conf, pred = prob.max(1)
    means, shown, report_terms = {}, [], []
    for sign, c in terms:
        if c not in means:
            idx = (pred == c).nonzero().flatten()
            if len(idx) < exemplars:
                raise UsageError(f"only {len(idx)} of {pool} samples are classified as {c} "
                                 f"(need {exemplars}): the generator rarely draws class {c}; "
                                 "try a larger --pool")
            best = idx[conf[idx].argsort(descending=True)[:exemplars]]
            means[c] = (z[best].mean(0), best)
        zc, best = means[c]
        xm = decode(kept, zc[None])
        pm = class_probabilities(net, xm)[0]
        report_terms.append({"sign": "+" if sign > 0 else "-", "class": c,
                             "exemplar_confidence": [round(float(conf[i]), 4) for i in best],
                             "mean_decodes_as": int(pm.argmax()),
                             "mean_confidence": round(float(pm.max()), 4)})
        shown.append((x[best], xm))
    zr = sum(s * means[c][0] for s, c in terms)
    noise = (torch.rand(results - 1, kept.z_dim, generator=g) * 2 - 1) * jitter
    zs = torch.cat([zr[None], zr[None] + noise])
    xr = decode(kept, zs)
    pr = class_probabilities(net, xr)
    rc, rp = pr.max(1)
    counts: dict[int, int] = {}
    for k in rp.tolist():
        counts[k] = counts.get(k, 0) + 1
    cols = max(exemplars + 1, results)
    cells, imgs, captions = [], [], []
    for (ex, xm), t in zip(shown, report_terms):  # a row per term: its exemplars, then
        start = len(imgs)                          # their mean latent decoded
        imgs += list(ex) + [xm[0]]
        row = list(range(start, start + len(ex))) + [None] * (cols - len(ex) - 1) + \
            [start + len(ex)]
        cells += row
        captions += ([f"{t['class']} {p:.2f}" for p in t["exemplar_confidence"]]
                     + [None] * (cols - len(ex) - 1)
                     + [f"mean: {t['mean_decodes_as']} {t['mean_confidence']:.2f}"])
    start = len(imgs)
    imgs += list(xr)
    cells += list(range(start, start + len(xr))) + [None] * (cols - len(xr))
    captions += [f"{int(k)} {float(p):.2f}" for k, p in zip(rp, rc)] + \
        [None] * (cols - len(xr))
    pic, layout = pictures.image_grid(torch.stack(imgs), len(shown) + 1, cols, cells,
                                      min_cell=ARITHMETIC_CELL)
    # ASCII operators: Pillow's default font has no U+2212 minus sign
    labels = [f"{'+' if sign > 0 else '-'} {c}" if i or sign < 0 else f"{c}"
              for i, (sign, c) in enumerate(terms)] + ["="]
    pic, layout = pictures.annotate(
        pic, layout, row_labels=labels, captions=captions,
        title=" ".join(labels[:-1]) + " = ?   (under each picture: the class the "
              "classifier gives it, and its probability)")
    layout.update(expression=expr, rows_are="per term: exemplars ... mean latent decoded "
                  "(last column); last row: the result, then with jitter")
    return {
        "expression": expr, "terms": report_terms, "pool": pool, "seed": seed,
        "jitter": jitter, "result_decodes_as": int(rp[0]),
        "result_confidence": round(float(rc[0]), 4),
        "result_classes": {str(k): v for k, v in sorted(counts.items())},
        "picture": pic, "layout": layout, "z": zs, "samples": xr,
    }
