"""The inception-v3-compat path, with stand-in weights of the right shapes (the real ones are
not available here): ganbench's numbers equal a direct torch_fidelity.calculate_metrics call."""

import pytest
import torch

N = 4  # Inception-v3 on a CPU at 299x299: a handful of images keeps this test short


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """A randomly initialised torch-fidelity Inception-v3, saved as a weights file."""
    from ganbench.evaluation.extractors.inception import standin_network

    net = standin_network(seed=0)
    path = tmp_path_factory.mktemp("inception") / "standin-inception.pth"
    torch.save(net.state_dict(), path)
    return str(path)


@pytest.mark.slow
def test_ganbench_inception_fid_equals_direct_torch_fidelity(standin):
    import torch_fidelity

    from ganbench.evaluation import fidelity
    from ganbench.evaluation.extractors.domain import sha256_file
    from ganbench.evaluation.extractors.domain_net import to_uint8
    from ganbench.evaluation.extractors.select import resolve_extractor

    ext = resolve_extractor("inception-v3-compat", "digits", fid_weights=standin)
    assert ext.weights_hash == sha256_file(standin) and ext.resize == 299
    g = torch.Generator().manual_seed(0)
    gen = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(),
                              torch.nn.Unflatten(1, (1, 8, 8)))
    z = torch.randn(N, 8, generator=g)
    real = torch.rand(N, 1, 8, 8, generator=g) * 2 - 1
    ours = fidelity.calculate(fidelity.generator_input(gen, z), N,
                              fidelity.tensor_input(to_uint8(real)), N, ext, cuda=False,
                              seed=0, kid=True, isc=False, prc=False)
    with torch.no_grad():
        fake = to_uint8(gen(z))
    direct = torch_fidelity.calculate_metrics(
        input1=fidelity.tensor_input(fake), input2=fidelity.tensor_input(to_uint8(real)),
        fid=True, kid=True, kid_subset_size=N, kid_subsets=10, cuda=False, verbose=False,
        cache=False, save_cpu_ram=True, rng_seed=0,
        feature_extractor_weights_path=standin)
    assert ours["fid"] == pytest.approx(direct["frechet_inception_distance"], rel=1e-9)
    assert ours["kid"] == pytest.approx(direct["kernel_inception_distance_mean"], rel=1e-9)
    assert ours["fid"] > 0


def test_missing_inception_weights_is_one_clear_line(tmp_path, monkeypatch, capsys):
    from ganbench.cli import main

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    run = ["run", "--variant", "dcgan", "--dataset", "digits", "--budget", "2steps",
           "--extractor", "inception-v3-compat", "--out", str(tmp_path / "runs")]
    assert main(run + ["--no-download"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Inception-v3 FID weights are not at" in err[-1] and "--fid-weights" in err[-1]
    assert not list((tmp_path / "runs").glob("*.json"))
    assert main(run + ["--fid-weights", str(tmp_path / "nope.pth")]) == 2
    assert "--fid-weights: no such file" in capsys.readouterr().err


def test_auto_without_domain_extractor_or_weights_warns_and_skips(tmp_path, monkeypatch, capsys):
    from ganbench.evaluation.extractors.select import resolve_extractor

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert resolve_extractor("auto", "no-such-extractor", download=False) is None
    err = capsys.readouterr().err
    assert err.startswith("ganbench: warning: no FID/KID/IS") and "--fid-weights" in err


def test_auto_uses_inception_weights_when_present(standin, monkeypatch):
    from ganbench.evaluation.extractors.select import resolve_extractor

    ext = resolve_extractor("auto", "no-such-extractor", fid_weights=standin, download=False)
    assert ext.name == "inception-v3-compat"
