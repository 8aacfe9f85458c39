"""Validated input (property-based), safe names, locks, robust loading, plugin sources."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganbench import cli
from ganbench import registry as plugins
from ganbench.store import results
from ganbench.planning.budget import Budget, parse_seeds
from ganbench.api.errors import PluginError, UsageError
from ganbench.execution.runlock import RunLock
from ganbench.store.safepath import check_name, safe_child

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
text = st.text(max_size=40)
numbery = st.from_regex(r"\A[ 0-9.,\-kKmM]{0,12}(img|steps?|s|min|x|)?\Z")


@FUZZ
@given(st.one_of(text, numbery))
def test_budget_parser_never_crashes(s):
    try:
        b = Budget.parse(s)
    except UsageError as exc:
        assert "invalid budget" in str(exc) and "\n" not in str(exc)
        return
    assert b.kind in ("images", "steps", "seconds") and 0 < b.amount <= 1e12
    assert Budget.parse(str(b)) == b  # what is printed parses back to the same budget


def test_huge_budget_is_a_usage_error_not_an_overflow():
    with pytest.raises(UsageError, match="positive"):
        Budget.parse("9" * 400 + "img")


@FUZZ
@given(st.one_of(text, st.from_regex(r"\A[0-9, \-]{0,20}\Z")))
def test_seed_parser_never_crashes(s):
    try:
        seeds = parse_seeds(s)
    except UsageError as exc:
        assert "invalid seeds" in str(exc)
        return
    assert seeds and all(x >= 0 for x in seeds) and len(set(seeds)) == len(seeds)


OPTIONS = ["--budget", "--seeds", "--device", "--variant", "--dataset", "--suite", "--lr",
           "--k", "--batch-size", "--betas", "--evals", "--eval-every", "--eval-samples",
           "--model", "--loss", "--z-dim", "--data-root"]


def _call(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse: usage errors and --help
        code = exc.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(OPTIONS), text), max_size=3))
def test_cli_run_never_tracebacks(tmp_path, capsys, pairs):
    argv = ["run", "--all", "--dry-run", "--out", str(tmp_path / "o")]
    for option, value in pairs:
        argv += [option, value]
    code, err = _call(argv, capsys)
    assert code in (0, 2), (argv, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ganbench"), err


@FUZZ
@given(st.sampled_from(["run", "list", "results", "compare", "plugins", "frobnicate"]),
       st.lists(text, max_size=3))
def test_cli_commands_never_traceback(tmp_path, capsys, monkeypatch, command, rest):
    monkeypatch.chdir(tmp_path)  # relative paths land in the test's directory
    argv = [command, *rest] + (["--dry-run"] if command == "run" else [])
    code, err = _call(argv, capsys)
    assert code in (0, 2), (argv, err)


@pytest.mark.parametrize("argv,fragment", [
    (["--all", "--force", "--resume"], "contradict"),
    (["--all", "--evals", "3", "--eval-every", "5"], "not both"),
    (["--all", "--eval-samples", "99999999"], "at most"),
    (["--all", "--out", "a\0b"], "NUL"),
    (["--all", "--budget", "1e400img"], "invalid budget"),
    (["--all", "--device", "cuda:-1"], "device"),
])
def test_bad_run_options_are_one_line_exit_2(argv, fragment, capsys, tmp_path):
    if "--out" not in argv:
        argv = argv + ["--out", str(tmp_path / "o")]
    code, err = _call(["run", *argv], capsys)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("precious")
    code, err = _call(["run", "--all", "--out", str(f)], capsys)
    assert code == 2 and "not a directory" in err
    assert f.read_text() == "precious"


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "", "a\0b", "x" * 300,
                                  "/etc/passwd", "a\\b"])
def test_unsafe_run_names_are_refused(tmp_path, name):
    with pytest.raises(UsageError, match="unsafe run name"):
        results.run_path(tmp_path, name)


def test_run_files_stay_inside_the_output_directory(tmp_path):
    assert check_name("dcgan[mlp+minimax]__digits__s0__0123456789")
    p = safe_child(tmp_path, "ok__run", ".json")
    assert p.parent == tmp_path
    (tmp_path / "link").symlink_to("/tmp")
    with pytest.raises(UsageError, match="outside"):
        safe_child(tmp_path, "link")
    with pytest.raises(UsageError):
        results.write_run(tmp_path, {"run_id": "../../escape"}, [])
    assert not (tmp_path.parent.parent / "escape.json").exists()


def test_loader_reports_and_skips_bad_files(tmp_path):
    # the schema requires what a table groups by: run id, variant, dataset
    meta = {"run_id": "good", "variant": "v", "dataset": "d", "status": "completed"}
    results.write_run(tmp_path, meta, [{"step": 0, "metric": "m", "value": 1.0}])
    (tmp_path / "rows-not-objects.json").write_text(
        json.dumps({"format": results.FORMAT, "meta": {}, "rows": [1, 2]}))
    (tmp_path / "deep.json").write_text("[" * 100000)
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "broken.csv").write_bytes(b"a,b\n\"unterminated")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    warnings = []
    df = results.load([tmp_path, tmp_path / "broken.csv", tmp_path / "broken.parquet"],
                      warn=warnings.append)
    assert df["run_id"].tolist() == ["good"]
    named = " ".join(warnings)
    for name in ("rows-not-objects.json", "deep.json", "binary.json", "broken.csv",
                 "broken.parquet"):
        assert name in named, name
    assert not any("good.json" in w for w in warnings)


def test_result_files_contain_no_pickle(tmp_path):
    p = results.write_run(tmp_path, {"run_id": "r", "status": "completed"},
                          [{"step": 0, "metric": "m", "value": float("nan")}])
    json.loads(p.read_text().replace("NaN", "null"))  # plain JSON text


def test_run_lock_is_exclusive_and_dies_with_its_process(tmp_path):
    a, b = RunLock(tmp_path, "run"), RunLock(tmp_path, "run")
    assert a.acquire() and not b.acquire()  # held (another open file, same process)
    a.release()
    assert not a.path.exists()
    assert b.acquire()
    b.release()
    # files that no live process holds are free, whatever they say: left by a killed run,
    # empty, garbage, or naming a live unrelated PID (PID reuse after a reboot)
    for text in (f"999999999 {os.uname().nodename}\n", "", "garbage\n",
                 f"{os.getppid()} {os.uname().nodename}\n", "1 some-other-host\n"):
        RunLock(tmp_path, "run").path.write_text(text)
        lock = RunLock(tmp_path, "run")
        assert lock.acquire(), text
        assert lock.owner() == f"{os.getpid()} {os.uname().nodename}"
        lock.release()
    # a lock held by another process is respected until that process dies (SIGKILL)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from ganbench.execution.runlock import RunLock\n"
         f"assert RunLock({str(tmp_path)!r}, 'run').acquire(); print('held', flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = RunLock(tmp_path, "run")
        assert not lock.acquire()
        assert lock.owner() == f"{holder.pid} {os.uname().nodename}"
    finally:
        holder.kill()
        holder.wait()
    assert RunLock(tmp_path, "run").acquire()


def test_run_lock_that_is_not_a_regular_file_is_refused(tmp_path):
    lock = RunLock(tmp_path, "run")
    lock.path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(lock.path)
    with pytest.raises(UsageError, match="not a regular file"):
        lock.acquire()


def test_plugins_load_only_from_entry_points(tmp_path, monkeypatch):
    """A module on sys.path that is not an installed entry point is never imported, even when
    GANBENCH_LOAD_PLUGINS names it."""
    (tmp_path / "sneaky_plugin.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('imported').write_text('yes')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "sneaky_plugin,sneaky_plugin:x")
    plugins.reset()
    with pytest.raises(PluginError, match="names 'sneaky_plugin', 'sneaky_plugin:x': no "
                       "installed plugin"):  # named, not imported, and not silently skipped
        plugins.registries()
    assert "sneaky_plugin" not in sys.modules
    assert not (tmp_path / "imported").exists()
