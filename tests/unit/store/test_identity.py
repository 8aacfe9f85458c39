"""Results that know which code made them (code identity beside the run id, stale runs,
pooling across code) and files that honour the umask."""

import json
import os
import stat

import pytest
import torch

from ganbench import cli
from ganbench.store import results
from ganbench.store.safepath import atomic_write as artifact_write
from ganbench.training.checkpoint import Checkpointer


@pytest.fixture
def umask():
    """Set the process umask for the test; restored after it."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    meta = {"run_id": "r1", "variant": "v", "dataset": "d", "status": "completed"}
    run = results.write_run(tmp_path, meta, [{"step": 1, "metric": "m", "value": 1.0}])
    picture = artifact_write(tmp_path / "p.png", b"png")  # pictures, generators, reports
    ck = Checkpointer(tmp_path / "c.ckpt", "r1")
    lin = torch.nn.Linear(1, 1)
    ck.save({"G": lin}, torch.Generator(), {}, [], 1, 1, 0.0, 0.0)
    table = tmp_path / "t.csv"
    assert cli.main(["results", str(run), "--export", str(table)]) == 0
    for path in (run, picture, ck.path, table):
        assert _mode(path) == mode, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt", "p.png", "r1.json",
                                                          "t.csv"]  # no temporary left


# ------------------------------------------------------------------ code identity, stale runs

PLUGIN = '''
import torch.nn.functional as F

from ganbench import hookimpl
from ganbench.api.specs import Hyperparams, LossSpec, VariantSpec


def d_loss(real, fake):
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_loss(fake):
    return {G_LOSS}


@hookimpl
def ganbench_register_losses(register):
    register(LossSpec("id-ns", d_loss=d_loss, g_loss=g_loss, description="ns"))


@hookimpl
def ganbench_register_variants(register):
    register(VariantSpec("idgan", "mlp", "id-ns", "test variant",
                         Hyperparams(lr_g=1e-3, lr_d=1e-3, batch_size=32, z_dim=4)))
'''
NS = "F.softplus(-fake).mean()"


@pytest.fixture
def stale_plugin(tmp_path, monkeypatch):
    """A real installed plugin; ``write(g_loss_expr)`` changes its loss's source."""
    import sys

    from conftest import install_plugin
    from ganbench import registry as plugins

    site = install_plugin(tmp_path / "site", "stale_loss_plugin", PLUGIN.replace("{G_LOSS}", NS),
                          "stale-loss-plugin", "1.0", "staleloss")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("GANBENCH_LOAD_PLUGINS", "staleloss")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def write(expr: str):
        (site / "stale_loss_plugin.py").write_text(PLUGIN.replace("{G_LOSS}", expr))
        sys.modules.pop("stale_loss_plugin", None)  # the next load imports the new source
        plugins.reset()

    yield write
    sys.modules.pop("stale_loss_plugin", None)
    plugins.reset()


RUN = ["run", "--variant", "idgan", "--dataset", "gaussian", "--budget", "10steps",
       "--evals", "1", "--eval-samples", "100", "--no-calibration"]


def _run(out, capsys, *extra):
    rc = cli.main(RUN + ["--out", str(out), *extra])
    return rc, capsys.readouterr().err


def _file(out):
    (f,) = out.glob("*.json")
    return f, json.loads(f.read_text())


@pytest.mark.slow
def test_a_changed_plugin_loss_makes_its_runs_stale_not_skipped(stale_plugin, tmp_path,
                                                                capsys):
    out = tmp_path / "runs"
    assert _run(out, capsys)[0] == 0
    f, first = _file(out)
    code = first["meta"]["code"]
    assert "stale_loss_plugin" in code["sources"] and len(code["id"]) == 16
    assert code["plugins"]["stale-loss-plugin"] == "1.0" and "ganbench" in code["plugins"]
    assert f.name == first["meta"]["run_id"] + ".json"  # the identity is beside the run id
    assert "code" not in first["meta"]["config"]

    rc, err = _run(out, capsys)  # unchanged code: done, nothing stale
    assert rc == 0 and "1 already done" in err and "stale:" not in err

    stale_plugin("2.0 * F.softplus(-fake).mean()")  # the loss changes, the run id does not
    before = f.read_bytes()
    rc, err = _run(out, capsys)
    assert rc == 0
    assert ("stale: idgan on gaussian (seed 0, 10steps) "
            f"[{first['meta']['run_id']}]: its code changed since it was trained "
            "(stale_loss_plugin)") in err
    assert "add --retrain-stale" in err
    assert f.read_bytes() == before  # kept as it was
    assert list(out.glob("*.json")) == [f]

    stale_plugin("F.softplus(-fake).mean() / 0 + 1 if False else undefined_name")  # raises
    rc, err = _run(out, capsys, "--retrain-stale")
    assert rc == 1 and "NameError" in err and "the earlier result file is kept" in err
    assert f.read_bytes() == before  # a failed retrain does not replace a finished run
    failed = json.loads((out / ".ganbench" / (f.stem + ".failed.json")).read_text())
    assert failed["meta"]["status"] == "failed"
    assert results.load(out)["run_id"].nunique() == 1  # the failure is not loaded as a run

    stale_plugin("3.0 * F.softplus(-fake).mean()")
    rc, err = _run(out, capsys, "--retrain-stale")
    assert rc == 0 and "training the 1 stale run(s) again" in err
    _, new = _file(out)
    assert new["meta"]["run_id"] == first["meta"]["run_id"]
    assert new["meta"]["code"]["id"] != code["id"]
    assert new["meta"]["code"]["sources"]["stale_loss_plugin"] != \
        code["sources"]["stale_loss_plugin"]
    assert new["meta"]["started"] > first["meta"]["finished"]
    rc, err = _run(out, capsys, "--retrain-stale")  # now current: nothing to retrain
    assert rc == 0 and "1 already done" in err and "stale:" not in err


def test_a_run_file_without_a_code_identity_is_stale_kept_and_retrainable(tmp_path, capsys):
    run = ["run", "--variant", "non-saturating", "--dataset", "gaussian", "--budget", "5steps",
           "--evals", "1", "--eval-samples", "100", "--no-calibration",
           "--out", str(tmp_path)]
    assert cli.main(run) == 0
    f, data = _file(tmp_path)
    del data["meta"]["code"]  # as ganbench wrote it before it recorded code identities
    f.write_text(json.dumps(data))
    assert cli.main(run) == 0
    err = capsys.readouterr().err
    assert "stale: 1 run file(s) with no code identity recorded" in err
    assert "--retrain-stale" in err and "code" not in _file(tmp_path)[1]["meta"]
    assert cli.main(run + ["--retrain-stale"]) == 0
    assert _file(tmp_path)[1]["meta"]["code"]["id"]


def test_code_identity_hashes_source_text_not_paths(tmp_path, monkeypatch, reg):
    import sys

    from ganbench.store import envinfo

    ids = []
    for where, newline in (("a", "\n"), ("b", "\r\n")):  # two machines, two checkouts
        d = tmp_path / where
        d.mkdir()
        (d / "idmod_pkg").mkdir()
        (d / "idmod_pkg" / "__init__.py").write_text("from . import helper\n")
        (d / "idmod_pkg" / "helper.py").write_bytes(newline.join(["X = 1", ""]).encode())
        monkeypatch.syspath_prepend(str(d))
        for m in ("idmod_pkg", "idmod_pkg.helper"):
            sys.modules.pop(m, None)
        __import__("idmod_pkg")
        ids.append({m: envinfo.module_hash(m) for m in envinfo._closure({"idmod_pkg"})})
    for m in ("idmod_pkg", "idmod_pkg.helper"):
        sys.modules.pop(m, None)
    assert ids[0] == ids[1] and set(ids[0]) == {"idmod_pkg", "idmod_pkg.helper"}

    from ganbench.planning.plan import plan

    (job,) = plan(reg, variants=["wgan-gp"], datasets=["ring8"])
    code = envinfo.code_identity(job, reg)
    # the loss, the model (and the network module it imports), the variant, the dataset
    assert {"ganbench_plugins.losses", "ganbench_plugins.models", "ganbench_plugins.nets",
            "ganbench_plugins.variants", "ganbench_plugins.datasets"} <= set(code["sources"])
    assert not any(m.startswith("ganbench.") for m in code["sources"])  # core: version, sha
    assert code == envinfo.code_identity(job, reg)


def _coded(run_id, code, seed):
    meta = {"run_id": run_id, "variant": "v", "dataset": "d", "seed": seed, "budget": "5steps",
            "status": "completed", "config": {"variant": "v", "seed": seed}}
    if code:
        meta["code"] = {"id": code}
    return meta


def test_results_compare_and_check_say_when_they_pool_runs_of_different_code(tmp_path,
                                                                            capsys):
    rows = [{"step": 5, "metric": "frechet_data", "value": 1.0, "higher_is_better": False,
             "eval_spec": "e"}]
    same, mixed = tmp_path / "same", tmp_path / "mixed"
    for i in range(3):
        results.write_run(same, _coded(f"v__d__s{i}__h", "aaaa", i), rows)
        results.write_run(mixed, _coded(f"v__d__s{i}__h", ["aaaa", "bbbb", None][i], i), rows)
    warnings = []
    results.load(same, warn=warnings.append)
    assert warnings == []
    results.load(mixed, warn=warnings.append)
    assert warnings == [
        "runs of v on d were made by different code and are pooled (code aaaa: v__d__s0__h; "
        "code bbbb: v__d__s1__h; code unrecorded: v__d__s2__h); train the stale ones again "
        "(ganbench run ... --retrain-stale) or compare them apart"]
    assert set(results.load(mixed)["code"].dropna()) == {"aaaa", "bbbb"}
    capsys.readouterr()
    for args in (["results", str(mixed)], ["compare", str(same), str(mixed)],
                 ["check", str(same), str(mixed)]):
        cli.main(args)
        err = capsys.readouterr().err
        assert err.count("made by different code") == 1, (args, err)


@pytest.mark.slow
def test_worker_processes_record_the_identity_the_driver_checks(tmp_path, capsys):
    run = ["run", "--variant", "non-saturating", "--dataset", "gaussian", "--budget", "5steps",
           "--seeds", "0-1", "--evals", "1", "--eval-samples", "100", "--no-calibration",
           "--out", str(tmp_path)]
    assert cli.main(run + ["--executor", "processes", "--jobs", "2"]) == 0
    capsys.readouterr()
    assert cli.main(run) == 0  # in this process: the same code, so nothing is stale
    err = capsys.readouterr().err
    assert "2 already done" in err and "stale:" not in err


def test_a_checkpoint_made_by_other_code_is_not_resumed(tmp_path):
    warnings = []
    lin, g = torch.nn.Linear(1, 1), torch.Generator()
    Checkpointer(tmp_path / "c.ckpt", "r", code="aaaa").save({"G": lin}, g, {}, [], 3, 3, 0, 0)
    other = Checkpointer(tmp_path / "c.ckpt", "r", warn=warnings.append, code="bbbb")
    assert other.restore({"G": lin}, g, {}) is None
    assert warnings == [f"checkpoint '{tmp_path / 'c.ckpt'}' was made by other code (code "
                        "identity aaaa, now bbbb): starting from scratch"]
    same = Checkpointer(tmp_path / "c.ckpt", "r", code="aaaa")
    assert same.restore({"G": lin}, g, {}).steps == 3
