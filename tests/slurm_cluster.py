"""A throw-away single-node Slurm cluster on this machine, for the tests of the slurm executor.

:func:`single_node` starts ``munged`` (its own key and socket), ``slurmctld -D`` and
``slurmd -D`` with a minimal ``slurm.conf``, everything in one temporary directory: no
accounting, no cgroups, state and spool in the directory, free ports on loopback, one node (this
machine, its CPUs) in one default partition ``debug``. Clients find it through ``SLURM_CONF``
(the environment it yields); the daemons never outlive it: they die with the process that
started them (``PR_SET_PDEATHSIG``) and are stopped, after the cluster's jobs are cancelled,
when the ``with`` block ends. When it cannot come up it raises :class:`Unavailable` with the
reason (a missing binary, not root, the last lines of a daemon's log).

Needs the Debian packages ``slurm-wlm`` and ``munge`` and root (slurmd runs the jobs as the
submitting user, which only root can). About 2-5 s to start here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from conftest import free_port

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo", "scancel")
SBIN = ("/usr/sbin", "/sbin")  # munged, slurmctld, slurmd: not on every user's PATH
START_TIMEOUT_S = 60
PR_SET_PDEATHSIG = 1

CONF = """\
ClusterName=ganbench-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={base}/munge.socket
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


class Unavailable(Exception):
    """No Slurm cluster can be started here; the message says why."""


def which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def missing() -> str:
    """Why no cluster can be started here ('' when one can be tried)."""
    lacking = [b for b in BINARIES if which(b) is None]
    if lacking:
        return (f"{', '.join(lacking)} not installed (Debian: apt-get install slurm-wlm "
                "munge)")
    if os.geteuid() != 0:
        return "starting slurmd (which runs jobs as the submitting user) needs root"
    return ""


def _die_with_parent() -> None:  # in the child, before exec
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return f"{path.name}: " + " | ".join(line.strip() for line in text[-lines:])


@contextlib.contextmanager
def single_node(cpus: int | None = None, mem_mb: int = 2000) -> Iterator[dict[str, str]]:
    """Start the cluster; yields the environment its clients need (``SLURM_CONF``)."""
    reason = missing()
    if reason:
        raise Unavailable(reason)
    base = Path(tempfile.mkdtemp(prefix="gbslurm-", dir="/tmp"))  # short: a socket lives there
    base.chmod(0o711)  # munged: the socket's directory must be searchable by everyone
    procs: list[tuple[str, subprocess.Popen]] = []
    env = {**os.environ, "SLURM_CONF": str(base / "slurm.conf")}

    def start(name: str, *args: str) -> None:
        log = open(base / f"{name}.out", "wb")
        procs.append((name, subprocess.Popen([which(name), *args], env=env, stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True,
                                             preexec_fn=_die_with_parent)))
        log.close()

    def logs() -> str:  # munged logs to its stderr (.out) in the foreground
        return "; ".join(_tail(base / f) for f in ("munged.out", "slurmctld.log", "slurmd.log")
                         if (base / f).exists()) or "no logs"

    def wait_for(what: str, ok) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ok():
            for name, p in procs:
                if p.poll() is not None:
                    raise Unavailable(f"{name} exited with {p.returncode} before {what}: "
                                      f"{logs()}")
            if time.monotonic() > deadline:
                raise Unavailable(f"no {what} in {START_TIMEOUT_S} s: {logs()}")
            time.sleep(0.5)

    try:
        key = base / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        start("munged", "--foreground", "--force", f"--socket={base}/munge.socket",
              f"--key-file={key}", f"--log-file={base}/munged.log",
              f"--pid-file={base}/munged.pid", f"--seed-file={base}/munged.seed")
        wait_for("munge socket", (base / "munge.socket").exists)
        node = socket.gethostname().split(".")[0]
        (base / "state").mkdir()
        (base / "spool").mkdir()
        (base / "slurm.conf").write_text(CONF.format(
            node=node, base=base, ctld_port=free_port(), slurmd_port=free_port(),
            cpus=cpus or len(os.sched_getaffinity(0)), mem_mb=mem_mb))
        start("slurmctld", "-D", "-i")
        start("slurmd", "-D", "-N", node)

        def idle() -> bool:
            try:
                r = subprocess.run(["sinfo", "-h", "-n", node, "-o", "%t"], env=env,
                                   capture_output=True, text=True, timeout=30)
            except subprocess.TimeoutExpired:
                return False
            return r.returncode == 0 and r.stdout.strip() == "idle"

        wait_for(f"idle node '{node}' in sinfo", idle)
        yield {"SLURM_CONF": env["SLURM_CONF"]}
    finally:
        _stop(procs, env)
        shutil.rmtree(base, ignore_errors=True)


def _stop(procs: list[tuple[str, subprocess.Popen]], env: dict[str, str]) -> None:
    """Cancel the cluster's jobs (their steps end with them), then stop the daemons: slurmd,
    slurmctld, munged, each SIGTERM then SIGKILL (its whole session)."""
    if any(name == "slurmctld" and p.poll() is None for name, p in procs):
        with contextlib.suppress(Exception):
            subprocess.run(["scancel", "--full", "--user", "root"], env=env,
                           capture_output=True, timeout=15)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and subprocess.run(
                    ["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True,
                    timeout=15).stdout.strip():
                time.sleep(0.5)
    for _name, p in reversed(procs):
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)
            try:
                p.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
