import contextlib
import os
import random
import socket
import sys
import tempfile
import traceback
import types
import warnings

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Fixtures that start a real cluster on this machine (a Ray head; munged, slurmctld and slurmd:
# tests/slurm_cluster.py). The tests that use one are marked ``cluster`` and left out of the
# default run (pyproject.toml: addopts -m "not cluster"): they are what takes longest (about
# 70 of the suite's seconds on 2 cores, most of it daemons starting, jobs queueing and polling),
# and the Slurm ones need root and Debian packages. CI runs them as a second command
# (.ci/run: python -m pytest -m "cluster or extended"); so can you, after the README's test command (a
# cluster test named on the command line needs -m cluster too, or it is deselected).
CLUSTER_FIXTURES = frozenset({"ray_cluster", "slurm_env"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if CLUSTER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(autouse=True)
def builtins_only(monkeypatch):
    """Tests never depend on what else is installed: built-in plugins only, unless a test
    changes it."""
    from ganbench import registry as plugins

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
    from ganbench import registry as plugins

    return plugins.registries()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (for a daemon a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, env=None, cwd=None, timeout=None, subprocess=None):
    """Run ``ganbench ARGS``; returns an object with ``returncode``, ``stdout`` and ``stderr``
    as a CompletedProcess has. ``env`` changes the environment (None as a value: unset), on top
    of ``GANBENCH_LOAD_PLUGINS=""`` (built-ins only).

    By default the command runs in this process (``ganbench.cli.main(ARGS)``, ~1.5 s of CPU
    cheaper than starting Python and importing torch), isolated as a fresh process would be:
    the environment and cwd are applied for the call and restored after, the plugin registries
    are reset before and after, stdout/stderr are captured at the file-descriptor level (so
    worker processes' output and C-level writes are captured too, and neither is a tty),
    ``sys.argv`` and the warnings filters are a fresh interpreter's, torch's thread count
    follows ``OMP_NUM_THREADS`` from ``env``, the RNG states are restored, SystemExit becomes
    the return code and an uncaught exception prints its traceback with return code 1.

    A real ``python -m ganbench`` subprocess runs instead when the process is what is tested:
    ``subprocess=True`` (process death, signals, import-time behaviour), a ``timeout`` (a test
    that guards against a hang), or an ``env`` that sets PYTHONPATH (a plugin installed on the
    path for real, found through its entry point when the interpreter starts). A ``timeout``
    with ``subprocess=False`` guards an in-process call with SIGALRM instead: past it the call
    is interrupted (even in a blocking system call) with a TimeoutError, which comes back as
    return code 1 and its traceback on stderr."""
    changes = {"GANBENCH_LOAD_PLUGINS": "", **(env or {})}
    if subprocess is None:
        subprocess = timeout is not None or "PYTHONPATH" in changes
    if subprocess:
        import subprocess as sp

        full_env = {k: v for k, v in {**os.environ, **changes}.items() if v is not None}
        return sp.run([sys.executable, "-m", "ganbench", *args], capture_output=True,
                      text=True, env=full_env, cwd=cwd, timeout=timeout or 600)
    return _run_cli_in_process([str(a) for a in args], changes, cwd, timeout)


@contextlib.contextmanager
def _alarm(seconds):
    """Raise TimeoutError in the main thread after ``seconds`` (None: no limit)."""
    if seconds is None:
        yield
        return
    import signal

    def expired(signum, frame):
        raise TimeoutError(f"ganbench did not finish in {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run_cli_in_process(argv, changes, cwd, timeout=None):
    import numpy as np
    import torch

    from ganbench import cli
    from ganbench import registry as plugins

    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    saved_threads = torch.get_num_threads()
    rng = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved_fds = [os.dup(1), os.dup(2)]
    saved_streams = sys.stdout, sys.stderr
    try:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if changes.get("OMP_NUM_THREADS"):
            torch.set_num_threads(int(changes["OMP_NUM_THREADS"]))
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = [os.path.join(os.path.dirname(cli.__file__), "__main__.py"), *argv]
        plugins.reset()
        for fd, f in zip((1, 2), files):
            os.dup2(f.fileno(), fd)
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False,
                          buffering=1)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False,
                          buffering=1)
        with warnings.catch_warnings():  # a fresh interpreter's filters (no -W, no pytest's)
            warnings.resetwarnings()
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                             ResourceWarning):
                warnings.simplefilter("ignore", category)
            warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
            # printed to stderr, not recorded by pytest's catch_warnings(record=True)
            warnings.showwarning = warnings._showwarning_orig
            warnings._showwarnmsg_impl = _print_warning
            try:
                with _alarm(timeout):
                    code = cli.main(argv)
            except SystemExit as exc:
                code = exc.code
                if code is not None and not isinstance(code, int):
                    print(code, file=sys.stderr)
                    code = 1
            except Exception:  # as the interpreter does with an uncaught exception
                traceback.print_exc()
                code = 1
        returncode = code or 0
    finally:
        for stream in (sys.stdout, sys.stderr):
            if stream not in saved_streams:
                with contextlib.suppress(Exception):
                    stream.close()  # flushes; closefd=False: the descriptor stays
        sys.stdout, sys.stderr = saved_streams
        for fd, saved in zip((1, 2), saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
        torch.set_num_threads(saved_threads)
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.random.set_rng_state(rng[2])
        plugins.reset()
    out, err = (_read_all(f) for f in files)
    return types.SimpleNamespace(args=["ganbench", *argv], returncode=returncode, stdout=out,
                                 stderr=err)


def _print_warning(msg):
    (msg.file or sys.stderr).write(warnings._formatwarnmsg(msg))


def _read_all(f) -> str:
    f.seek(0)
    text = f.read().decode("utf-8", errors="replace")
    f.close()
    return text


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


class Crash(Exception):
    """What CrashAfterSave raises: the run dies right after a checkpoint."""


def _checkpointer():
    from ganbench.training.checkpoint import Checkpointer

    return Checkpointer


class CrashAfterSave(_checkpointer()):
    """Saves like the real thing, then dies at step ``at`` (as a SIGKILL right after would):
    the resume tests (test_checkpoint, test_plugin_surface) continue from what it saved."""

    def __init__(self, *a, at: int, **kw):
        super().__init__(*a, **kw)
        self.at = at

    def save(self, *a, **kw):
        super().save(*a, **kw)
        if self.steps == self.at:
            raise Crash
