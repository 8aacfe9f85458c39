"""ganbench's pytest plugin, used as another repository uses it: a temporary project outside
ganbench's source tree, with no conftest, gets the speed fixtures from the installed package's
``pytest11`` entry point; baselines are saved per machine key and compared the
pytest-benchmark way."""

import json
import os
import subprocess
import sys

from ganbench import pytest_plugin

SPEED_TESTS = '''
def test_overhead(ganbench_overhead):
    s = ganbench_overhead("non-saturating", "ring8", steps=20, pairs=3, gate=50.0)
    assert 0.5 < s["overhead_ratio"] < 50.0 and s["pairs"] == 3 and s["images_per_s"] > 0


def test_step(ganbench_train_step):
    assert ganbench_train_step("cgan", "ring8", steps=10, rounds=2)["images_per_s"] > 0


def test_evaluation(ganbench_evaluation):
    info = ganbench_evaluation("non-saturating", "ring8", eval_samples=500, rounds=2)
    assert "modes_covered" in info["metrics"] and info["samples_per_s"] > 0
'''


def _pytest(project, *args):
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--ganbench-threads", "1", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)


def test_fixtures_work_in_a_foreign_repository_and_baselines_are_keyed_by_machine(tmp_path):
    project = tmp_path / "lab-repo"
    project.mkdir()
    (project / "test_speed.py").write_text(SPEED_TESTS)
    r = _pytest(project, "--benchmark-save=base")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    key = pytest_plugin.machine_key()
    saved = list((project / ".benchmarks" / key).rglob("0001_base.json"))
    assert len(saved) == 1, list((project / ".benchmarks").rglob("*"))
    data = json.loads(saved[0].read_text())
    assert data["machine_info"]["ganbench"]["key"] == key
    extra = {b["name"]: b["extra_info"] for b in data["benchmarks"]}
    assert extra["test_overhead"]["variant"] == "non-saturating"
    assert extra["test_overhead"]["overhead_ratio"] > 0.5
    # compared against itself with a generous threshold: passes
    r = _pytest(project, "--benchmark-compare=0001", "--benchmark-compare-fail=median:1000%",
                "-k", "step")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # a baseline 100x faster than today: the comparison fails the run
    for b in data["benchmarks"]:
        b["stats"] = {k: v / 100 if isinstance(v, float) else v for k, v in b["stats"].items()}
    saved[0].write_text(json.dumps(data))
    r = _pytest(project, "--benchmark-compare=0001", "--benchmark-compare-fail=median:10%",
                "-k", "step")
    assert r.returncode != 0 and "Performance has regressed" in r.stdout + r.stderr, r.stdout


def test_overhead_gate_fails_the_test_with_one_line(tmp_path):
    project = tmp_path / "repo"
    project.mkdir()
    (project / "test_gate.py").write_text(
        "def test_gate(ganbench_overhead):\n"
        "    ganbench_overhead('non-saturating', 'ring8', steps=10, pairs=3, gate=0.5)\n")
    r = _pytest(project, "--benchmark-disable")
    assert r.returncode == 1
    assert "slower than a bare PyTorch loop (gate -50%)" in r.stdout, r.stdout[-2000:]


def test_machine_key_names_accelerator_and_versions():
    info = {"torch": "2.9.0+cu130", "ganbench": "0.3.0", "cpu": "AMD EPYC 9654 96-Core",
            "gpus": []}
    assert pytest_plugin.machine_key(info) == "cpu-AMD_EPYC_9654_96-Core-torch2.9.0+cu130-ganbench0.3.0"
    info["gpus"] = ["NVIDIA H100 80GB HBM3"]
    assert pytest_plugin.machine_key(info).startswith("NVIDIA_H100_80GB_HBM3-torch2.9.0")
