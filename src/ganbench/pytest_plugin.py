"""ganbench's pytest plugin: speed checks of any registered variant, in any repository.

Installed with ganbench (entry point ``pytest11``), on top of pytest-benchmark: a plugin
author's or a lab's test suite gets these fixtures without copying anything::

    def test_my_variant_speed(ganbench_overhead):
        ganbench_overhead("my-variant", "ring8", gate=1.10)   # fails above 10% overhead

    def test_my_variant_step(ganbench_train_step):
        ganbench_train_step("my-variant", "ring8")             # images/s in extra_info

    def test_my_variant_eval(ganbench_evaluation):
        ganbench_evaluation("my-variant", "digits")           # one evaluation per round

* ``ganbench_overhead(variant, dataset, steps=100, pairs=7, gate=None)``: ganbench's training
  loop against a bare PyTorch loop with the same modules, loss, optimisers and data, in
  interleaved pairs; the figure is the median per-pair ratio (``ganbench.overhead``). A bare
  loop exists for plain losses (any loss without regularisers, step hooks or G-EMA) and for
  wasserstein + gp. Returns
  the summary (``overhead_ratio``, its IQR, ``images_per_s``); with ``gate`` it fails the test
  when the ratio exceeds it (after one re-measurement: a burst of load can hit a pair).
* ``ganbench_train_step(variant, dataset, steps=None, rounds=5)``: rounds of the runner's own
  training step (``ganbench.overhead.train_step``); ``images_per_s`` (real images seen by D).
* ``ganbench_evaluation(variant, dataset, eval_samples=None, rounds=3)``: one evaluation (every
  default metric that applies, the run's EvalSpec) of a freshly built generator per round.

Each records its numbers in pytest-benchmark's ``extra_info``; baselines are saved and compared
the pytest-benchmark way (``--benchmark-save``, ``--benchmark-compare``,
``--benchmark-compare-fail=median:10%``). Saved runs are kept per machine key — accelerator
(GPU name, or CPU model), torch and ganbench versions — under the storage directory
(``.benchmarks/KEY/``), so ``--benchmark-compare`` only ever compares like with like; the same
facts go into the saved ``machine_info["ganbench"]``. Options: ``--ganbench-device`` (default
``$GANBENCH_BENCH_DEVICE`` or auto), ``--ganbench-threads N`` (torch intra-op threads; 1 keeps
small-model timings steady on a shared machine).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from typing import Any, Optional

import pytest

DEFAULT_STORAGE = "file://./.benchmarks"


def pytest_addoption(parser) -> None:
    group = parser.getgroup("ganbench", "ganbench speed checks")
    group.addoption("--ganbench-device", default=None,
                    help="device the ganbench fixtures train on (default: "
                    "$GANBENCH_BENCH_DEVICE or auto: CUDA when available)")
    group.addoption("--ganbench-threads", type=int, default=None,
                    help="torch intra-op threads for the ganbench fixtures (default: torch's)")


def machine_info() -> dict[str, Any]:
    """Versions and accelerator facts: torch, CUDA, cuDNN, GPU names, driver, CPU threads."""
    import torch

    import ganbench

    info: dict[str, Any] = {
        "torch": torch.__version__, "ganbench": ganbench.__version__,
        "python": platform.python_version(), "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "cpu": _cpu_model(),
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info.update(
            cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
            gpus=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            gpu_capability=".".join(map(str, torch.cuda.get_device_capability(0))),
            gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
            driver=_nvidia_driver())
    return info


def machine_key(info: Optional[dict[str, Any]] = None) -> str:
    """A directory name for saved benchmarks: accelerator, torch and ganbench versions."""
    info = info or machine_info()
    accel = info["gpus"][0] if info.get("gpus") else f"cpu-{info.get('cpu') or 'unknown'}"
    key = f"{accel}-torch{info['torch']}-ganbench{info['ganbench']}"
    return re.sub(r"[^A-Za-z0-9.+_-]+", "_", key).strip("_")[:150]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_driver() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return out.splitlines()[0] if out else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown (nvidia-smi not found)"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config) -> None:
    """Key saved benchmarks by machine: before pytest-benchmark opens its storage, a default
    storage location gets the machine key appended."""
    threads = config.getoption("ganbench_threads", None)
    if threads:
        import torch

        torch.set_num_threads(threads)
    storage = getattr(config.option, "benchmark_storage", None)
    # the key needs torch (GPU name, versions): only a run that saves or compares pays for it,
    # not every pytest start in an environment where ganbench is installed
    uses_storage = any(getattr(config.option, name, None) for name in
                       ("benchmark_save", "benchmark_autosave", "benchmark_compare"))
    if uses_storage and storage in (DEFAULT_STORAGE, "./.benchmarks", ".benchmarks"):
        config.option.benchmark_storage = f"{DEFAULT_STORAGE}/{machine_key()}"


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info: dict) -> None:
    facts = globals()["machine_info"]()
    machine_info["ganbench"] = {**facts, "key": machine_key(facts)}


def _job(reg, variant: str, dataset: str, **changes):
    import dataclasses

    from ganbench.budget import Budget
    from ganbench.plan import plan

    job = plan(reg, variants=[variant], datasets=[dataset], budget=Budget.parse("1steps"),
               seeds=[0])[0]
    return dataclasses.replace(job, evals=1, **changes)


@pytest.fixture
def ganbench_registries():
    """The installed plugins' registries (``GANBENCH_LOAD_PLUGINS`` is honoured)."""
    from ganbench import plugins

    return plugins.registries()


@pytest.fixture(scope="session")
def ganbench_device(request):
    from ganbench.runner import resolve_device

    name = request.config.getoption("ganbench_device", None)
    return resolve_device(name or os.environ.get("GANBENCH_BENCH_DEVICE", "auto"))


@pytest.fixture
def ganbench_overhead(benchmark, ganbench_registries, ganbench_device):
    """``measure(variant, dataset, steps=100, pairs=7, gate=None) -> summary``."""
    from ganbench import overhead

    def measure(variant: str, dataset: str, *, steps: int = 100, pairs: int = 7,
                gate: Optional[float] = None) -> dict[str, Any]:
        reg, device = ganbench_registries, ganbench_device
        job = _job(reg, variant, dataset)
        try:
            overhead.bare_loop_for(job)
        except ValueError:
            pytest.fail(f"ganbench_overhead has no bare loop to compare {variant} with (its "
                        "regularisers, step hooks or G-EMA: only plain losses and wasserstein "
                        "+ gp have one); gate its speed with ganbench_train_step and "
                        "--benchmark-compare instead", pytrace=False)
        overhead.ganbench_loop(job, reg, device, 5)  # warm-up of both loops
        overhead.bare_loop_for(job)(overhead.build(job, reg, device), job, 5)
        result = overhead.Overhead(steps=steps)
        order = iter(range(10 ** 6))

        def pair() -> None:
            overhead.measure_pair(job, reg, device, steps, result,
                                  bare_first=next(order) % 2 == 0)

        # pytest-benchmark times each pair (both loops, set-up included); the figure is the ratio
        benchmark.pedantic(pair, rounds=pairs, iterations=1)
        while len(result.ratios) < pairs:  # --benchmark-disable runs the target only once
            pair()
        if gate is not None and result.ratio > gate:  # one re-measurement before failing
            result = overhead.measure(job, reg, device, steps=steps, pairs=pairs)
        summary = result.summary()
        h = job.hparams
        summary["images_per_s"] = round(steps * h.batch_size * h.k
                                        / summary["ganbench_median_s"], 1)
        benchmark.extra_info.update(summary, variant=variant, dataset=dataset,
                                    device=str(device))
        assert 0.5 < result.ratio, f"bare loop slower than ganbench's? {summary}"
        if gate is not None and result.ratio > gate:
            pytest.fail(f"ganbench's training loop for {variant} on {dataset} is "
                        f"{100 * (result.ratio - 1):.1f}% slower than a bare PyTorch loop "
                        f"(gate {100 * (gate - 1):.0f}%): {summary}", pytrace=False)
        return summary

    return measure


@pytest.fixture
def ganbench_train_step(benchmark, ganbench_registries, ganbench_device):
    """``measure(variant, dataset, steps=None, rounds=5) -> {"images_per_s": ...}``."""
    from ganbench import overhead

    def measure(variant: str, dataset: str, *, steps: Optional[int] = None,
                rounds: int = 5) -> dict[str, Any]:
        reg, device = ganbench_registries, ganbench_device
        job = _job(reg, variant, dataset)
        step, per_step, stats = overhead.train_step(job, reg, device)
        n = steps or (100 if reg.datasets.get(dataset).spec.kind == "points" else 10)

        def steps_round() -> None:
            for _ in range(n):
                step()
            overhead.sync(device)

        benchmark.pedantic(steps_round, rounds=rounds, iterations=1, warmup_rounds=1)
        images = n * per_step
        median = benchmark.stats.stats.median if benchmark.stats else float("nan")
        info = {"images_per_round": images, "images_per_s": round(images / median, 1),
                "variant": variant, "dataset": dataset, "device": str(device)}
        benchmark.extra_info.update(info)
        means = stats.means()
        assert means and all(v == v for v in means.values()), \
            f"{variant} on {dataset}: non-finite training statistics {means}"
        return info

    return measure


@pytest.fixture
def ganbench_evaluation(benchmark, ganbench_registries, ganbench_device):
    """``measure(variant, dataset, eval_samples=None, rounds=3) -> {"samples_per_s": ...}``."""

    from ganbench.overhead import sync

    def measure(variant: str, dataset: str, *, eval_samples: Optional[int] = None,
                rounds: int = 3) -> dict[str, Any]:
        reg, device = ganbench_registries, ganbench_device
        changes = {"eval_samples": eval_samples} if eval_samples else {}
        evaluate, job = _evaluation(reg, _job(reg, variant, dataset, **changes), device)

        def one() -> None:
            evaluate()
            sync(device)

        benchmark.pedantic(one, rounds=rounds, iterations=1, warmup_rounds=1)
        median = benchmark.stats.stats.median if benchmark.stats else float("nan")
        rows = evaluate()
        info = {"evaluation_s": round(median, 4),
                "samples_per_s": round(job.eval_samples / median, 1),
                "metrics": sorted({r["metric"] for r in rows}), "variant": variant,
                "dataset": dataset, "device": str(device)}
        benchmark.extra_info.update(info)
        return info

    return measure


def _evaluation(reg, job, device):
    """A function computing one evaluation of a freshly built G, as the runner evaluates."""
    import torch

    from ganbench.evaluation import EvalContext
    from ganbench.extractors.select import eval_spec_for
    from ganbench.runner import _select_metrics, load_data

    torch.manual_seed(job.seed)
    model = reg.models.get(job.model)
    ds, data = load_data(reg, job, "train", None, False)
    g, _ = model.build(data.spec, job.hparams.z_dim, **dict(job.model_options))
    g.to(device).eval()
    spec, extractor, reference = eval_spec_for(job, ds, data, data_root=None, download=False)
    specs = _select_metrics(reg, job)
    cache: dict[str, Any] = {}

    def evaluate() -> list[dict[str, Any]]:
        ctx = EvalContext(job=job, dataset=ds, data=data, generator=g,
                          conditional=model.conditional, device=device, eval_spec=spec,
                          step=0, images_seen=0, wall_s=0.0, cache=cache, extractor=extractor,
                          reference=reference)
        return [{"metric": v.metric, "value": float(v.value)} for m in specs
                if m.applies is None or m.applies(ctx) for v in m.compute(ctx)]

    return evaluate, job
