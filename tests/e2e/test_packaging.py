"""The built wheel holds every package and data file of the source tree.

An editable install (what the README's set-up command and CI use) imports from the checkout, so
a package left out of the wheel goes unseen there: once ``ganbench.execution.executors`` was missing from
a hand-written package list, and ``ganbench run --help`` from a wheel failed with an
ImportError. ``.ci/run`` also installs the wheel into a fresh venv and runs ganbench from it;
this test is the fast check that runs with the README's test command.
"""

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO

SRC = Path(REPO, "src")


def _build_wheel(out: Path) -> Path:
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                        "--no-build-isolation", "-w", str(out), REPO],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = out.glob("ganbench-*.whl")
    return wheel


def test_the_wheel_holds_every_package_data_file_and_entry_point(tmp_path):
    with zipfile.ZipFile(_build_wheel(tmp_path)) as z:
        names = set(z.namelist())
        (ep_name,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = z.read(ep_name).decode()
    packages = sorted(str(p.parent.relative_to(SRC)) for p in SRC.rglob("__init__.py"))
    assert {"ganbench", "ganbench/execution/executors", "ganbench/evaluation/extractors",
            "ganbench_plugins"} <= set(packages)
    sources = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                     if "egg-info" not in str(p))
    assert [s for s in sources if s not in names] == []
    weights = sorted(str(p.relative_to(SRC)) for p in (SRC / "ganbench/evaluation/extractors/weights").iterdir()
                     if p.suffix in (".pt", ".json"))
    assert weights and [w for w in weights if w not in names] == []
    # every entry point names a module that the wheel holds
    cp = configparser.ConfigParser()
    cp.read_string(entry_points)
    targets = [v.split(":")[0] for section in cp.sections() for v in cp[section].values()]
    assert "ganbench.cli" in targets and "ganbench_plugins.losses" in targets
    for module in targets:
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, module


def test_git_sha_names_the_checkout_ganbench_runs_from():
    """Run files record the commit of the checkout ganbench is imported from (empty from a
    wheel). The src/ layout moved envinfo.py one folder deeper, and for a while every run file
    said '' here."""
    import ganbench
    from ganbench.store import envinfo

    checkout = Path(REPO)
    if Path(ganbench.__file__).resolve() != checkout.resolve() / "src" / "ganbench" / "__init__.py" \
            or not (checkout / ".git").exists():
        import pytest

        pytest.skip("ganbench is not imported from this git checkout here")
    head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    envinfo.git_sha.cache_clear()
    assert head and envinfo.git_sha().split("+")[0] == head
