"""pytest-benchmark set-up for ganbench's benchmarks (run explicitly: python -m pytest benchmarks/).

ganbench's pytest plugin (src/ganbench/devkit/pytest_plugin.py, installed with the package) adds the
accelerator and library versions to the saved machine info and keys saved runs by them; this keeps the benchmarks
independent of third-party plugins, and prints the overhead ratios at the end of the run.
"""

import importlib.util
from pathlib import Path

import pytest

RATIOS: list[tuple[str, dict]] = []


def pytest_configure(config) -> None:
    """One torch thread by default (GANBENCH_BENCH_THREADS): on a machine shared with other
    work, intra-op threads that wait for each other make small-model timings erratic."""
    import os

    import torch

    torch.set_num_threads(int(os.environ.get("GANBENCH_BENCH_THREADS", "1")))


# The tests' fixtures: built-in plugins only (autouse), and the registries (``reg``).
_spec = importlib.util.spec_from_file_location(
    "ganbench_tests_conftest", Path(__file__).resolve().parent.parent / "tests" / "conftest.py")
_tests_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tests_conftest)
builtins_only = _tests_conftest.builtins_only
reg = _tests_conftest.reg


@pytest.fixture(scope="session")
def device(ganbench_device):
    """GANBENCH_BENCH_DEVICE (default auto: CUDA when available); the plugin's fixture."""
    return ganbench_device


@pytest.fixture
def report_ratio():
    def report(name: str, summary: dict) -> None:
        RATIOS.append((name, summary))

    return report


def pytest_terminal_summary(terminalreporter) -> None:
    if not RATIOS:
        return
    tr = terminalreporter
    tr.write_sep("-", "ganbench overhead ratio (training loop / bare PyTorch loop, median of pairs)")
    for name, s in RATIOS:
        tr.write_line(f"{name}: {s['overhead_ratio']:.4f}  (IQR {s['ratio_q1']:.4f}-"
                      f"{s['ratio_q3']:.4f}, {s['pairs']} pairs of {s['steps_per_run']} steps)")
