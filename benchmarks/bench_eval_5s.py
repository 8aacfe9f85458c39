"""The 5-second evaluation (issue 28 §4): one 10,000-sample evaluation of an MLP generator on
MNIST, as the runner does it at each evaluation point of a run, against torch-fidelity's own
call on the same samples.

Run idle (it measures wall-clock seconds on two cores)::

    OMP_NUM_THREADS=2 python -m pytest -q -s benchmarks/bench_eval_5s.py

(add ``--benchmark-json FILE`` to keep the figures). Needs MNIST under ``GANBENCH_DATA_ROOT``
(or ``tests``' default data root); skipped without it.

What is timed, per round:

* **ganbench**: a fresh ``EvalContext`` of a run in progress (its per-run cache and the on-disk
  reference cache warm, as at every evaluation after the first), and the ``fidelity`` and
  ``labels`` metrics: generation of 10,000 samples by the ``non-saturating`` variant's MLP G,
  the domain extractor's features and logits (one forward), FID, KID, IS, precision, recall,
  density, coverage, classes covered and class KL.
* **torch-fidelity**: ``torch_fidelity.calculate_metrics`` on the same 10,000 samples (already
  generated: no generation, no label metrics, no density/coverage), the same arguments and
  cached reference, and the same classifier as a plain PyTorch module (:func:`plain_extractor`,
  the extractor as it ran before this work): FID, KID, IS, precision and recall.

The other default metrics of an MNIST run (``frechet-data``: data-space Fréchet distance on 784
dims; ``memory``) are costed separately (``extra_info["other_default_metrics_s"]``).

Asserted: the two paths give the same FID, KID, IS, precision and recall, bit for bit; and the
ratio ganbench / torch-fidelity is at most ``RATIO_TARGET`` (a ratio, not a wall-clock time,
so a loaded machine does not fail it). The absolute seconds are printed beside it.

``RATIO_TARGET`` = 0.55, derived from the 5 s target: before this work the evaluation took 11 s
on an idle 2-core CPU (README), and it cost 1.22-1.34x torch-fidelity's own call on the same
samples (this script's two paths run side by side with the base commit's code, 10,000 samples,
wall and CPU time; the old path ran torch-fidelity's steps plus a third distance pass for
density/coverage, generation and labels). 5 s is 5/11 of the old evaluation, so the target is
(5/11) x 1.22 = 0.55 of torch-fidelity's call. After this work the same side-by-side
measurement gives 0.38-0.42 (1 and 2 threads). These are ratios measured on the shared, loaded
development machine; the absolute seconds come from an idle run of this file.
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
import torch

N = int(os.environ.get("GANBENCH_BENCH_EVAL_SAMPLES", "10000"))
ROUNDS = int(os.environ.get("GANBENCH_BENCH_EVAL_ROUNDS", "3"))
THREADS = int(os.environ.get("GANBENCH_EVAL_THREADS", "2"))
RATIO_TARGET = 0.55  # see the module docstring
TARGET_S = 5.0  # on two idle cores: printed, not asserted (wall-clock depends on the machine)
SAME = ("fid", "kid", "kid_std", "is", "is_std", "precision", "recall")


@pytest.fixture(scope="module")
def threads():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield THREADS
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def run_state(tmp_path_factory, threads):
    """Registries, job, dataset, EvalSpec, extractor and reference of an MNIST run of the
    'non-saturating' variant (MLP G) with 10,000 evaluation samples; G untrained."""
    from ganbench import registry
    from ganbench.api.errors import DataUnavailableError
    from ganbench.evaluation.extractors.select import eval_spec_for
    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import plan
    from ganbench.training.runner import load_data

    if not os.environ.get("GANBENCH_DATA_ROOT"):
        from pathlib import Path

        shared = Path("/work/shared/data")
        if shared.is_dir():
            os.environ["GANBENCH_DATA_ROOT"] = str(shared)
    os.environ["GANBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("eval-cache"))
    reg = registry.load(use_env=False)
    job = plan(reg, variants=["non-saturating"], datasets=["mnist"],
               budget=Budget.parse("1steps"), seeds=[0])[0]
    job = dataclasses.replace(job, evals=1, eval_samples=N)
    try:
        ds, data = load_data(reg, job, "train", None, False)
    except DataUnavailableError as exc:
        pytest.skip(f"MNIST not available: {exc}")
    torch.manual_seed(0)
    model = reg.models.get(job.model)
    g, _ = model.build(data.spec, job.hparams.z_dim, **dict(job.model_options))
    g.eval()
    spec, ext, ref = eval_spec_for(job, ds, data, data_root=None, download=False)
    assert ext is not None and ext.name == "ganbench-mnist"
    return dict(reg=reg, job=job, ds=ds, data=data, g=g, spec=spec, ext=ext, ref=ref,
                cache={}, conditional=model.conditional)


def _context(st):
    from ganbench.api.evalspec import EvalContext

    return EvalContext(job=st["job"], dataset=st["ds"], data=st["data"], generator=st["g"],
                       conditional=st["conditional"], device=torch.device("cpu"),
                       eval_spec=st["spec"], step=0, images_seen=0, wall_s=0.0,
                       cache=st["cache"], extractor=st["ext"], reference=st["ref"])


def _ganbench(st, names=("fidelity", "labels")):
    """One evaluation with the metrics ``names``: {metric: value} and the context."""
    ctx = _context(st)
    out = {}
    for name in names:
        m = st["reg"].metrics.get(name)
        if m.applies is None or m.applies(ctx):
            out.update({v.metric: float(v.value) for v in m.compute(ctx)})
    return out, ctx


def plain_extractor(dataset: str) -> str:
    """A torch-fidelity feature extractor named ``plain-ganbench-DATASET``: the shipped
    classifier run as a plain PyTorch module (``net(from_uint8(x))`` on torch-fidelity's
    batches, as before this benchmark's work), for torch-fidelity's own call. Its features are
    the same bit for bit as the ganbench extractor's (the test asserts the same metrics)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    from ganbench.evaluation.extractors import domain
    from ganbench.evaluation.extractors.domain_net import from_uint8

    class Plain(domain.fidelity_class(dataset)):
        def forward(self, x):
            f, logits = self.net(from_uint8(x, self.channels, self.size))
            out = {"features": f.double(), "features_f32": f.float(), "logits": logits}
            return tuple(out[k] for k in self.features_list)

    name = f"plain-{domain.PREFIX}{dataset}"
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, Plain)
    return name


def _torch_fidelity(st, samples):
    """torch-fidelity's own ``calculate_metrics`` on ``samples``, with the arguments ganbench
    gives it and the plain-module extractor (:func:`plain_extractor`)."""
    import torch_fidelity

    from ganbench.evaluation import fidelity

    spec, ext = st["spec"], st["ext"]
    name = fidelity.reference_cache_name(st["ds"].name, spec, st["job"].data_options)
    sub = min(fidelity.KID_SUBSET_SIZE, N, spec.n_reference)
    with torch.no_grad():
        raw = torch_fidelity.calculate_metrics(
            input1=fidelity.samples_input(samples), input1_model_num_samples=len(samples),
            input2=_context(st).cache["fidelity_ref"], input2_cache_name=name,
            cache_root=str(fidelity.cache_dir()), cache=True, fid=True, kid=True, isc=True,
            prc=True, feature_extractor=plain_extractor(ext.domain), cuda=False,
            batch_size=fidelity.BATCH,
            verbose=False, save_cpu_ram=True, rng_seed=spec.seed,
            kid_subsets=fidelity.KID_SUBSETS, kid_subset_size=sub, **dict(ext.fidelity_kwargs))
    return {fidelity.KEYS[k][0]: float(v) for k, v in raw.items() if k in fidelity.KEYS}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def test_eval_10k_mnist_mlp_under_5s(benchmark, run_state):
    st = run_state
    # the first evaluation of a run: reference features, statistics and k-NN radii computed
    # and cached (on disk and in the run's cache); not timed
    first, ctx = _ganbench(st)
    samples = ctx.samples()
    # warm-up: torch-fidelity's call (its plain extractor's reference features cached) and the
    # other default metrics (the data-space reference moments cached in the run's cache)
    theirs = _torch_fidelity(st, samples)
    _ganbench(st, ("frechet-data", "memory"))
    # rounds interleaved (torch-fidelity in pytest-benchmark's untimed set-up, then ganbench),
    # so a change of machine load between them moves both sides of the ratio alike
    tf_times = []

    def setup():
        seconds, again = _timed(lambda: _torch_fidelity(st, samples))
        assert again == theirs
        tf_times.append(seconds)

    ours = benchmark.pedantic(lambda: _ganbench(st)[0], setup=setup, rounds=ROUNDS,
                              warmup_rounds=1)
    gb_s, tf_s = benchmark.stats.stats.min, min(tf_times)
    for key in SAME:  # the same numbers, bit for bit
        assert ours[key] == theirs[key] == first[key], key
    assert 0 <= ours["density"] and 0 <= ours["coverage"] <= 1
    other_s = min(_timed(lambda: _ganbench(st, ("frechet-data", "memory")))[0]
                  for _ in range(ROUNDS))
    ratio = gb_s / tf_s
    benchmark.extra_info.update(
        ganbench_s=round(gb_s, 3), torch_fidelity_s=round(tf_s, 3), ratio=round(ratio, 4),
        ratio_target=RATIO_TARGET, target_s=TARGET_S, other_default_metrics_s=round(other_s, 3),
        samples=N, threads=torch.get_num_threads(), metrics=sorted(ours))
    print(f"\n10k-sample MNIST evaluation (MLP G, {torch.get_num_threads()} threads): ganbench "
          f"{gb_s:.2f} s (generation, features, FID, KID, IS, precision/recall, "
          f"density/coverage, labels; target {TARGET_S:.0f} s idle), torch-fidelity's own call "
          f"on the same samples {tf_s:.2f} s, ratio {ratio:.3f} (target <= {RATIO_TARGET}); "
          f"frechet-data + memory costed separately: {other_s:.2f} s")
    assert ratio <= RATIO_TARGET
