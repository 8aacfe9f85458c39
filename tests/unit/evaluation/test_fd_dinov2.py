"""FD_DINOv2 through torch-fidelity's DINOv2 extractor, with a stand-in of the ViT-S/14's shapes
(the real code and weights are not available here): ganbench's number equals a direct
torch_fidelity.calculate_metrics call, from torch's hub cache or a weights file given by path;
its rows carry their own EvalSpec; missing code or weights are one clear line, never a
download with --no-download."""

import shutil

import pytest
import torch

from ganbench.api.errors import DataUnavailableError, UsageError

N = 3  # images per side: ViT-S/14 at 224x224 on a CPU costs ~6 GFLOP (multiply-adds) an image


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A torch home whose hub cache holds the stand-in DINOv2 repository and weights."""
    from ganbench.evaluation.extractors import dinov2

    home = tmp_path_factory.mktemp("torch")
    dinov2.standin_hub(home / "hub")
    return home


@pytest.fixture
def no_downloads(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "list", refuse)


def _images(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (N, 3, 28, 28), dtype=torch.uint8, generator=g)


@pytest.mark.slow
def test_fd_dinov2_equals_direct_torch_fidelity_from_cache_and_from_a_path(hub, tmp_path,
                                                                         monkeypatch,
                                                                         no_downloads):
    import torch_fidelity

    from ganbench.evaluation import fidelity
    from ganbench.evaluation.extractors import dinov2
    from ganbench.evaluation.extractors.domain import sha256_file
    from ganbench.evaluation.extractors.select import resolve_extractor

    monkeypatch.setenv("TORCH_HOME", str(hub))
    a, b = _images(0), _images(1)
    direct = torch_fidelity.calculate_metrics(
        input1=fidelity.tensor_input(a), input2=fidelity.tensor_input(b), fid=True,
        feature_extractor="dinov2-vit-s-14", cuda=False, verbose=False, cache=False,
        save_cpu_ram=True)["frechet_inception_distance"]
    ckpt = hub / "hub" / "checkpoints" / "dinov2_vits14_pretrain.pth"
    ext = resolve_extractor("auto,dinov2-vit-s-14", "digits", download=False)
    assert ext.name == "ganbench-digits" and len(ext.extras) == 1
    dino = ext.extras[0]
    assert (dino.model, dino.name) == ("dinov2-vit-s-14", "ganbench-dinov2-vit-s-14")
    assert dino.weights_hash == sha256_file(ckpt)

    def ours(extractor):
        return fidelity.calculate(fidelity.tensor_input(a), N, fidelity.tensor_input(b), N,
                                  extractor, cuda=False, seed=0, kid=False, isc=False,
                                  prc=False)["fid"]

    assert ours(dino) == direct and direct > 0
    # the weights by path, none in the hub cache: the same number
    moved = tmp_path / "my-dinov2.pth"
    shutil.move(ckpt, moved)
    try:
        with pytest.raises(DataUnavailableError):
            resolve_extractor("dinov2-vit-s-14", "digits", download=False)
        by_path = resolve_extractor(f"auto,DINOv2-ViT-S-14={moved}", "digits",
                                    download=False).extras[0]
        assert by_path.fidelity_kwargs["feature_extractor_weights_path"] == str(moved)
        assert by_path.weights_hash == dino.weights_hash
        dinov2.fidelity_class.cache_clear()  # nothing cached between the two loads
        assert ours(by_path) == direct
    finally:
        shutil.move(moved, ckpt)


def test_missing_code_or_weights_is_one_clear_line(tmp_path, monkeypatch, no_downloads):
    from ganbench.evaluation.extractors import dinov2
    from ganbench.evaluation.extractors.select import resolve_extractor

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(DataUnavailableError) as e:
        resolve_extractor("auto,dinov2-vit-s-14", "digits", download=False)
    msg = str(e.value)
    assert "\n" not in msg and "dinov2-vit-s-14 weights are not at" in msg
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "dinov2_vits14_pretrain.pth") in msg
    assert "--no-download" in msg and "dinov2-vit-s-14=PATH" in msg
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    with pytest.raises(DataUnavailableError) as e:  # weights given, code not in the cache
        resolve_extractor(f"dinov2-vit-s-14={weights}", "digits", download=False)
    assert "DINOv2 code (facebookresearch/dinov2) is not in torch's hub cache" in str(e.value)
    with pytest.raises(UsageError, match="no such file"):
        resolve_extractor(f"dinov2-vit-s-14={tmp_path / 'nope.pth'}", "digits")
    # weights of another shape: one line naming the mismatch
    dinov2.standin_hub(tmp_path / "torch" / "hub")
    torch.save({"conv_proj.weight": torch.zeros(1)}, weights)
    with pytest.raises(DataUnavailableError, match="are not dinov2-vit-s-14 weights"):
        dinov2.load_network("dinov2-vit-s-14", str(weights), dinov2.code_dir())


def test_cli_without_weights_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys,
                                                             no_downloads):
    from ganbench.cli import main

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    run = ["run", "--variant", "dcgan", "--dataset", "digits", "--budget", "2steps",
           "--out", str(tmp_path / "runs"), "--no-download"]
    assert main(run + ["--extractor", "auto,dinov2-vit-s-14"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "dinov2-vit-s-14 weights are not at" in err[-1]
    assert not list((tmp_path / "runs").glob("*.json"))
    assert main(run + ["--extractor", "none,dinov2-vit-s-14"]) == 2
    assert "DINOv2 is evaluated beside a main extractor" in capsys.readouterr().err


@pytest.mark.parametrize("choice, main, extras", [
    ("dinov2-vit-s-14", "auto", [("dinov2-vit-s-14", None)]),
    ("ganbench-mnist, dinov2-vit-b-14=/w/B.pth", "ganbench-mnist",
     [("dinov2-vit-b-14", "/w/B.pth")]),
    ("inception-v3-compat", "inception-v3-compat", []),
    (None, "auto", []),
])
def test_parse_choice(choice, main, extras):
    from ganbench.evaluation.extractors.select import parse_choice

    assert parse_choice(choice) == (main, extras)


@pytest.mark.parametrize("choice, says", [
    ("auto,ganbench-mnist", "2 main extractors"),
    ("inception-v3-compat=/x.pth", "only DINOv2 models take '=PATH'"),
    ("dinov2-vit-s-14,dinov2-vit-s-14", "names dinov2-vit-s-14 twice"),
])
def test_parse_choice_refuses(choice, says):
    from ganbench.evaluation.extractors.select import parse_choice

    with pytest.raises(UsageError, match=says):
        parse_choice(choice)


@pytest.mark.slow
def test_run_rows_carry_fd_dinov2_under_its_own_eval_spec(hub, tmp_path, monkeypatch,
                                                          no_downloads):
    """A two-step run on digits with ``--extractor auto,dinov2-vit-s-14``: fd_dinov2 rows at
    each evaluation under the DINOv2 EvalSpec (the run's protocol, DINOv2's weights), FID rows
    under the run's; the value equals a direct computation on the same samples."""
    from ganbench.evaluation.extractors.select import extra_spec
    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import plan
    from ganbench.registry import registries
    from ganbench.training.runner import train

    monkeypatch.setenv("TORCH_HOME", str(hub))
    reg = registries()
    job = plan(reg, variants=["non-saturating"], datasets=["digits"], seeds=(0,),
               budget=Budget.parse("1steps"), evals=1, eval_samples=4,  # k=3 needs 4
               eval_options={"extractor": "auto,dinov2-vit-s-14"})[0]
    res = train(job, reg, device="cpu", download=False)
    by = {}
    for r in res.rows:
        by.setdefault(r["metric"], []).append(r)
    assert len(by["fd_dinov2"]) == len(by["fid"]) == 2  # step 0 and the end
    assert {r["eval_spec"] for r in by["fid"]} == {res.eval_spec.hash}
    assert res.eval_spec.extractor == "ganbench-digits"
    (fd_hash,) = {r["eval_spec"] for r in by["fd_dinov2"]}
    dino_spec = extra_spec(res.eval_spec, _dino_ext())
    assert fd_hash == dino_spec.hash != res.eval_spec.hash
    assert (dino_spec.extractor, dino_spec.n_reference, dino_spec.seed) == (
        "dinov2-vit-s-14", res.eval_spec.n_reference, res.eval_spec.seed)
    assert all(r["higher_is_better"] is False and r["value"] > 0 for r in by["fd_dinov2"])
    assert "fd_dinov2" in reg.metrics.get("fd-dinov2").directions


def _dino_ext():
    from ganbench.evaluation.extractors.select import resolve_dinov2

    return resolve_dinov2("dinov2-vit-s-14", None, download=False)


def _write_two_specs(out, values, fd_values, spec="e1", fd_spec="d1"):
    """Runs with fid under the run's EvalSpec and fd_dinov2 under its own, as a run with
    ``--extractor auto,dinov2-vit-s-14`` writes them."""
    from ganbench.store import results

    for seed, (v, w) in enumerate(zip(values, fd_values)):
        config = {"variant": "v", "dataset": "digits", "seed": seed}
        results.write_run(out, {"run_id": f"v__digits__s{seed}__{spec}{fd_spec}",
                                "variant": "v", "dataset": "digits", "seed": seed,
                                "status": "completed", "config": config},
                          [{"step": 10, "metric": "fid", "value": v, "higher_is_better": False,
                            "eval_spec": spec},
                           {"step": 10, "metric": "fd_dinov2", "value": w,
                            "higher_is_better": False, "eval_spec": fd_spec}])


def test_summary_and_gate_take_each_metrics_own_eval_spec(tmp_path):
    """fid and fd_dinov2 of the same runs under two EvalSpecs: the summary pools each over the
    seeds without an eval_spec label, and ``check`` gates both; a candidate whose fd_dinov2
    was computed under another EvalSpec (other DINOv2 weights) is refused, one line."""
    from ganbench.analysis import gate
    from ganbench.store import results

    _write_two_specs(tmp_path / "b", [20.0, 21.0, 22.0], [300.0, 310.0, 305.0])
    _write_two_specs(tmp_path / "c", [20.5, 21.5, 21.0], [302.0, 306.0, 304.0])
    _write_two_specs(tmp_path / "d", [20.5, 21.5, 21.0], [302.0, 306.0, 304.0], fd_spec="d2")
    s = results.summarize(results.load(tmp_path / "b"))
    assert sorted(zip(s["metric"], s["runs"], s["setting"])) == [("fd_dinov2", 3, ""),
                                                                 ("fid", 3, "")]
    base = results.load(tmp_path / "b")
    res = gate.check(base, results.load(tmp_path / "c"), metrics=["fid", "fd_dinov2"])
    assert res.passed and sorted(r.metric for r in res.rows) == ["fd_dinov2", "fid"]
    with pytest.raises(UsageError, match="different EvalSpecs"):
        gate.check(base, results.load(tmp_path / "d"), metrics=["fid", "fd_dinov2"])


def test_weights_paths_are_made_absolute_for_the_run(tmp_path, monkeypatch):
    """A run may execute in another directory (processes, slurm): the CLI stores
    ``--extractor`` with each ``=PATH`` absolute, as it does --fid-weights."""
    from ganbench.evaluation.extractors.select import absolute_paths

    monkeypatch.chdir(tmp_path)
    assert absolute_paths("auto,dinov2-vit-s-14=w/v.pth") == \
        f"auto,dinov2-vit-s-14={tmp_path / 'w' / 'v.pth'}"
    assert absolute_paths("auto,dinov2-vit-s-14") == "auto,dinov2-vit-s-14"
    assert absolute_paths(None) is None
