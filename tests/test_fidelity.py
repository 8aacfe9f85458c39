"""FID/KID/IS/PR through torch-fidelity on the shipped digits extractor: correctness checks."""

import math

import numpy as np
import pytest
import torch

from ganbench.evaluation import fidelity
from ganbench.evaluation.extractors import domain
from ganbench.evaluation.extractors.domain_net import to_uint8
from ganbench.evaluation.extractors.select import resolve_extractor
from ganbench.evaluation.frechet import frechet_distance, moments
from ganbench.api.specs import DataRequest
from ganbench_plugins.datasets import load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits(DataRequest("train")), load_digits(DataRequest("test"))


@pytest.fixture(scope="module")
def ext():
    return resolve_extractor("auto", "digits")


def fid(x, ref, ext, **kw):
    """ganbench FID of float images x against ref, both in [-1, 1]."""
    a = fidelity.tensor_input(to_uint8(x))
    b = fidelity.tensor_input(to_uint8(ref))
    return fidelity.calculate(a, len(x), b, len(ref), ext, cuda=False, seed=0, kid=False,
                              isc=False, prc=False, **kw)["fid"]


def features(x):
    net = domain.fidelity_class("digits")("ganbench-digits", ["features"])
    with torch.no_grad():
        return net(to_uint8(x))[0]


def test_shipped_digits_extractor_matches_its_record(digits):
    rec = domain.info("digits")
    assert domain.sha256_file(domain.WEIGHTS_DIR / "digits.pt") == rec["sha256"]
    assert rec["command"].startswith("ganbench train-extractor --dataset digits")
    _, test = digits
    from ganbench.evaluation.labels import predict

    acc = float((predict(domain.load_net("digits"), test.x) == test.y).double().mean())
    assert acc == pytest.approx(rec["test_accuracy"], abs=1e-4)
    assert acc >= 0.95


def test_extractor_resolution_names_and_hashes(ext):
    assert ext.name == "ganbench-digits" and ext.resize == 8
    assert ext.weights_hash == domain.info("digits")["sha256"]
    with pytest.raises(Exception, match="unknown extractor 'ganbench-digit'.*did you mean"):
        resolve_extractor("ganbench-digit", "digits")
    assert resolve_extractor("none", "digits") is None


def test_fid_equals_independent_float64_frechet(digits, ext):
    train, test = digits
    value = fid(test.x, train.x, ext)
    mu1, s1 = moments(features(test.x).double())
    mu2, s2 = moments(features(train.x).double())
    expected = frechet_distance(mu1, s1, mu2, s2)
    assert abs(value - expected) / expected < 1e-6


def test_fid_small_for_real_test_split_large_for_noise(digits, ext):
    train, test = digits
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(test.x.shape, generator=g) * 2 - 1
    kw = dict(cuda=False, seed=0, isc=False, prc=False)
    ref = fidelity.tensor_input(to_uint8(train.x))
    real = fidelity.calculate(fidelity.tensor_input(to_uint8(test.x)), 360, ref, 1437, ext, **kw)
    fake = fidelity.calculate(fidelity.tensor_input(to_uint8(noise)), 360, ref, 1437, ext, **kw)
    assert real["fid"] < 0.1 * fake["fid"], (real, fake)
    assert abs(real["kid"]) < 0.02 * fake["kid"], (real, fake)


def test_fid_grows_with_gaussian_noise_and_blur(digits, ext, tmp_path, monkeypatch):
    """Heusel et al. 2017, Fig. 1: FID rises monotonically with the disturbance level."""
    from torchvision.transforms.functional import gaussian_blur

    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path))  # train statistics computed once
    train, test = digits

    def cached(x):
        return fid(x, train.x, ext, cache_name="ganbench-test-train")

    g = torch.Generator().manual_seed(1)
    eps = torch.randn(test.x.shape, generator=g)
    noisy = [cached((test.x + s * eps).clamp(-1, 1)) for s in (0, .1, .25, .5, 1)]
    blurred = [noisy[0]] + [cached(gaussian_blur(test.x, 5, s)) for s in (0.5, 0.8, 1.2, 2.0)]
    assert all(a < b for a, b in zip(noisy, noisy[1:])), noisy
    assert all(a < b for a, b in zip(blurred, blurred[1:])), blurred


def test_all_metrics_identical_sets_and_reference_cache(digits, ext, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path))
    train, _ = digits
    ref = to_uint8(train.x[:600])
    calls = []

    def make():
        calls.append(1)
        return ref

    kw = dict(cuda=False, seed=0, cache_name="ganbench-test-ref")
    first = fidelity.calculate(fidelity.tensor_input(ref), len(ref),
                               fidelity.tensor_input(make), len(ref), ext, **kw)
    assert calls == [1]
    assert first["fid"] == pytest.approx(0, abs=1e-6)
    assert first["precision"] == 1.0 and first["recall"] == 1.0
    # every KID subset is the whole set (600 of 600), so every subset estimate is the same
    # number and the std is zero up to summation order. The unbiased MMD^2 of a set X against
    # itself is 2/(m-1) * (mean k(x, x') - mean k(x, x)), which is < 0 for a positive-definite
    # kernel by Jensen (the mean embedding's norm is at most the mean norm): KID is negative
    assert first["kid"] < 0
    assert math.isfinite(first["kid_std"]) and 0 <= first["kid_std"] <= 1e-9 * -first["kid"]
    assert 5 < first["is"] <= 10  # 10 classes, confident predictions
    # second evaluation: reference features and statistics come from the on-disk cache
    second = fidelity.calculate(fidelity.tensor_input(ref), len(ref),
                                fidelity.tensor_input(make), len(ref), ext, **kw)
    assert calls == [1] and second == first
    assert any(p.name.startswith("ganbench-test-ref") for p in (tmp_path / "fidelity").iterdir())


class ClassMeans(torch.nn.Module):
    """A 'conditional generator' whose output is a real image of the class asked for."""

    def __init__(self, x, y):
        super().__init__()
        self.by_class = [x[y == c] for c in range(10)]

    def forward(self, z, y):
        idx = (z[:, 0].abs() * 1000).long()
        return torch.stack([self.by_class[int(c)][int(i) % len(self.by_class[int(c)])]
                            for c, i in zip(y, idx)])


def test_conditional_generator_streamed_with_seeded_labels(digits, ext):
    from ganbench.evaluation.labels import class_metrics

    train, test = digits
    g = torch.Generator().manual_seed(0)
    z = torch.randn(720, 4, generator=g)
    labels = torch.randint(10, (720,), generator=g)
    gen = ClassMeans(test.x, test.y)
    streamed = fidelity.generator_input(gen, z, labels)
    assert streamed.num_classes == 0  # torch-fidelity never draws labels (np.int crash)
    value = fidelity.calculate(streamed, 720, fidelity.tensor_input(to_uint8(train.x)),
                               len(train.x), ext, cuda=False, seed=0, kid=False, isc=False,
                               prc=False)["fid"]
    with torch.no_grad():
        direct = fid(gen(z, labels), train.x, ext)
    assert value == pytest.approx(direct, rel=1e-9)
    net = domain.load_net("digits")
    with torch.no_grad():
        good = class_metrics(net, gen(z, labels), 10, labels)
        wrong = class_metrics(net, gen(z, (labels + 1) % 10), 10, labels)
    assert good["cond_accuracy"] > 0.9 and wrong["cond_accuracy"] < 0.1
    assert good["classes_covered"] == 10 and good["class_kl"] < 0.05


def test_label_histogram_and_stacked_modes(digits):
    from ganbench.evaluation.labels import histogram_stats, stacked_metrics

    assert histogram_stats([3] * 50, 10) == (1, pytest.approx(np.log(10)))
    assert histogram_stats(list(range(10)) * 5, 10) == (10, pytest.approx(0))
    _, test = digits
    g = torch.Generator().manual_seed(0)
    stacks = torch.cat([test.x[torch.randint(len(test.x), (3000,), generator=g)]
                        for _ in range(3)], 1)
    net = domain.load_net("digits")
    many = stacked_metrics(net, stacks)
    one = stacked_metrics(net, test.x[:1].repeat(500, 3, 1, 1))
    assert many["stacked_modes"] > 850  # 3000 draws over 1000 modes: ~950 expected
    assert one["stacked_modes"] == 1 and one["stacked_kl"] == pytest.approx(np.log(1000))


@pytest.mark.parametrize("name, folder, min_accuracy", [("mnist", "MNIST", 0.98),
                                                         ("fashion-mnist", "FashionMNIST", 0.85)])
def test_shipped_image_extractor_accuracy_on_real_test_split(reg, name, folder, min_accuracy):
    from test_image_datasets import DATA, _need

    from ganbench.evaluation.labels import predict

    if name not in domain.shipped():
        pytest.skip(f"no shipped extractor for {name} yet")
    _need(folder)
    rec = domain.info(name)
    assert domain.sha256_file(domain.WEIGHTS_DIR / f"{name}.pt") == rec["sha256"]
    test = reg.datasets.get(name).load(DataRequest("test", data_root=DATA, download=False))
    acc = float((predict(domain.load_net(name), test.x) == test.y).double().mean())
    assert acc == pytest.approx(rec["test_accuracy"], abs=1e-4)
    assert acc >= min_accuracy


@pytest.fixture(scope="module")
def mnist_splits():
    from test_image_datasets import DATA, _need

    from ganbench import registry as plugins

    if "mnist" not in domain.shipped():
        pytest.skip("no shipped extractor for mnist")
    _need("MNIST")
    reg = plugins.load(use_env=False)
    ds = reg.datasets.get("mnist")
    return tuple(ds.load(DataRequest(split, data_root=DATA, download=False))
                 for split in ("train", "test"))


def test_mnist_fid_small_for_test_split_large_for_noise(mnist_splits):
    """With the shipped MNIST extractor: real held-out digits are close to the train split,
    uniform noise is far from it."""
    train, test = mnist_splits
    ext = resolve_extractor("auto", "mnist")
    assert ext.name == "ganbench-mnist"
    g = torch.Generator().manual_seed(0)
    ref_idx = torch.randperm(len(train.x), generator=g)[:5000]
    ref = fidelity.tensor_input(to_uint8(train.x[ref_idx]))
    kw = dict(cuda=False, seed=0, isc=False, prc=False, kid=False)
    real = fidelity.calculate(fidelity.tensor_input(to_uint8(test.x[:2000])), 2000, ref, 5000,
                              ext, **kw)["fid"]
    noise = torch.rand((2000, 1, 28, 28), generator=g) * 2 - 1
    fake = fidelity.calculate(fidelity.tensor_input(to_uint8(noise)), 2000, ref, 5000, ext,
                              **kw)["fid"]
    assert real < 0.02 * fake, (real, fake)


def test_stacked_mnist_real_data_covers_most_modes(mnist_splits):
    """Real Stacked-MNIST samples, classified channel by channel with the MNIST classifier,
    cover most of the 1000 modes; one repeated stack covers exactly one."""
    from test_image_datasets import DATA

    from ganbench import registry as plugins
    from ganbench.evaluation.labels import stacked_metrics

    reg = plugins.load(use_env=False)
    stacked = reg.datasets.get("stacked-mnist").load(
        DataRequest("test", data_root=DATA, download=False))
    net = domain.load_net("mnist")
    many = stacked_metrics(net, stacked.x[:5000])
    assert many["stacked_modes"] > 950  # 5000 draws over 1000 modes: ~993 expected
    assert many["stacked_kl"] < 0.25
    one = stacked_metrics(net, stacked.x[:1].repeat(200, 1, 1, 1))
    assert one["stacked_modes"] == 1


def test_evaluation_samples_feed_fidelity_and_labels_in_one_classifier_pass(digits, ext):
    """torch-fidelity reads the evaluation's samples (G is not run again) and the classifier's
    predictions on them are tapped for the label metrics: same FID as streaming from G, same
    classes as a separate pass, and reference batches are never mistaken for samples."""
    from ganbench.evaluation.labels import predict

    train, test = digits
    g = torch.Generator().manual_seed(1)
    z = torch.randn(1100, 4, generator=g)
    labels = torch.randint(10, (1100,), generator=g)
    gen = ClassMeans(test.x, test.y)
    with torch.no_grad():
        samples = gen(z, labels)
    ref = fidelity.tensor_input(to_uint8(train.x))
    kw = dict(cuda=False, seed=0, kid=False, isc=True, prc=True)
    streamed = fidelity.calculate(fidelity.generator_input(gen, z, labels), 1100, ref,
                                  len(train.x), ext, **kw)
    tap = domain.PredictionTap("digits")
    with domain.tapping(tap):  # no cache: the reference split goes through the net too
        tapped = fidelity.calculate(fidelity.samples_input(samples, on_batch=tap.expect), 1100,
                                    ref, len(train.x), ext, **kw)
    assert tapped == pytest.approx(streamed, rel=1e-9)
    pred = tap.predictions(1100)
    assert pred is not None and torch.equal(pred, predict(domain.load_net("digits"), samples))
    assert float((pred == labels).double().mean()) > 0.9
    assert tap.predictions(1000) is None  # a count mismatch is never used
    other = domain.PredictionTap("mnist")  # another dataset's extractor: nothing recorded
    with domain.tapping(other):
        fidelity.calculate(fidelity.samples_input(samples, on_batch=other.expect), 1100, ref,
                           len(train.x), ext, **kw)
    assert other.predictions(1100) is None
