"""Conformance checks for plugin authors: ``ganbench check-plugin NAME`` and, in a test suite,
``ganbench.devkit.testing.check_plugin(NAME)``.

Every object a plugin registered is checked the way ganbench will use it:

* **models**: G and D build on the first embedded dataset they fit (``ring8``, ``grid25``,
  ``gaussian`` for points, ``digits`` for images; a conditional model needs labels), G(z)
  has the data's shape, D returns one adversarial output per sample (and a tuple with
  auxiliary outputs when the model declares them);
* **datasets**: an embedded dataset loads; its tensors match its declared ``DataSpec``
  (float32 ``x`` of the declared shape, int64 labels in range);
* **losses, regularisers, step hooks**: a few training steps with them (each on the first
  variant that uses it, else on the ``mlp`` model with ``non-saturating`` on ``ring8``) give
  finite losses;
* **variants**: a few training steps on the first embedded dataset their model fits, with
  finite training statistics, and the same numbers twice from the same seed (deterministic);
* **resume**: for variants, and for losses, regularisers and step hooks (where they may own
  per-run state), a run killed after its first checkpoint and resumed ends with the rows of an
  uninterrupted one (state that is not saved, or saved and not restored, shows here);
* **augmentations, latent samplers**: a few training steps with them, finite, resuming
  exactly;
* **suites**: every entry names a registered variant and dataset.

A check returns :class:`Finding` records; ``assert_plugin_conforms(NAME)`` raises with every
failure listed, for a plugin's own tests.
"""

from __future__ import annotations

import dataclasses
import math
import traceback
from dataclasses import dataclass
from typing import Any, Optional

from ganbench.api.errors import UsageError

EMBEDDED = ("ring8", "grid25", "gaussian", "digits")
STEPS = 3


@dataclass(frozen=True)
class Finding:
    kind: str  # models, losses, ...
    name: str
    check: str
    ok: bool
    detail: str = ""


def owned(reg, plugin: str) -> dict[str, list[str]]:
    """kind -> names of the objects ``plugin`` (entry-point or distribution name) registered."""
    infos = [p for p in reg.plugins if plugin in (p.name, p.distribution)]
    if not infos:
        known = sorted({p.name for p in reg.plugins}
                       | {p.distribution for p in reg.plugins if p.distribution})
        raise UsageError(f"no loaded plugin named '{plugin}' (loaded: {', '.join(known)})")
    names = {p.name for p in infos}
    out: dict[str, list[str]] = {}
    for kind in ("models", "datasets", "losses", "regularizers", "step_hooks", "variants",
                 "metrics", "suites", "augmentations", "latent_samplers"):
        registry = getattr(reg, kind)
        out[kind] = [n for n in registry.names() if registry.owner(n) in names]
    return out


def check_plugin(plugin: str, reg=None, *, steps: int = STEPS) -> list[Finding]:
    """Run every conformance check on what ``plugin`` registered."""
    from ganbench import registry as plugins

    reg = reg or plugins.registries()
    objects = owned(reg, plugin)
    findings: list[Finding] = []

    def run(kind, name, check, fn) -> Any:
        try:
            result = fn()
        except Exception as exc:  # a conformance failure, reported, never raised
            detail = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
            tb = traceback.extract_tb(exc.__traceback__)
            if tb:
                detail += f" ({tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})"
            findings.append(Finding(kind, name, check, False, detail))
            return None
        findings.append(Finding(kind, name, check, True, result if isinstance(result, str)
                                else ""))
        return result

    for name in objects["datasets"]:
        run("datasets", name, "loads as declared", lambda n=name: _check_dataset(reg, n))
    for name in objects["models"]:
        run("models", name, "builds; G(z) and D(x) shapes", lambda n=name: _check_model(reg, n))
    for kind in ("losses", "regularizers", "step_hooks", "augmentations", "latent_samplers"):
        for name in objects[kind]:
            run(kind, name, f"{steps} training steps, finite losses, resumes exactly",
                lambda k=kind, n=name: _train_with(reg, steps, **{_TERM[k]: n}))
    for name in objects["variants"]:
        run("variants", name, f"{steps} training steps, finite, deterministic, resumes exactly",
            lambda n=name: _check_variant(reg, n, steps))
    for name in objects["suites"]:
        run("suites", name, "entries name registered objects",
            lambda n=name: _check_suite(reg, n))
    for name in objects["metrics"]:
        run("metrics", name, "well formed", lambda n=name: _check_metric(reg, n))
    if not findings:
        findings.append(Finding("plugin", plugin, "registers something", False,
                                "the plugin registered no object"))
    return findings


def assert_plugin_conforms(plugin: str, reg=None, *, steps: int = STEPS) -> list[Finding]:
    """:func:`check_plugin`, raising ``AssertionError`` that lists every failed check."""
    findings = check_plugin(plugin, reg, steps=steps)
    bad = [f for f in findings if not f.ok]
    if bad:
        raise AssertionError("plugin '{}' fails {} check(s):\n{}".format(
            plugin, len(bad), "\n".join(f"  {f.kind} {f.name}: {f.check}: {f.detail}"
                                        for f in bad)))
    return findings


def format_findings(findings: list[Finding]) -> str:
    rows = [("result", "kind", "name", "check", "detail")]
    rows += [("ok" if f.ok else "FAIL", f.kind, f.name, f.check, f.detail) for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4]
                     for r in rows).rstrip()


# ----------------------------------------------------------------------------- the checks

def _fitting_dataset(reg, model_name: str) -> str:
    """The first embedded dataset the model fits, with the automatic resize a run would add
    (digits at 32 x 32 for the 32 x 32 nets)."""
    from ganbench.data.imaging import fit_options

    model = reg.models.get(model_name)
    for ds in EMBEDDED:
        if ds in reg.datasets and fit_options(model, reg.datasets.get(ds).spec, {}, ds)[1] is None:
            return ds
    raise AssertionError(f"model '{model_name}' fits none of the embedded datasets "
                         f"{', '.join(EMBEDDED)}")


def _check_dataset(reg, name: str) -> str:
    import torch

    from ganbench.api.specs import DataRequest

    spec = reg.datasets.get(name)
    if spec.source != "embedded":
        return "needs files: not loaded (checked at run time)"
    data = spec.load(DataRequest(split="train", download=False))
    assert data.x.dtype == torch.float32, f"x is {data.x.dtype}, not float32"
    assert tuple(data.x.shape[1:]) == tuple(spec.spec.shape), \
        f"x has shape {tuple(data.x.shape[1:])} per sample, the spec says {spec.spec.shape}"
    assert torch.isfinite(data.x).all(), "x has non-finite values"
    if spec.spec.num_classes:
        assert data.y is not None, "labelled spec but no labels"
        assert data.y.dtype == torch.int64 and len(data.y) == len(data.x)
        assert 0 <= int(data.y.min()) and int(data.y.max()) < spec.spec.num_classes, \
            "labels out of range"
    return f"{len(data.x)} samples"


def _check_model(reg, name: str) -> str:
    import torch

    from ganbench.data.imaging import apply_options, fit_options
    from ganbench.api.specs import DataRequest

    model = reg.models.get(name)
    ds = _fitting_dataset(reg, name)
    data = reg.datasets.get(ds).load(DataRequest(split="train", download=False))
    data = apply_options(data, fit_options(model, data.spec, {}, ds)[0])
    torch.manual_seed(0)
    z_dim = 8
    g, d = model.build(data.spec, z_dim)
    n = 4
    z = torch.randn(n, z_dim)
    y = data.y[:n] if model.conditional else None
    x = g(z, y) if model.conditional else g(z)
    assert tuple(x.shape) == (n, *data.spec.shape), \
        f"G(z) has shape {tuple(x.shape)}, expected {(n, *data.spec.shape)}"
    out = d(x, y) if model.conditional else d(x)
    if getattr(model, "aux_outputs", False):
        assert isinstance(out, tuple) and len(out) >= 2, \
            "a model with aux_outputs must return (out, aux, ...)"
        out = out[0]
    assert tuple(out.shape) == (n,), f"D(x) has shape {tuple(out.shape)}, expected ({n},)"
    return f"on {ds}"


def _job(reg, steps: int, *, variant=None, model=None, loss=None, dataset=None, **changes):
    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import plan

    model_name = model or (reg.variants.get(variant).model if variant else "mlp")
    ds = dataset or _fitting_dataset(reg, model_name)
    kw = {"variants": [variant]} if variant else {"model": model_name, "loss": loss}
    (job,) = plan(reg, datasets=[ds], budget=Budget.parse(f"{steps}steps"), seeds=[0], **kw)
    return dataclasses.replace(job, evals=1, eval_samples=200, metrics=("training",),
                               **changes)


def _train(reg, job):
    from ganbench.training import runner

    res = runner.train(job, reg, device="cpu", download=False)
    last = max(r["step"] for r in res.rows)
    stats = {r["metric"]: r["value"] for r in res.rows if r["step"] == last}
    bad = {k: v for k, v in stats.items() if not math.isfinite(v)}
    assert res.status == "completed" and not bad, f"non-finite training statistics {bad}"
    return res, stats


_TERM = {"losses": "loss", "regularizers": "regularizer", "step_hooks": "hook",
         "augmentations": "augment", "latent_samplers": "latent"}


def _uses(v, loss=None, regularizer=None, hook=None, augment=None, latent=None) -> bool:
    def named(texts, name):
        return bool(name) and any(t.split(":")[0] == name for t in texts)

    return bool((loss and v.loss == loss) or named(v.regularizers, regularizer)
                or named(v.step_hooks, hook) or named([v.augment] if v.augment else [], augment)
                or named([v.latent] if v.latent else [], latent))


def _train_with(reg, steps, **term) -> str:
    users = [v for v in reg.variants if _uses(v, **term)]
    if users:
        job = _job(reg, steps, variant=users[0].name)
        where = f"in variant {users[0].name} on {job.dataset}"
    else:
        from ganbench.planning.terms import parse_augment, parse_hook, parse_latent, parse_reg

        images = term.get("augment") is not None  # augmentations transform images
        base = _job(reg, steps, model="dcgan" if images else "mlp",
                    loss=term.get("loss") or "non-saturating",
                    dataset="digits" if images else "ring8")
        changes: dict[str, Any] = {}
        for key, field, parse in (("regularizer", "regularizers", parse_reg),
                                  ("hook", "step_hooks", parse_hook)):
            if term.get(key):
                changes[field] = (parse(reg, term[key]).text(),)
        for key, parse in (("augment", parse_augment), ("latent", parse_latent)):
            if term.get(key):
                changes[key] = parse(reg, term[key]).text()
        if images:
            changes["hparams"] = dataclasses.replace(base.hparams, batch_size=8)
        job = dataclasses.replace(base, **changes)
        where = f"with {job.model} + {job.loss} on {job.dataset}"
    job = _two_intervals(job)
    straight, stats = _train(reg, job)
    _check_resume(reg, job, straight)
    return f"{where}: d_loss {stats.get('d_loss', float('nan')):.4g}"


def _check_variant(reg, name: str, steps: int) -> str:
    job = _two_intervals(_job(reg, steps, variant=name))
    a, stats = _train(reg, job)
    b, _ = _train(reg, job)
    assert _key(a.rows) == _key(b.rows), \
        "two runs from the same seed gave different numbers (not deterministic)"
    _check_resume(reg, job, a)
    return f"on {job.dataset}: d_loss {stats.get('d_loss', float('nan')):.4g}"


def _two_intervals(job):
    """``job`` trained for twice its steps with an evaluation (and a checkpoint) half-way."""
    from ganbench.planning.budget import Budget

    steps = max(1, int(job.budget.amount) if job.budget.kind == "steps" else STEPS)
    return dataclasses.replace(job, budget=Budget.parse(f"{2 * steps}steps"), evals=2)


def _key(rows) -> list:
    from ganbench.store.results import MACHINE_METRICS

    return [(r["step"], r["metric"], repr(r["value"])) for r in rows
            if r["metric"] not in MACHINE_METRICS]


class _Killed(Exception):
    pass


def _check_resume(reg, job, straight) -> None:
    """``job`` (two evaluation intervals, ``straight`` its uninterrupted result) killed right
    after its half-way checkpoint and resumed: the same rows (every term's per-run state
    saved and restored)."""
    import tempfile
    from pathlib import Path

    from ganbench.training import runner
    from ganbench.training.checkpoint import Checkpointer

    class KillAfterSave(Checkpointer):
        def save(self, *a, **kw):
            super().save(*a, **kw)
            raise _Killed

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.ckpt"
        try:
            runner.train(job, reg, device="cpu", download=False,
                         checkpoint=KillAfterSave(path, job.run_id))
        except _Killed:
            pass
        resumed = runner.train(job, reg, device="cpu", download=False,
                               checkpoint=Checkpointer(path, job.run_id))
    assert resumed.info["resumed_from_step"], "the run did not resume from its checkpoint"
    assert _key(resumed.rows) == _key(straight.rows), (
        "a run killed and resumed from its checkpoint ended with other numbers than an "
        "uninterrupted one: some per-run state is not saved and restored (give it "
        "state_dict/load_state_dict, see docs/plugin-api.md)")


def _check_suite(reg, name: str) -> Optional[str]:
    entries = reg.suites.get(name).resolve(reg)
    assert entries, "the suite has no entries"
    for e in entries:
        assert e.variant in reg.variants, f"entry names unknown variant '{e.variant}'"
        assert e.dataset in reg.datasets, f"entry names unknown dataset '{e.dataset}'"
    return f"{len(entries)} entries"


def _check_metric(reg, name: str) -> Optional[str]:
    m = reg.metrics.get(name)
    assert callable(m.compute), "compute is not callable"
    assert m.applies is None or callable(m.applies), "applies is not callable"
    return None
