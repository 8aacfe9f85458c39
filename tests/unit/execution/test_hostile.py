"""Hostile or clumsy input: each case broke once; one clear line and a non-zero exit now."""

import os

import pytest

from ganbench.api.errors import UsageError
from ganbench.training.runner import resolve_device

from conftest import run_cli


@pytest.mark.parametrize("name", ["cpu:99", "cpu:1", "", "   "])
def test_invalid_cpu_devices_are_refused(name):
    with pytest.raises(UsageError, match="invalid device"):
        resolve_device(name)


def test_invalid_device_from_the_cli_is_one_line_exit_2(tmp_path):
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                "5steps", "--device", "cpu:99", "--out", str(tmp_path / "o"), "-q")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "cpu:99" in r.stderr
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").glob("*.json"))


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_train_extractor_refuses_non_positive_epochs(tmp_path, epochs):
    r = run_cli("train-extractor", "--dataset", "digits", "--epochs", epochs, "--out",
                str(tmp_path / "x"))
    assert r.returncode == 2, r.stderr
    assert "epochs" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_symlinked_state_directory_is_refused_and_nothing_outside_is_touched(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "non-saturating__ring8__s0__precious.lock"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(elsewhere, out / ".ganbench")
    before = sorted(p.name for p in elsewhere.iterdir())
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                "5steps", "--out", str(out), "-q")
    assert r.returncode == 2
    assert "symlink" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == before
    assert victim.read_text() == "keep me"


def test_symlinked_lock_or_checkpoint_file_is_refused(tmp_path):
    from ganbench.store.safepath import state_dir_path

    out = tmp_path / "out"
    (out / ".ganbench").mkdir(parents=True)
    target = tmp_path / "target"
    target.write_text("x")
    os.symlink(target, out / ".ganbench" / "run.lock")
    with pytest.raises(UsageError):
        state_dir_path(out, "run", ".lock")
    assert target.read_text() == "x"


@pytest.mark.parametrize("lock_text", ["", "garbage", "PPID"])
def test_lock_file_no_process_holds_does_not_make_a_run_wait(tmp_path, lock_text):
    """An empty lock file, and one naming a live unrelated PID (PID reuse after a reboot),
    used to make ``ganbench run`` wait forever; the OS lock dies with its process, so a file
    nobody holds is free."""
    out = tmp_path / "out"
    args = ("run", "--variant", "non-saturating", "--dataset", "ring8", "--budget", "5steps",
            "--evals", "1", "--eval-samples", "100", "--no-calibration", "--out", str(out),
            "-q")
    assert run_cli(*args).returncode == 0
    (run_file,) = out.glob("*.json")
    run_file.unlink()
    text = f"{os.getppid()} {os.uname().nodename}" if lock_text == "PPID" else lock_text
    (out / ".ganbench" / f"{run_file.stem}.lock").write_text(text)
    r = run_cli(*args, timeout=120, subprocess=False)  # in this process, a hang interrupted
    assert r.returncode == 0, r.stderr
    assert (out / run_file.name).exists()
    assert not (out / ".ganbench" / f"{run_file.stem}.lock").exists()


def test_the_in_process_hang_guard_interrupts_a_blocked_lock_wait(tmp_path, monkeypatch):
    """The guard the test above relies on (run_cli in this process with a timeout): a command
    blocked in flock on a lock another open file holds is interrupted, return code 1."""
    import fcntl
    import threading

    from ganbench import cli

    path = tmp_path / "held.lock"
    path.write_text("")

    def blocked(argv):
        with open(path) as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # never granted: `held` below has it
        return 0

    monkeypatch.setattr(cli, "main", blocked)
    with open(path) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        # without a working guard the lock is let go after 30 s: the command then returns 0
        release = threading.Timer(30, fcntl.flock, (held, fcntl.LOCK_UN))
        release.start()
        try:
            r = run_cli("list", timeout=0.5, subprocess=False)
        finally:
            release.cancel()
    assert r.returncode == 1 and "TimeoutError: ganbench did not finish in 0.5 s" in r.stderr


@pytest.mark.parametrize("value", ["nosuch", "nosuch,other", "x\ny"])
def test_load_plugins_naming_an_uninstalled_plugin_is_one_line_exit_2(value, capsys,
                                                                      monkeypatch):
    from ganbench import cli
    from ganbench import registry as plugins

    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", value)
    plugins.reset()
    try:
        assert cli.main(["list", "variants"]) == 2
    finally:
        plugins.reset()
    err = capsys.readouterr().err
    first = repr(value.split(",")[0])
    assert f"GANBENCH_LOAD_PLUGINS names {first}" in err and "no installed plugin" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_disable_plugins_naming_nothing_installed_says_so_once(capsys, monkeypatch):
    """GANBENCH_DISABLE_PLUGINS with a typo disables nothing: harmless, so a warning (once per
    process), not an error; a real name (a built-in's entry point) gives no warning."""
    from ganbench import cli
    from ganbench import registry as plugins

    monkeypatch.setenv("GANBENCH_DISABLE_PLUGINS", "nosuch-plugin,builtin-memory")
    plugins.reset()
    try:
        assert cli.main(["list", "losses"]) == 0
        plugins.reset()
        assert cli.main(["list", "losses"]) == 0
    finally:
        plugins.reset()
    err = capsys.readouterr().err
    assert err.count("GANBENCH_DISABLE_PLUGINS names 'nosuch-plugin'") == 1, err
    assert "builtin-memory" not in err


@pytest.mark.parametrize("what", ["--tensorboard", "--checkpoint-dir", "GANBENCH_CACHE_DIR"])
@pytest.mark.parametrize("where, said", [
    ("", "needs a path, got ''"),
    ("/dev/null", "'/dev/null' exists and is not a directory"),
    ("FILE", "exists and is not a directory"),
    ("/sys/ganbench-unwritable", "cannot write to"),  # not even root may create it
])
def test_worker_directories_are_checked_before_training(what, where, said, tmp_path, capsys,
                                                        monkeypatch):
    """Like --out: one line, exit 2, before any run trains (not a failure in every run)."""
    from ganbench import cli

    if where == "FILE":
        where = str(tmp_path / "file")
        (tmp_path / "file").write_text("keep")
    if what.startswith("--"):
        extra = [what, where]
    else:
        extra = []
        monkeypatch.setenv(what, where)
    assert cli.main(["run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                     "5steps", "-q", "--no-calibration", "--executor", "local",
                     "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert what in err and said in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.glob("o/*.json"))
    assert not os.path.exists("/sys/ganbench-unwritable")


def test_disk_full_writing_a_result_file_is_one_line_and_earlier_results_stay(
        tmp_path, capsys, monkeypatch):
    import errno

    from ganbench import cli
    from ganbench.store import results

    real, written = results.write_run, []

    def full_after_one(out, meta, rows):
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(real(out, meta, rows))
        return written[-1]

    monkeypatch.setattr(results, "write_run", full_after_one)
    out = tmp_path / "o"
    assert cli.main(["run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                     "5steps", "--seeds", "0,1", "-q", "--no-calibration", "--executor",
                     "local", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "seed 1" in err, err
    assert len(err.strip().splitlines()) == 1, err
    (first,) = written
    assert results.read_run(first)["meta"]["status"] == "completed"  # intact
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".json") == [first.name]


def test_fid_cache_others_could_write_is_refused_before_training(tmp_path, capsys, monkeypatch):
    """torch-fidelity loads its cached statistics with pickle: a cache folder group or others
    may write is refused (one line, exit 2), not loaded."""
    from ganbench import cli

    (tmp_path / "cache" / "fidelity").mkdir(parents=True)
    os.chmod(tmp_path / "cache" / "fidelity", 0o777)
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path / "cache"))
    assert cli.main(["run", "--variant", "non-saturating", "--dataset", "ring8", "--budget",
                     "5steps", "-q", "--no-calibration", "--executor", "local",
                     "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "the FID statistics cache" in err and "may be written by others" in err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.glob("o/*.json")), err


def test_private_dir_accepts_the_users_own_private_group(tmp_path):
    """umask 002 with a group of one (named after the user): its write bit admits no one."""
    from ganbench.execution.launch import _own_group, private_dir

    d = tmp_path / "d"
    d.mkdir()
    os.chmod(d, 0o770)
    if not _own_group(os.stat(d).st_gid):
        pytest.skip("this user has no private group of its own")
    assert private_dir(str(d), "a folder", "files", "nothing") == str(d)
