"""Executors (processes, ray, slurm through submitit) give the rows the local executor gives,
keep the exactly-once and resume semantics, and the errors are one line with exit code 2.

The Ray tests start a real single-node cluster on loopback (``ray start --head --block``) and
stop it after (about 60-90 s in all on 2 cores); they skip when Ray is not installed. The
Slurm tests start a real single-node Slurm (tests/slurm_cluster.py) and stop it after (about
120 s in all); they skip, with the reason, without root or the Debian packages slurm-wlm and
munge.
"""

import importlib.util
import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ganbench import cli
from ganbench.store import results
from ganbench.store.safepath import STATE_DIR

import slurm_cluster
from conftest import free_port, install_plugin, run_cli

BASE = ["--variant", "non-saturating", "--dataset", "ring8", "--budget", "20steps",
        "--evals", "2", "--eval-samples", "200", "--no-calibration", "-q"]
ENV = {"OMP_NUM_THREADS": "1"}
HAVE_RAY = importlib.util.find_spec("ray") is not None
HAVE_SUBMITIT = importlib.util.find_spec("submitit") is not None

KILLER = textwrap.dedent('''
    """Kills the process training seed 1 once, at its last evaluation (after the checkpoint
    of step 10): a worker killed mid-job."""
    import os, signal
    from ganbench import hookimpl
    from ganbench.api.specs import MetricSpec

    MARK = {mark!r}

    def compute(ctx):
        if ctx.step >= 20 and not os.path.exists(MARK):
            with open(MARK, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return []

    @hookimpl
    def ganbench_register_metrics(register):
        register(MetricSpec("killer", compute, "kills its worker once",
                            applies=lambda ctx: ctx.job.seed == 1))
''')


def comparable(out):
    """Rows as numbers (machine metrics and wall-clock aside), one per run x step x metric."""
    df = results.load(out)
    df = df[~df["metric"].isin(results.MACHINE_METRICS)]
    cols = ["run_id", "status", "step", "images_seen", "metric", "value"]
    return df[cols].sort_values(["run_id", "step", "metric"]).reset_index(drop=True)


def no_leftovers(out):
    state = Path(out) / STATE_DIR
    left = list(state.iterdir()) if state.exists() else []
    assert left == [], left  # no checkpoint or lock left behind


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The local executor's rows for seeds 0-3."""
    out = tmp_path_factory.mktemp("local") / "runs"
    r = run_cli("run", *BASE, "--seeds", "0-3", "--out", str(out), env=ENV)
    assert r.returncode == 0, r.stderr
    return comparable(out)


@pytest.fixture(scope="module")
def killer_site(tmp_path_factory):
    base = tmp_path_factory.mktemp("killer")
    mark = base / "killed-once"
    site = install_plugin(base / "site", "killer_plugin", KILLER.format(mark=str(mark)),
                          "killer-plugin", "1.0", "killer")
    return site, mark


def killer_env(site):
    return {**ENV, "GANBENCH_LOAD_PLUGINS": "killer",
            "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}


def check_killed_run(out, reference, mark, stderr):
    """Seed 1 was killed once mid-job, re-run from its step-10 checkpoint, and completed once
    with exactly the rows of an uninterrupted local run."""
    import pandas as pd

    assert mark.exists(), "the worker was never killed"
    got = comparable(out)
    want = reference[reference["run_id"].isin(set(got["run_id"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    (seed1,) = [p for p in Path(out).glob("*__s1__*.json")]
    meta = results.read_run(seed1)["meta"]
    assert meta["status"] == "completed" and meta["resumed_from_step"] == 10
    assert stderr.count("(seed 1, 20steps): completed") == 1, stderr
    no_leftovers(out)


# ------------------------------------------------------------------------- errors, options


@pytest.mark.parametrize("args, message", [
    (["--executor", "processes", "--jobs", "0"], "--jobs must be at least 1"),
    (["--jobs", "2"], "--jobs needs a parallel executor"),
    (["--executor", "rai"], "unknown executor 'rai'"),
    (["--executor-option", "novalue"], "--executor-option needs KEY=VALUE"),
    (["--executor", "processes", "--executor-option", "k=v"], "'processes' takes none"),
    (["--executor", "processes", "--threads", "1000000000"], "--threads 1000000000 is more"),
    (["--executor", "slurm", "--cpus-per-job", "5000"], "--cpus-per-job 5000 is more"),
    (["--executor", "ray", "--gpus-per-job", "100"], "--gpus-per-job 100 is more"),
])
def test_bad_executor_options_are_one_line_exit_2(args, message, tmp_path, capsys):
    assert cli.main(["run", *BASE, "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("executor, extra", [("ray", "ganbench[ray]"),
                                             ("slurm", "ganbench[slurm]")])
def test_missing_engine_is_one_line_exit_2(executor, extra, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray" if executor == "ray" else "submitit", None)
    assert cli.main(["run", *BASE, "--out", str(tmp_path / "o"), "--executor", executor]) == 2
    err = capsys.readouterr().err
    assert f"pip install '{extra}'" in err and len(err.strip().splitlines()) == 1, err


def test_no_ray_cluster_is_one_line_exit_2(tmp_path):
    if not HAVE_RAY:
        pytest.skip("ray is not installed (pip install -e '.[ray]')")
    port = free_port()  # nothing listens there
    r = run_cli("run", *BASE, "--out", str(tmp_path / "o"), "--executor", "ray",
                "--ray-address", f"127.0.0.1:{port}", env={**ENV, "RAY_ADDRESS": None},
                timeout=60)
    assert r.returncode == 2, r.stderr
    assert f"no Ray cluster at '127.0.0.1:{port}'" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("address", ["not an address", "", "127.0.0.1:-5", "host:0",
                                     "host:65536", ":6379", "ray://host"])
def test_malformed_ray_address_is_one_line_exit_2_before_ray(address, tmp_path, capsys,
                                                              monkeypatch):
    """Checked before Ray is imported (Ray would retry it for a minute): ray is absent here."""
    monkeypatch.setitem(sys.modules, "ray", None)
    assert cli.main(["run", *BASE, "--out", str(tmp_path / "o"), "--executor", "ray",
                     "--ray-address", address]) == 2
    err = capsys.readouterr().err
    assert f"--ray-address {address!r} is not a Ray cluster address" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_malformed_ray_address_env_is_named(monkeypatch):
    from ganbench.api.errors import UsageError
    from ganbench.execution.executors.ray_engine import check_address

    for ok in ("auto", "local", "10.0.0.1:6379", "ray://head.lab:10001", "[::1]:6379"):
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        assert check_address(ok) == ok
    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    assert check_address("auto") == "head:6379"
    monkeypatch.setenv("RAY_ADDRESS", "head:port")
    with pytest.raises(UsageError, match="RAY_ADDRESS='head:port' is not"):
        check_address("auto")


@pytest.mark.parametrize("value", ["bogus", "Local", "a\nb"])
@pytest.mark.parametrize("flag", [[], ["--executor", "local"]])
def test_unknown_ganbench_executor_env_is_refused(value, flag, tmp_path, capsys, monkeypatch):
    """$GANBENCH_EXECUTOR naming no executor is refused, even when --executor overrides it."""
    monkeypatch.setenv("GANBENCH_EXECUTOR", value)
    assert cli.main(["run", *BASE, "--out", str(tmp_path / "o"), "--dry-run", *flag]) == 2
    err = capsys.readouterr().err
    assert f"GANBENCH_EXECUTOR={value!r} names no executor" in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o").exists(), err


def slurm_args(tmp_path, logs):
    from argparse import Namespace

    return Namespace(slurm_logs=str(logs) if logs else None, out=str(tmp_path / "o"),
                     device="cpu", gpus_per_job=None, slurm_time=5, cpus_per_job=1,
                     slurm_mem_gb=None, slurm_partition=None, slurm_cluster="local",
                     slurm_array=False, jobs=None)


def test_slurm_folder_is_created_private(tmp_path):
    if not HAVE_SUBMITIT:
        pytest.skip("submitit is not installed (pip install -e '.[slurm]')")
    from ganbench.execution.executors import slurm

    ex = slurm.build(slurm_args(tmp_path, None))
    folder = tmp_path / "o" / ".submitit"
    assert ex.ex.folder == folder and folder.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("case", ["world", "group", "foreign", "file"])
def test_slurm_folder_others_could_write_is_refused(case, tmp_path, capsys, monkeypatch):
    """submitit's folder holds the pickles the driver unpickles: refused, one line, exit 2,
    when another user owns it or group/others may write it (before anything is submitted)."""
    if not HAVE_SUBMITIT:
        pytest.skip("submitit is not installed (pip install -e '.[slurm]')")
    logs = tmp_path / "logs"
    if case == "file":
        logs.write_text("")
    else:
        logs.mkdir(mode=0o700)
        os.chmod(logs, {"world": 0o777, "group": 0o770, "foreign": 0o700}[case])
    if case == "group":  # a group of others (the user's own private group would be fine)
        if os.geteuid() != 0:
            pytest.skip("needs root to give the folder another group")
        os.chown(logs, -1, 65534)
    if case == "foreign":
        uid = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: uid + 1)
    assert cli.main(["run", *BASE, "--out", str(tmp_path / "o"), "--executor", "slurm",
                     "--slurm-cluster", "local", "--slurm-logs", str(logs)]) == 2
    err = capsys.readouterr().err
    said = {"world": "may be written by others (mode 777)",
            "group": "may be written by group 65534 (mode 770)",
            "foreign": f"is owned by another user (uid {os.stat(logs).st_uid})",
            "file": "cannot create submitit's folder"}[case]
    assert said in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.glob("o/*.json"))


@pytest.mark.parametrize("device, cores, gpus, threads, jobs, n, want", [
    ("cpu", 2, 0, None, None, 42, ("processes", 2)),  # the quick suite on this machine
    ("cpu", 16, 0, None, None, 5, ("processes", 5)),  # never more workers than jobs
    ("cpu", 16, 0, 4, None, 42, ("processes", 4)),  # --threads 4: 16 cores / 4
    ("cpu", 2, 0, None, None, 1, ("local", None)),
    ("cpu", 1, 0, None, None, 42, ("local", None)),
    ("cpu", 2, 0, 2, None, 42, ("local", None)),
    ("cpu", 2, 0, None, 3, 42, ("processes", 3)),  # --jobs asks for processes
    ("cuda", 16, 1, None, None, 42, ("local", None)),  # one GPU: one job at a time
    ("cuda", 16, 4, None, None, 42, ("processes", 4)),  # one worker per GPU
    ("cuda:1", 16, 4, None, None, 42, ("local", None)),  # a GPU named: that one alone
])
def test_auto_executor(device, cores, gpus, threads, jobs, n, want, monkeypatch):
    from argparse import Namespace

    import torch

    from ganbench.execution import executors

    monkeypatch.setattr(executors, "cpu_count", lambda: cores)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    args = Namespace(executor="auto", jobs=jobs, threads=threads)
    assert executors.choose(args, torch.device(device), n) == want[0]
    assert (args.executor, args.jobs if want[0] == "processes" else None) == want


def test_auto_is_the_default_executor(monkeypatch, tmp_path):
    """Without GANBENCH_EXECUTOR, several CPU jobs train in single-thread worker processes, one
    per core (a worker trains one job after another)."""
    from ganbench.execution.executors.processes import cpu_count

    if cpu_count() < 2:
        pytest.skip("auto picks processes only on a machine with 2+ cores")
    monkeypatch.delenv("GANBENCH_EXECUTOR")
    out = tmp_path / "runs"
    r = run_cli("run", *BASE[:-1], "--seeds", "0-2", "--out", str(out), "--device", "cpu",
                env={**ENV, "GANBENCH_EXECUTOR": None})  # cpu: on a 1-GPU machine auto is local
    assert r.returncode == 0, r.stderr
    workers = min(cpu_count(), 3)
    assert f"executor processes ({workers} workers, {cpu_count() // workers} CPU" in r.stderr
    metas = [results.read_run(p)["meta"] for p in out.glob("*.json")]
    assert len(metas) == 3 and {m["executor"] for m in metas} == {"processes"}
    assert len({m["pid"] for m in metas}) == workers


def test_processes_split_threads_between_workers(monkeypatch):
    from argparse import Namespace

    from ganbench.execution.executors import processes

    monkeypatch.setattr(processes, "cpu_count", lambda: 8)
    args = Namespace(device="cpu", jobs=3, threads=None)
    ex = processes.build(args)
    assert (ex.slots, ex.threads, ex.gpus) == (3, 2, [None, None, None])
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    ex = processes.build(Namespace(device="auto", jobs=None, threads=None))
    assert ex.slots == 2 and ex.gpus == ["0", "1"] and ex.threads == 4  # one GPU per worker


# ------------------------------------------------------------------------------ processes


@pytest.mark.slow
def test_processes_two_workers_give_the_local_rows(reference, tmp_path):
    import pandas as pd

    out = tmp_path / "runs"
    r = run_cli("run", *BASE[:-1], "--seeds", "0-3", "--out", str(out), "--executor",
                "processes", "--jobs", "2", env=ENV)
    assert r.returncode == 0, r.stderr
    assert "processes (2 workers, 1 CPU thread(s) each)" in r.stderr
    assert "ganbench: jobs: 4 done, 0 running or queued, 0 failed, 0 to go" in r.stderr
    pd.testing.assert_frame_equal(comparable(out), reference)
    metas = [results.read_run(p)["meta"] for p in out.glob("*.json")]
    assert {m["executor"] for m in metas} == {"processes"} and {m["threads"] for m in metas} == {1}
    assert len({m["pid"] for m in metas}) == 2  # 4 jobs on 2 workers: each trains 2
    no_leftovers(out)
    r = run_cli("run", *BASE[:-1], "--seeds", "0-3", "--out", str(out), "--executor", "processes",
                "--jobs", "2", env=ENV)  # rerun: everything is done
    assert r.returncode == 0 and "4 already done there" in r.stderr


@pytest.mark.slow
def test_processes_killed_worker_is_retried_from_its_checkpoint(reference, killer_site,
                                                                 tmp_path):
    site, mark = killer_site
    mark.unlink(missing_ok=True)
    out = tmp_path / "runs"
    r = run_cli("run", *BASE[:-1], "--seeds", "0,1", "--out", str(out), "--executor",
                "processes", "--jobs", "2", env=killer_env(site))
    assert r.returncode == 0, r.stderr
    assert "killed by SIGKILL" in r.stderr and "retrying (1 of 2)" in r.stderr
    check_killed_run(out, reference, mark, r.stderr)


@pytest.mark.slow
def test_processes_killed_worker_without_retries_fails_and_rerun_resumes(reference,
                                                                          killer_site, tmp_path):
    site, mark = killer_site
    mark.unlink(missing_ok=True)
    out = tmp_path / "runs"
    cmd = ["run", *BASE[:-1], "--seeds", "1", "--out", str(out), "--executor", "processes",
           "--retries", "0"]
    r = run_cli(*cmd, env=killer_env(site))
    assert r.returncode == 1, r.stderr
    assert "1 of 1 run(s) did not complete" in r.stderr and "WorkerDied" in r.stderr
    r = run_cli(*cmd, env=killer_env(site))  # the rerun resumes from the kept checkpoint
    assert r.returncode == 0, r.stderr
    assert "resuming from its last checkpoint" in r.stderr
    check_killed_run(out, reference, mark, r.stderr)


SLEEPER = textwrap.dedent('''
    """Once (while $SLEEPER_MARK does not exist), at the last evaluation (after the checkpoint
    of step 10), writes its process id there and sleeps: a worker busy mid-job."""
    import os, time
    from ganbench import hookimpl
    from ganbench.api.specs import MetricSpec

    def compute(ctx):
        mark = os.environ["SLEEPER_MARK"]
        if ctx.step >= 20 and not os.path.exists(mark):
            with open(mark + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.replace(mark + ".tmp", mark)
            time.sleep(300)
        return []

    @hookimpl
    def ganbench_register_metrics(register):
        register(MetricSpec("sleeper", compute, "sleeps in its worker once"))
''')


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie nobody reaped yet counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["KILL", "TERM"])
def test_processes_workers_die_with_their_driver_and_a_rerun_resumes(sig, tmp_path):
    """kill -9 (or -TERM) of the driver mid-sweep: its worker does not train on as an orphan
    of init, and the same command then resumes the run from its checkpoint."""
    site = install_plugin(tmp_path / "site", "sleeper_plugin", SLEEPER, "sleeper-plugin",
                          "1.0", "sleeper")
    mark = tmp_path / "mark"
    env = {**os.environ, **ENV, "GANBENCH_LOAD_PLUGINS": "sleeper", "SLEEPER_MARK": str(mark),
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "runs"
    args = ["run", *BASE[:-1], "--seeds", "0", "--out", str(out), "--executor", "processes"]
    with open(tmp_path / "driver.log", "w") as log:
        driver = subprocess.Popen([sys.executable, "-m", "ganbench", *args], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not mark.exists():
            assert driver.poll() is None, (tmp_path / "driver.log").read_text()
            assert time.monotonic() < deadline, "the worker never reached its evaluation"
            time.sleep(0.2)
        worker = int(mark.read_text())
        assert worker != driver.pid and not gone(worker)
        driver.send_signal(sig)
        driver.wait(30)
        deadline = time.monotonic() + 5
        while not gone(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(worker), f"worker {worker} outlived its driver ({sig.name})"
    finally:
        if driver.poll() is None:
            driver.kill()
    if sig != signal.SIGKILL:
        return  # the rerun after kill -9 is the harder case
    r = run_cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    assert "resuming from its last checkpoint" in r.stderr
    (path,) = out.glob("*__s0__*.json")
    meta = results.read_run(path)["meta"]
    assert meta["status"] == "completed" and meta["resumed_from_step"] == 10
    no_leftovers(out)


# ----------------------------------------------------------------------------------- ray


@pytest.fixture(scope="module")
def ray_cluster(killer_site):
    """A real single-node Ray cluster on loopback, 2 CPUs; stopped (its whole process group)
    after the module."""
    if not HAVE_RAY:
        pytest.skip("ray is not installed (pip install -e '.[ray]')")
    site, _mark = killer_site
    port = free_port()
    temp = Path(f"/tmp/gbray-{os.getpid()}")  # short: Ray's socket paths have a length limit
    ray_bin = str(Path(sys.executable).parent / "ray")
    env = {**os.environ, **killer_env(site), "GANBENCH_LOAD_PLUGINS": ""}
    proc = subprocess.Popen([ray_bin, "start", "--head", "--block", "--node-ip-address",
                             "127.0.0.1", "--port", str(port), "--num-cpus", "2",
                             "--num-gpus", "0", "--include-dashboard", "false",
                             "--temp-dir", str(temp), "--disable-usage-stats"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while subprocess.run([ray_bin, "status", "--address", address], capture_output=True,
                         env=env).returncode != 0:
        assert proc.poll() is None, "ray start --head exited"
        assert time.monotonic() < deadline, "the Ray cluster did not come up in 120 s"
        time.sleep(1)
    yield address
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    shutil.rmtree(temp, ignore_errors=True)


def ray_run(address, out, seeds, env=ENV, quiet=True):
    args = BASE if quiet else BASE[:-1]
    return ["run", *args, "--seeds", seeds, "--out", str(out), "--executor", "ray",
            "--ray-address", address], env


@pytest.mark.slow
def test_ray_sweep_gives_the_local_rows(ray_cluster, reference, tmp_path):
    import pandas as pd

    out = tmp_path / "runs"
    args, env = ray_run(ray_cluster, out, "0-3", quiet=False)
    r = run_cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    assert "ray (2 CPUs, 0 GPUs in the cluster; 1 CPU(s) and 0 GPU(s) per job" in r.stderr
    pd.testing.assert_frame_equal(comparable(out), reference)
    assert {results.read_run(p)["meta"]["executor"] for p in out.glob("*.json")} == {"ray"}
    no_leftovers(out)


@pytest.mark.slow
def test_ray_killed_worker_completes_exactly_once(ray_cluster, reference, killer_site,
                                                  tmp_path):
    site, mark = killer_site
    mark.unlink(missing_ok=True)
    out = tmp_path / "runs"
    args, _ = ray_run(ray_cluster, out, "0,1", quiet=False)
    r = run_cli(*args, env=killer_env(site))
    assert r.returncode == 0, r.stderr
    check_killed_run(out, reference, mark, r.stderr)


@pytest.mark.slow
def test_two_ray_drivers_on_one_output_directory_never_train_a_run_twice(ray_cluster,
                                                                        reference, tmp_path):
    import pandas as pd

    out = tmp_path / "runs"
    full = {**os.environ, "GANBENCH_LOAD_PLUGINS": "", **ENV}
    procs = []
    for seeds in ("0-2", "1-3"):  # seeds 1 and 2 are asked for by both
        args, _ = ray_run(ray_cluster, out, seeds, quiet=False)
        procs.append(subprocess.Popen([sys.executable, "-m", "ganbench", *args], env=full,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr
    trained = "".join(err for _, err in outs)
    for seed in range(4):  # each run trained exactly once, by one of the two drivers
        assert trained.count(f"(seed {seed}, 20steps): completed") == 1, trained
    pd.testing.assert_frame_equal(comparable(out), reference)
    no_leftovers(out)


# --------------------------------------------------------------------------------- slurm


@pytest.mark.slow
def test_slurm_through_submitit_local_executor_gives_the_local_rows(reference, tmp_path):
    import pandas as pd

    if not HAVE_SUBMITIT:
        pytest.skip("submitit is not installed (pip install -e '.[slurm]')")
    out = tmp_path / "runs"
    r = run_cli("run", *BASE[:-1], "--seeds", "0-3", "--out", str(out), "--executor", "slurm",
                "--slurm-cluster", "local", "--slurm-array", "--jobs", "2", env=ENV)
    assert r.returncode == 0, r.stderr
    assert "submitit cluster 'local', job array" in r.stderr
    pd.testing.assert_frame_equal(comparable(out), reference)
    no_leftovers(out)


def test_slurm_job_out_of_squeue_without_a_result_died_after_a_grace(monkeypatch):
    """Without accounting submitit never learns that a job died; the executor tells it from
    squeue: out of the queue (an array's tasks one by one) for GONE_GRACE_S, no result."""
    import types

    from ganbench.execution.executors import slurm

    class Job:  # a submitit job with no state (sacct answers nothing) and no result file
        state = "UNKNOWN"

        def __init__(self, job_id):
            self.job_id = job_id

        def done(self):
            return False

    ex = slurm.SlurmExecutor.__new__(slurm.SlurmExecutor)
    ex.ex, ex._missing, ex._asked = types.SimpleNamespace(cluster="slurm"), {}, -1e9
    ex.jobs = {1: (Job("7"), None), 2: (Job("8_1"), None), 3: (Job("8_2"), None)}
    clock, queue = [1000.0], {"rc": 0, "out": "8_1\n8_2\n9"}
    monkeypatch.setattr(slurm, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(slurm.subprocess, "run", lambda *a, **k: types.SimpleNamespace(
        returncode=queue["rc"], stdout=queue["out"]))

    def later(s):
        clock[0] += s
        return ex._gone()

    assert later(0) == set()  # 7 is out of the queue from now on
    assert later(1) == set()  # squeue is not asked again before SQUEUE_EVERY_S
    queue["out"] = "8_1"
    assert later(slurm.SQUEUE_EVERY_S) == set()  # 8_2 too, neither for GONE_GRACE_S yet
    queue["rc"] = 1  # slurmctld not answering: nothing is told
    assert later(slurm.GONE_GRACE_S) == set()
    queue["rc"] = 0
    assert later(0.5 * slurm.GONE_GRACE_S) == {"7", "8_2"}
    assert "8_1" not in ex._missing


@pytest.fixture(scope="module")
def slurm_env():
    """A real, throw-away single-node Slurm cluster on this machine (tests/slurm_cluster.py:
    munged, slurmctld and slurmd in a temporary directory, 2-5 s to start), stopped after the
    module; yields the environment its clients need (SLURM_CONF). Skips with the reason when it
    cannot be started (Debian packages slurm-wlm and munge missing, not root, a daemon that
    does not come up)."""
    if not HAVE_SUBMITIT:
        pytest.skip("submitit is not installed (pip install -e '.[slurm]')")
    try:
        with slurm_cluster.single_node() as env:
            yield env
    except slurm_cluster.Unavailable as exc:
        pytest.skip(f"no single-node Slurm cluster could be started here: {exc}"[:1500])


def slurm_run(slurm_env, reference, out, seeds, *extra, env=ENV):
    """``ganbench run`` of seeds SEEDS on the real cluster, partition debug; checks it gives
    the local executor's rows, each run trained in a Slurm job; returns (the jobs' ids, the
    run's stderr)."""
    import pandas as pd

    r = run_cli("run", *BASE[:-1], "--seeds", seeds, "--out", str(out), "--executor", "slurm",
                "--slurm-cluster", "slurm", "--slurm-partition", "debug", "--slurm-time", "5",
                *extra, env={**env, **slurm_env}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "slurm (submitit cluster 'slurm'" in r.stderr and "slurm_partition=debug" in r.stderr
    assert "sacct" not in r.stderr and "accounting" not in r.stderr, r.stderr  # no noise
    got = comparable(out)
    want = reference[reference["run_id"].isin(set(got["run_id"]))].reset_index(drop=True)
    assert got["run_id"].nunique() == len(seeds.split(","))
    pd.testing.assert_frame_equal(got, want)
    metas = [results.read_run(p)["meta"] for p in out.glob("*.json")]
    assert {m["executor"] for m in metas} == {"slurm"} and {m["threads"] for m in metas} == {1}
    ids = sorted(m["slurm_job_id"] for m in metas)  # recorded by the worker from SLURM_JOB_ID
    assert len(set(ids)) == len(metas), ids
    folder = out / ".submitit"  # submitit's job scripts and logs, by Slurm job id
    for job_id in ids:
        assert (folder / f"{job_id}_0_log.out").exists(), sorted(folder.iterdir())
        script = (folder / f"{job_id.split('_')[0]}_submission.sh").read_text()
        assert "#SBATCH --partition=debug" in script and "#SBATCH --time=5" in script, script
    no_leftovers(out)
    return ids, r.stderr


@pytest.mark.slow
def test_slurm_real_cluster_one_job_per_run(slurm_env, reference, tmp_path):
    """Two runs, two Slurm jobs (about 20 s here on 2 cores, the cluster's start aside)."""
    ids, _ = slurm_run(slurm_env, reference, tmp_path / "runs", "0,1")
    assert all(i.isdigit() for i in ids), ids  # plain jobs, not an array's tasks


@pytest.mark.slow
def test_slurm_real_cluster_job_array(slurm_env, reference, tmp_path):
    """Two runs as one Slurm job array of two tasks, at most one running (about 30 s here)."""
    ids, _ = slurm_run(slurm_env, reference, tmp_path / "runs", "2,3", "--slurm-array",
                       "--jobs", "1")
    assert len({i.split("_")[0] for i in ids}) == 1 and \
        sorted(i.split("_")[1] for i in ids) == ["0", "1"], ids


@pytest.mark.slow
def test_slurm_real_cluster_killed_job_is_resubmitted_from_its_checkpoint(
        slurm_env, reference, killer_site, tmp_path):
    """Seed 1's job is SIGKILLed at its last evaluation. The cluster has no accounting (sacct
    answers nothing, submitit's state stays UNKNOWN): the executor sees the job leave squeue
    without a result, and it is resubmitted and resumes from its step-10 checkpoint (about
    45 s here)."""
    site, mark = killer_site
    mark.unlink(missing_ok=True)
    out = tmp_path / "runs"
    _ids, stderr = slurm_run(slurm_env, reference, out, "0,1", env=killer_env(site))
    assert "left the queue without a result" in stderr and "retrying (1 of 2)" in stderr
    check_killed_run(out, reference, mark, stderr)


@pytest.mark.parametrize("option, said", [
    (["--slurm-partition", "nosuch"], "invalid partition"),
    (["--gpus-per-job", "1"], "gres"),  # the node has no GPU
    (["--slurm-mem-gb", "1000"], "node configuration is not available"),
])
def test_slurm_real_cluster_refusal_is_one_line_exit_2(option, said, slurm_env, tmp_path):
    """sbatch refuses what the cluster cannot give (the options reach it): one line, exit
    code 2, nothing trained (3-5 s each)."""
    r = run_cli("run", *BASE, "--out", str(tmp_path / "o"), "--executor", "slurm",
                "--slurm-cluster", "slurm", *option, env={**ENV, **slurm_env}, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Slurm refused the job(s)" in r.stderr and said in r.stderr.lower(), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    assert not list((tmp_path / "o").glob("*.json"))


# ------------------------------------------------------------------------------- progress


class Tty(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def _screen(text: str) -> list[str]:
    """What a terminal shows of ``text`` line by line (each carriage return redraws)."""
    return [line.rsplit("\r", 1)[-1] for line in text.split("\n") if line.rsplit("\r", 1)[-1]]


def test_sweep_progress_is_one_bar_on_a_terminal():
    """On a terminal the sweep's counts and the running run's share drive ONE tqdm bar; log
    lines are written above it (not through ``log``); the status line is left out (the bar
    shows it); closing leaves the final counts on screen."""
    from tqdm import tqdm

    from ganbench.execution.progress import SweepProgress

    tty, logged = Tty(), []
    p = SweepProgress(4, logged.append, stream=tty)
    assert isinstance(p.bar, tqdm) and p.bar.total == 4
    p.update(done=0, running=2, failed=0, total=4)
    share = p.job("[1/4] x", quiet=False)
    share.update(0.5)
    assert p.bar.n == 0.5  # half of the first run
    p.update(done=1, running=2, failed=0, total=4)
    assert p.bar.n == 1  # the finished run, its share dropped
    p.log("[1/4] x: completed")
    p.status("ganbench: jobs: 1 done, 2 running or queued, 0 failed, 1 to go")
    p.update(done=3, running=0, failed=1, total=3)  # another driver trained one meanwhile
    p.close()
    assert logged == [] and p.bar is None
    screen = _screen(tty.getvalue())
    assert "[1/4] x: completed" in screen and not any("ganbench: jobs:" in s for s in screen)
    assert screen[-1].startswith("ganbench: 3/3 done, 0 running, 1 failed ")
    assert "\rganbench: 0/4 done, 2 running, 0 failed " in tty.getvalue()  # drawn, then redrawn


def test_sweep_progress_off_a_terminal_and_quiet_are_plain_lines():
    from ganbench.execution.progress import Progress, SweepProgress

    logged: list[str] = []
    stream = io.StringIO()
    p = SweepProgress(2, logged.append, stream=stream)
    p.update(done=1, running=1, failed=0, total=2)
    p.log("[1/2] x: completed")
    p.status("ganbench: jobs: 1 done, 1 running or queued, 0 failed, 0 to go")
    assert isinstance(p.job("[2/2] y", quiet=False), Progress)  # its own plain lines
    p.close()
    assert p.bar is None and stream.getvalue() == ""
    assert logged == ["[1/2] x: completed",
                      "ganbench: jobs: 1 done, 1 running or queued, 0 failed, 0 to go"]
    quiet = SweepProgress(2, logged.append, quiet=True, stream=Tty())
    assert quiet.bar is None and quiet.stream.getvalue() == ""


def test_dispatch_drives_one_bar_whatever_the_executor(tmp_path):
    """dispatch on a terminal, with an executor that runs two jobs at a time and whose worker
    of the second job dies: the bar ends at 3/3 done with 1 failed, each run's line is above
    it, no plain status lines; the same run files as without a bar."""
    from ganbench.execution import executors
    from ganbench.execution.progress import SweepProgress
    from ganbench.execution.worker import Payload, Task
    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import plan
    from ganbench.registry import registries

    reg = registries()
    jobs = plan(reg, variants=["non-saturating"], datasets=["ring8"],
                budget=Budget.parse("10steps"), seeds=[0, 1, 2], evals=1, eval_samples=100)

    class Remote(executors.Executor):  # finishes one task per wait; seed 1's worker dies
        slots = 2

        def __init__(self):
            self.tasks = []

        def submit(self, task):
            self.tasks.append(task)
            return task.job.run_id

        def wait(self, timeout):
            t = self.tasks.pop(0)
            status = "failed" if t.job.seed == 1 else "completed"
            meta = dict(run_id=t.job.run_id, variant=t.job.variant, dataset=t.job.dataset,
                        status=status)
            return [(t.job.run_id, Payload(t.job.run_id, "run", status, meta, [],
                                           detail="WorkerDied: killed" * (status == "failed"),
                                           summary=f"[{t.index}/{t.total}] {t.job.label}: "
                                                   f"{status}"))]

    tty, logged = Tty(), []
    outcomes = executors.dispatch(
        jobs, tmp_path, Remote(), lambda job, i, n: Task(job, i, n, None),
        checkpoint_dir=tmp_path, log=logged.append,
        progress=SweepProgress(len(jobs), logged.append, stream=tty))
    assert [o.status for o in outcomes] == ["completed", "failed", "completed"]
    screen = _screen(tty.getvalue())
    assert logged == [] and screen[-1].startswith("ganbench: 3/3 done, 0 running, 1 failed ")
    assert [s for s in screen if "non-saturating on ring8" in s] == [
        f"[{i}/3] {j.label}: {o.status}" for i, (j, o) in enumerate(zip(jobs, outcomes), 1)]
    assert "\rganbench: 0/3 done, 2 running, 0 failed " in tty.getvalue()
    assert not any("ganbench: jobs:" in s for s in screen)
    assert {results.read_run(p)["meta"]["status"] for p in tmp_path.glob("*.json")} == {
        "completed", "failed"} and len(list(tmp_path.glob("*.json"))) == 3

    logged.clear()  # without a terminal: the plain lines of every run, as before
    executors.dispatch(jobs, tmp_path / "plain", Remote(), lambda job, i, n: Task(job, i, n, None),
                       checkpoint_dir=tmp_path / "plain", log=logged.append, force=True)
    assert sum(line.startswith("ganbench: jobs: ") for line in logged) == 3
    assert logged[-1] == "ganbench: jobs: 3 done, 0 running or queued, 1 failed, 0 to go"
