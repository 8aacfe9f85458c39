"""Real processes: a sweep killed with SIGKILL resumes; two sweeps share one output directory."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import run_cli

from ganbench.store import results
from ganbench.training.checkpoint import checkpoint_path
from ganbench.planning.plan import plan
from ganbench.planning.budget import Budget
from ganbench.store.safepath import STATE_DIR

# sweeps that train one job after another (the local executor), as the kill points assume;
# this dict is built at import, before conftest's per-test environment applies
ENV = {**os.environ, "GANBENCH_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1",
       "GANBENCH_EXECUTOR": "local"}


def _cmd(out, seeds, budget, evals):
    return [sys.executable, "-m", "ganbench", "run", "--variant", "non-saturating",
            "--dataset", "gaussian", "--seeds", seeds, "--budget", budget, "--evals", str(evals),
            "--eval-samples", "200", "--no-calibration", "--out", str(out)]


def _one_complete_set_per_run(out, expected_runs, steps):
    df = results.load(out)
    assert df["run_id"].nunique() == expected_runs
    for run_id, g in df.groupby("run_id"):
        assert (g["status"] == "completed").all(), run_id
        assert sorted(set(g["step"])) == steps, run_id
        per_point = g.groupby(["step", "metric"]).size()
        assert (per_point == 1).all(), f"duplicated rows in {run_id}"
        # every evaluation after step 0 has the same metrics as the last one
        metrics = g.groupby("step")["metric"].apply(frozenset)
        assert len(set(metrics.iloc[1:])) == 1, run_id
    leftovers = list((out / STATE_DIR).iterdir()) if (out / STATE_DIR).exists() else []
    assert leftovers == [], leftovers  # no checkpoint or lock left behind
    return df


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(reg, tmp_path):
    out = tmp_path / "runs"
    cmd = _cmd(out, "0,1", "300steps", 6)
    jobs = plan(reg, variants=["non-saturating"], datasets=["gaussian"], seeds=[0, 1],
                budget=Budget.parse("300steps"), evals=6, eval_samples=200)
    second = checkpoint_path(out, jobs[1].run_id)
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not second.exists():  # run 1 finished, run 2 past its first evaluation point
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "sweep never reached the second run"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert results.run_path(out, jobs[0].run_id).exists()
    assert not results.run_path(out, jobs[1].run_id).exists()

    r = run_cli(*cmd[3:], env={"OMP_NUM_THREADS": "1"})  # the resume itself: in-process
    assert r.returncode == 0, r.stderr
    assert "1 already done there" in r.stderr
    assert "resuming from its last checkpoint" in r.stderr
    assert "(resumed from step " in r.stderr
    df = _one_complete_set_per_run(out, 2, [0, 50, 100, 150, 200, 250, 300])
    meta = results.read_run(results.run_path(out, jobs[1].run_id))["meta"]
    assert meta["resumed_from_step"] >= 50 and meta["steps"] == 300
    assert "non-saturating" in r.stdout and df["seed"].nunique() == 2


@pytest.mark.slow
def test_two_processes_share_one_output_directory(tmp_path):
    out = tmp_path / "runs"
    procs = [subprocess.Popen(_cmd(out, seeds, "40steps", 2), env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for seeds in ("0-2", "1-3")]  # seeds 1 and 2 are asked for by both
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr
        assert "non-saturating" in stdout  # each prints the full summary of its own runs
    _one_complete_set_per_run(out, 4, [0, 20, 40])
    trained = "".join(err for _, err in outs)
    for seed in range(4):  # each run trained exactly once, by one of the two
        assert trained.count(f"(seed {seed}, 40steps): completed") == 1, trained
