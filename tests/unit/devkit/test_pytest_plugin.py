"""ganbench's pytest plugin, used as another repository uses it: a temporary project outside
ganbench's source tree, with no conftest, gets the speed fixtures from the installed package's
``pytest11`` entry point; baselines are saved per machine key and compared the
pytest-benchmark way."""

import json
import os
import subprocess
import sys

import pytest

from ganbench.devkit import pytest_plugin

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
    # compared against itself with a generous threshold: passes (that a baseline 100x faster
    # fails the comparison is test_readme_speed_gate_recipe_on_a_new_machine_and_with_bad_
    # baselines's, with the README's command: one pytest process fewer here)
    r = _pytest(project, "--benchmark-compare=0001", "--benchmark-compare-fail=median:1000%",
                "-k", "step")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


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


def readme_gate_command():
    """The speed-gate command of the CI recipe in docs/gates.md, as its argument list."""
    import re
    import shlex

    from conftest import REPO

    text = open(os.path.join(REPO, "docs", "gates.md"), encoding="utf8").read()
    m = re.search(r"- run: (python -m pytest tests/test_speed\.py[^\n]*)\n\s+(--[^\n]*)\n", text)
    assert m, "the speed-gate command of docs/gates.md moved"
    return shlex.split(m.group(1) + " " + m.group(2))


def _scale(path, factor, nan=False):
    data = json.loads(path.read_text())
    for b in data["benchmarks"]:
        b["stats"] = {k: v * factor if isinstance(v, float) else v for k, v in b["stats"].items()}
        if nan:
            b["stats"]["median"] = float("nan")
    return json.dumps(data)  # NaN written as NaN, as json.dumps does


@pytest.mark.extended  # long (tens of seconds): .ci/run runs it, the README's command does not
def test_readme_speed_gate_recipe_on_a_new_machine_and_with_bad_baselines(tmp_path):
    """The README's exact CI command in a fresh repository: the first run saves a baseline and
    passes (was: exit 4, pytest.UsageError); a corrupt or NaN-median saved run is named and
    skipped for the newest sound one (was: a traceback / a silent pass); baselines saved under
    another machine key only are named, and the run saves this machine's first one."""
    cmd = readme_gate_command()
    assert cmd[:3] == ["python", "-m", "pytest"]
    assert "--benchmark-compare" in cmd and "--benchmark-compare-fail=median:10%" in cmd
    project = tmp_path / "plugin-repo"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_speed.py").write_text(
        "def test_step(ganbench_train_step):\n"
        "    ganbench_train_step('non-saturating', 'ring8', steps=5, rounds=2)\n")
    env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_ADDOPTS", None)

    def gate():
        r = subprocess.run([sys.executable, *cmd[1:], "-p", "no:cacheprovider"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=600)
        assert "Traceback" not in r.stdout + r.stderr, r.stdout[-3000:] + r.stderr[-3000:]
        return r.returncode, r.stdout + r.stderr

    key_dir = project / ".benchmarks" / pytest_plugin.machine_key()
    rc, said = gate()  # a new machine: nothing saved yet
    assert rc == 0 and "no saved benchmark run to compare with" in said, said[-3000:]
    (first,) = key_dir.rglob("0001_ci.json")
    first.write_text(_scale(first, 0.01))  # a baseline 100x faster: the gate must fail
    rc, said = gate()
    assert rc == 1 and "Performance has regressed" in said, said[-3000:]
    (second,) = key_dir.rglob("0002_ci.json")
    second.unlink()
    (first.parent / "0003_ci.json").write_text("{not json")
    (first.parent / "0004_ci.json").write_text(_scale(first, 100.0, nan=True))
    rc, said = gate()  # both named and skipped; compared with 0001 (so it fails again)
    assert "0003_ci.json skipped: not readable as JSON" in said, said[-3000:]
    assert "0004_ci.json skipped: 'tests/test_speed.py::test_step' has median nan" in said
    assert rc == 1 and "Performance has regressed" in said and "0001_ci.json" in said
    key_dir.rename(key_dir.with_name("other-machine"))  # saved under another key only
    rc, said = gate()
    assert rc == 0 and "other machine keys only: other-machine" in said, said[-3000:]
    assert len(list(key_dir.rglob("0001_ci.json"))) == 1


def test_baseline_problem_names_what_is_wrong(tmp_path):
    good = {"machine_info": {}, "benchmarks": [
        {"fullname": "t::a", "stats": {k: 0.5 for k in pytest_plugin.STATS}}]}
    cases = {"ok": (good, None), "nan": ("median", float("nan")), "str": ("mean", "fast"),
             "neg": ("min", -1.0), "inf": ("iqr", float("inf")), "none": ("stddev", None)}
    for name, (field, value) in cases.items():
        data = json.loads(json.dumps(good))
        if name != "ok":
            data["benchmarks"][0]["stats"][field] = value
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        got = pytest_plugin.baseline_problem(path)
        assert (got is None) if name == "ok" else (f"has {field} {value!r}" in got), (name, got)
    for text, said in (("[]", "not a pytest-benchmark run"), ("\xff", "not readable"),
                       ('{"machine_info": {}, "benchmarks": [{"stats": {}}]}', "fullname")):
        (tmp_path / "x.json").write_bytes(text.encode("latin1"))
        assert said in pytest_plugin.baseline_problem(tmp_path / "x.json")
