import os
import socket
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def builtins_only(monkeypatch):
    """Tests never depend on what else is installed: built-in plugins only, unless a test
    changes it."""
    from ganbench import plugins

    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "")
    # each test picks its executor; the default (auto) is tested in test_executors.py
    monkeypatch.setenv("GANBENCH_EXECUTOR", "local")
    monkeypatch.delenv("GANBENCH_DISABLE_PLUGINS", raising=False)
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture(autouse=True)
def fidelity_cache(tmp_path_factory, monkeypatch):
    """Reference statistics are cached in the test session's temporary directory, never in the
    user's cache (a test that checks caching sets its own)."""
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def reg():
    from ganbench import plugins

    return plugins.registries()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (for a daemon a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, env=None, cwd=None, timeout=600):
    """Run ``python -m ganbench ARGS`` in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, "GANBENCH_LOAD_PLUGINS": "", **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}  # None: unset
    return subprocess.run([sys.executable, "-m", "ganbench", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=timeout)


def install_plugin(site, module: str, source: str, dist: str, version: str, entry_point: str):
    """Install a plugin for real into directory ``site``: ``module.py`` plus its .dist-info with
    an entry point ``entry_point`` in the 'ganbench' group (put ``site`` on the path)."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ganbench]\n{entry_point} = {module}\n")
    return site
