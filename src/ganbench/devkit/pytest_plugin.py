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
  interleaved pairs; the figure is the median per-pair ratio (``ganbench.devkit.overhead``). A bare
  loop exists for plain losses (any loss without regularisers, step hooks or G-EMA) and for
  wasserstein + gp. Returns
  the summary (``overhead_ratio``, its IQR, ``images_per_s``); with ``gate`` it fails the test
  when the ratio exceeds it (after one re-measurement: a burst of load can hit a pair).
* ``ganbench_train_step(variant, dataset, steps=None, rounds=5)``: rounds of the runner's own
  training step (``ganbench.devkit.overhead.train_step``); ``images_per_s`` (real images seen by D).
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

``--benchmark-compare`` (the latest saved run, or ``NUM``) compares only with a saved run that
is sound (:func:`baseline_problem`): a file that is not JSON, lacks pytest-benchmark's fields or
holds a statistic that is not a finite number >= 0 (a NaN median would pass every gate) is named
on the terminal and skipped for the newest sound one. With no sound saved run for this machine
key (a new CI machine, or baselines saved under other keys only, which are named),
``--benchmark-compare`` and ``--benchmark-compare-fail`` step aside for that run, which saves
the first baseline (``--benchmark-save``) and passes.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest

DEFAULT_STORAGE = "file://./.benchmarks"
STATS = ("min", "max", "mean", "median", "stddev", "iqr")  # what --benchmark-compare-fail checks
_NOTES = "_ganbench_baseline_notes"  # config attribute: lines for the terminal summary


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
        _choose_baseline(config, keyed=True)
    elif uses_storage:
        _choose_baseline(config, keyed=False)


def baseline_problem(path) -> Optional[str]:
    """What makes a saved pytest-benchmark run unfit to compare with (None: nothing): not
    JSON, no ``machine_info`` / ``benchmarks``, a benchmark without ``fullname`` or ``stats``,
    or a statistic --benchmark-compare-fail may check that is not a finite number >= 0."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"not readable as JSON ({type(exc).__name__})"
    if not isinstance(data, dict) or not isinstance(data.get("machine_info"), dict) \
            or not isinstance(data.get("benchmarks"), list):
        return "not a pytest-benchmark run (no machine_info and benchmarks)"
    for bench in data["benchmarks"]:
        if not isinstance(bench, dict) or not isinstance(bench.get("fullname"), str) \
                or not isinstance(bench.get("stats"), dict):
            return "a benchmark without fullname and stats"
        for name in STATS:
            v = bench["stats"].get(name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0:
                return f"{bench['fullname'][:80]!r} has {name} {v!r}"
    return None


def _choose_baseline(config, keyed: bool) -> None:
    """Point --benchmark-compare at the newest sound saved run it would load; with none, and
    no run asked for by number, let this run save the first one and pass (see the module's
    docstring). Each skipped file and the fallback are noted for the terminal summary."""
    compare = getattr(config.option, "benchmark_compare", None)
    storage = str(getattr(config.option, "benchmark_storage", "") or "")
    if not compare or "://" in storage and not storage.startswith("file://"):
        return  # not comparing, or not file storage (elasticsearch: its own business)
    from pytest_benchmark.storage.file import FileStorage
    from pytest_benchmark.utils import get_machine_id

    folder = Path(storage.removeprefix("file://"))
    store = FileStorage(folder, logger=None, default_machine_id=get_machine_id())
    try:
        found = store.query("[0-9][0-9][0-9][0-9]_" if compare is True else compare)
    except ValueError:  # an unusable NUM|glob: pytest-benchmark says so itself
        return
    notes = getattr(config, _NOTES, [])
    setattr(config, _NOTES, notes)
    sound = []
    for path in found:
        problem = baseline_problem(path)
        if problem:
            notes.append(f"ganbench: saved benchmark run {path} skipped: {problem}")
        else:
            sound.append(path)
    if sound:
        if len(sound) < len(found) or compare is True:
            config.option.benchmark_compare = str(sound[-1].resolve())
        return
    if compare is not True:  # a run asked for by number: comparing with none is wrong
        if found:  # (none found at all: pytest-benchmark says so itself)
            raise pytest.UsageError(f"--benchmark-compare={compare}: every saved run it "
                                    f"matches under {folder} is unsound: "
                                    + "; ".join(notes[-len(found):]))
        return
    others = []  # saved under other machine keys: named, never compared with
    if keyed and folder.parent.is_dir():
        others = sorted(p.name for p in folder.parent.iterdir()
                        if p.is_dir() and p.resolve() != folder.resolve()
                        and any(p.rglob("*.json")))
    notes.append(
        f"ganbench: no saved benchmark run to compare with under {folder}"
        + (f" (saved runs exist for other machine keys only: {', '.join(others)})"
           if others else "")
        + ": --benchmark-compare and --benchmark-compare-fail skipped; "
        + ("this run saves the first baseline" if config.option.benchmark_save
           or config.option.benchmark_autosave else "save one with --benchmark-save"))
    config.option.benchmark_compare = []
    config.option.benchmark_compare_fail = None


def pytest_sessionstart(session) -> None:
    session.config._ganbench_session = session


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter, config):
    """The baseline notes; and a speed regression (pytest-benchmark raises it from its own
    summary, with a traceback) is the failed run it means: exit code 1 after its report."""
    try:
        return (yield)
    except Exception as exc:
        if type(exc).__name__ != "PerformanceRegression":
            raise
        config._ganbench_session.exitstatus = pytest.ExitCode.TESTS_FAILED
        terminalreporter.write_line("ganbench: the speed gate failed: performance has regressed "
                                    "against the saved run (see above)", red=True)
    finally:
        for line in getattr(config, _NOTES, []):
            terminalreporter.write_line(line, yellow=True)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info: dict) -> None:
    facts = globals()["machine_info"]()
    machine_info["ganbench"] = {**facts, "key": machine_key(facts)}


def _job(reg, variant: str, dataset: str, **changes):
    import dataclasses

    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import plan

    job = plan(reg, variants=[variant], datasets=[dataset], budget=Budget.parse("1steps"),
               seeds=[0])[0]
    return dataclasses.replace(job, evals=1, **changes)


@pytest.fixture
def ganbench_registries():
    """The installed plugins' registries (``GANBENCH_LOAD_PLUGINS`` is honoured)."""
    from ganbench import registry as plugins

    return plugins.registries()


@pytest.fixture(scope="session")
def ganbench_device(request):
    from ganbench.training.runner import resolve_device

    name = request.config.getoption("ganbench_device", None)
    return resolve_device(name or os.environ.get("GANBENCH_BENCH_DEVICE", "auto"))


@pytest.fixture
def ganbench_overhead(benchmark, ganbench_registries, ganbench_device):
    """``measure(variant, dataset, steps=100, pairs=7, gate=None) -> summary``."""
    from ganbench.devkit import overhead

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
    from ganbench.devkit import overhead

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

    from ganbench.devkit.overhead import sync

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

    from ganbench.api.evalspec import EvalContext
    from ganbench.evaluation.extractors.select import eval_spec_for
    from ganbench.training.runner import select_metrics, load_data

    torch.manual_seed(job.seed)
    model = reg.models.get(job.model)
    ds, data = load_data(reg, job, "train", None, False)
    g, _ = model.build(data.spec, job.hparams.z_dim, **dict(job.model_options))
    g.to(device).eval()
    spec, extractor, reference = eval_spec_for(job, ds, data, data_root=None, download=False)
    specs = select_metrics(reg, job)
    cache: dict[str, Any] = {}

    def evaluate() -> list[dict[str, Any]]:
        ctx = EvalContext(job=job, dataset=ds, data=data, generator=g,
                          conditional=model.conditional, device=device, eval_spec=spec,
                          step=0, images_seen=0, wall_s=0.0, cache=cache, extractor=extractor,
                          reference=reference)
        return [{"metric": v.metric, "value": float(v.value)} for m in specs
                if m.applies is None or m.applies(ctx) for v in m.compute(ctx)]

    return evaluate, job
