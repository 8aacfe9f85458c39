"""Checkpoints: N steps + crash + resume + N steps is bitwise the same run as 2N steps."""

import dataclasses

import pytest
import torch

from ganbench.planning.budget import Budget
from ganbench.training.checkpoint import Checkpointer, nonfinite_state
from ganbench.planning.plan import plan
from ganbench.training.runner import train
from ganbench.store.results import MACHINE_METRICS
from conftest import Crash, CrashAfterSave




@pytest.fixture
def capture_nets(reg):
    """Replace the mlp model's build so every (G, D) the runner builds is kept for the test."""
    built = []
    spec = reg.models.get("mlp")

    def build(*a, **kw):
        nets = spec.build(*a, **kw)
        built.append(nets)
        return nets

    reg.models._items["mlp"] = dataclasses.replace(spec, build=build)
    return built


def _job(reg, budget="40steps", evals=4, variant="non-saturating", dataset="ring8"):
    (job,) = plan(reg, variants=[variant], datasets=[dataset], budget=Budget.parse(budget),
                  seeds=[7], evals=evals, eval_samples=256)
    return job


def _state(nets):
    return [t for net in nets for t in net.state_dict().values()]


def _key(rows):
    return [(r["step"], r["images_seen"], r["metric"], r["value"]) for r in rows
            if r["metric"] not in MACHINE_METRICS]


@pytest.mark.slow
def test_resume_is_bitwise_equal_to_an_uninterrupted_run(reg, capture_nets, tmp_path):
    torch.use_deterministic_algorithms(True)
    try:
        job = _job(reg)
        straight = train(job, reg, device="cpu")
        path = tmp_path / "run.ckpt"
        with pytest.raises(Crash):
            train(job, reg, device="cpu", checkpoint=CrashAfterSave(path, job.run_id, at=20))
        assert path.exists()
        resumed = train(job, reg, device="cpu", checkpoint=Checkpointer(path, job.run_id))
    finally:
        torch.use_deterministic_algorithms(False)
    assert resumed.info["resumed_from_step"] == 20 and straight.info["resumed_from_step"] is None
    assert resumed.steps == straight.steps == 40
    assert resumed.images_seen == straight.images_seen
    a, crashed, b = capture_nets
    # G, D (and BatchNorm buffers, had there been any): bitwise equal
    assert len(_state(a)) == len(_state(b)) > 0
    assert all(torch.equal(x, y) for x, y in zip(_state(a), _state(b)))
    assert not all(torch.equal(x, y) for x, y in zip(_state(a), _state(crashed)))
    # the same rows, each exactly once (NaN-safe comparison through repr)
    assert repr(_key(resumed.rows)) == repr(_key(straight.rows))
    assert sorted({r["step"] for r in resumed.rows}) == [0, 10, 20, 30, 40]


@pytest.mark.slow
def test_batchnorm_model_resumes_exactly(reg, tmp_path):
    """dcgan has BatchNorm running statistics and a CPU generator for batches/noise."""
    job = _job(reg, "6steps", evals=3, variant="dcgan", dataset="digits")
    job = dataclasses.replace(job, hparams=dataclasses.replace(job.hparams, batch_size=16))
    straight = train(job, reg, device="cpu")
    path = tmp_path / "dc.ckpt"
    with pytest.raises(Crash):
        train(job, reg, device="cpu", checkpoint=CrashAfterSave(path, job.run_id, at=2))
    resumed = train(job, reg, device="cpu", checkpoint=Checkpointer(path, job.run_id))
    assert resumed.info["resumed_from_step"] == 2
    assert repr(_key(resumed.rows)) == repr(_key(straight.rows))


def test_unusable_checkpoints_are_reported_and_ignored(reg, tmp_path):
    job = _job(reg, "10steps", evals=2)
    warnings = []
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"PK\x03\x04 truncated zip")
    res = train(job, reg, device="cpu", checkpoint=Checkpointer(bad, job.run_id,
                                                                warn=warnings.append))
    assert res.steps == 10 and res.info["resumed_from_step"] is None
    assert len(warnings) == 1 and "unreadable checkpoint" in warnings[0] and "bad.ckpt" in warnings[0]

    # a checkpoint of another run is not loaded into this one
    other = tmp_path / "other.ckpt"
    with pytest.raises(Crash):
        train(job, reg, device="cpu", checkpoint=CrashAfterSave(other, job.run_id, at=5))
    res = train(job, reg, device="cpu", checkpoint=Checkpointer(other, "someone-else",
                                                                warn=warnings.append))
    assert res.info["resumed_from_step"] is None and "belongs to run" in warnings[-1]


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_checkpoints_load_with_weights_only(reg, tmp_path):
    """A checkpoint holding a pickled object (code on load) is refused, never executed."""
    path = tmp_path / "evil.ckpt"
    torch.save({"format": "ganbench-checkpoint/1", "run_id": "x", "payload": Evil()}, path)
    warnings = []
    ck = Checkpointer(path, "x", warn=warnings.append)
    g = torch.Generator()
    assert ck.restore({}, g, {}) is None
    assert "unreadable checkpoint" in warnings[0] and "Unpickl" in warnings[0]


def test_nonfinite_state_finds_parameters_and_buffers():
    g, d = torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)
    assert nonfinite_state(g, d) is None
    with torch.no_grad():
        g.weight[0, 1] = float("nan")
    assert nonfinite_state(g, d) == "G.weight"
    with torch.no_grad():
        g.weight.zero_()
    d.running_var[0] = float("inf")
    assert nonfinite_state(g, d) == "D.running_var"


def _corrupt_checkpoint(reg, tmp_path, edit):
    """A real checkpoint of a 20-of-40-step run, edited by ``edit(state)``."""
    job = _job(reg)
    path = tmp_path / "c.ckpt"
    with pytest.raises(Crash):
        train(job, reg, device="cpu", checkpoint=CrashAfterSave(path, job.run_id, at=20))
    state = torch.load(path, weights_only=True)
    edit(state)
    torch.save(state, path)
    return job, path


def _wrong_last_g_tensor(state):
    g = state["modules"]["g"]
    last = list(g)[-1]
    g[last] = torch.zeros(*g[last].shape, 2)


def _malformed_opt_d(state):
    state["modules"]["opt_d"] = {"state": {}, "param_groups": "junk"}


@pytest.mark.parametrize("edit", [_wrong_last_g_tensor, _malformed_opt_d],
                         ids=["wrong-shaped-g-tensor", "malformed-optimiser"])
def test_a_checkpoint_that_fails_half_way_changes_nothing(reg, tmp_path, capture_nets, edit):
    """Restore is all or nothing: the run is then exactly a run from scratch."""
    job, path = _corrupt_checkpoint(reg, tmp_path, edit)
    warnings = []
    res = train(job, reg, device="cpu", checkpoint=Checkpointer(path, job.run_id,
                                                                 warn=warnings.append))
    assert any("starts from scratch" in w for w in warnings)
    assert res.info["resumed_from_step"] is None
    fresh = train(job, reg, device="cpu")
    nan_safe = lambda rows: [tuple("nan" if v != v else v for v in k) for k in _key(rows)]
    assert nan_safe(res.rows) == nan_safe(fresh.rows)
    for a, b in zip(_state(capture_nets[-2]), _state(capture_nets[-1])):
        assert torch.equal(a, b)


@pytest.mark.parametrize("counters", [
    {"steps": 10**15, "images": 10**15 * 64},
    {"steps": -4, "images": -256},
    {"steps": 20.5, "images": 1280},
    {"steps": 20, "images": 999},
], ids=["past-the-budget", "negative", "non-integer", "images-do-not-match-steps"])
def test_impossible_counters_are_refused_and_the_run_starts_over(reg, tmp_path, counters):
    job, path = _corrupt_checkpoint(reg, tmp_path, lambda s: s["counters"].update(counters))
    warnings = []
    res = train(job, reg, device="cpu", checkpoint=Checkpointer(path, job.run_id,
                                                                 warn=warnings.append))
    assert any("does not fit" in w for w in warnings), warnings
    assert res.steps == 40 and res.info["resumed_from_step"] is None
