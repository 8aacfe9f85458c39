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


# --- the fast evaluation path (issue 28 §4): the same numbers as the reference computations ---


def _features_with_ties(seed=0, n_real=900, n_fake=700, dim=16):
    """Real and generated features with the cases where ball membership is fragile: a collapsed
    block of identical generated points, generated copies of real points, duplicated real
    points, and one non-finite generated row."""
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n_real, dim, generator=g)
    fake = torch.randn(n_fake, dim, generator=g) * 1.2 + 0.1
    real[50:60] = real[0]
    fake[:80] = fake[0]
    fake[80:180] = real[100:200]
    fake[-1] = float("nan")
    return fake, real


@pytest.mark.parametrize("batch", [10_000, 256])
def test_prdc_is_torch_fidelitys_precision_recall_bitwise(batch):
    """Precision and recall of the one-pass ``prdc`` are torch-fidelity's
    ``calculate_precision_recall_part`` bit for bit (the same cdist calls; topk for kthvalue),
    also with ties, copies and a NaN row, and with several row batches."""
    from torch_fidelity.metric_prc import calc_cdist_part, calculate_precision_recall_part

    fake, real = _features_with_ties()
    ours = fidelity.prdc(fake, real, 3, batch)
    assert (ours["precision"], ours["recall"]) == calculate_precision_recall_part(fake, real, 3,
                                                                                  batch)
    assert 0 < ours["precision"] < 1 and 0 < ours["recall"] < 1
    for x in (fake, real):  # the k-NN radii: the same element as torch-fidelity's kthvalue
        theirs = torch.cat([calc_cdist_part(b, x, batch).kthvalue(4).values
                            for b in x.split(batch)])
        assert torch.equal(fidelity.knn_radii(x, 3, batch).nan_to_num(-1.0),
                           theirs.nan_to_num(-1.0))
    # with the reference radii given (cached), the same numbers
    radii = fidelity.knn_radii(real, 3, batch)
    assert fidelity.prdc(fake, real, 3, batch, real_radii=radii) == ours


def test_prdc_density_coverage_equal_the_reference_implementation():
    """Density and coverage read off precision's distance matrix: the same counts as
    ``density_coverage`` (its own distance pass, checked against the prdc package in
    test_crosscheck) on finite features with ties and copies."""
    fake, real = _features_with_ties()
    fake = fake[:-1]  # finite: density_coverage has no NaN convention to compare with
    ours = fidelity.prdc(fake, real, 3)
    ref = fidelity.density_coverage(fake, real, 3)
    assert (ours["density"], ours["coverage"]) == (ref["density"], ref["coverage"])
    assert ours["density"] > 0 and 0 < ours["coverage"] < 1
    same = fidelity.prdc(real, real, 3)  # every point lies in its own ball and 3 neighbours'
    assert same["coverage"] == 1.0 and same["precision"] == same["recall"] == 1.0


def test_reference_radii_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path))
    _, real = _features_with_ties()
    calls = []
    compute = fidelity.knn_radii
    monkeypatch.setattr(fidelity, "knn_radii", lambda *a: calls.append(1) or compute(*a))
    kw = dict(cache_name="ref-a", extractor="ganbench-digits", layer="features_f32")
    memory = {}
    first = fidelity.cached_real_radii(real, 3, 10_000, memory=memory, **kw)
    assert calls == [1] and torch.equal(first, compute(real, 3, 10_000))
    assert fidelity.cached_real_radii(real, 3, 10_000, memory=memory, **kw) is first
    again = fidelity.cached_real_radii(real, 3, 10_000, memory={}, **kw)  # a new run: disk
    assert calls == [1] and torch.equal(again, first)
    changed = real.clone()
    changed[0, 0] += 1  # not the features the file was made from: recomputed, never reused
    fresh = fidelity.cached_real_radii(changed, 3, 10_000, memory={}, **kw)
    assert calls == [1, 1] and torch.equal(fresh, compute(changed, 3, 10_000))
    fidelity.cached_real_radii(real, 3, 10_000, memory={}, cache_name=None)  # unnamed: no file
    assert calls == [1, 1, 1] and len(list((tmp_path / "fidelity").glob("*radii*"))) == 1


def test_calculate_is_torch_fidelitys_call_plus_density_coverage(digits, ext):
    """The whole fast path: FID, KID, IS, precision and recall equal torch-fidelity's own
    ``calculate_metrics`` on the same inputs bit for bit; density/coverage equal the reference
    implementation on the features it used."""
    import torch_fidelity

    train, test = digits
    gen, ref = to_uint8(test.x[:300]), to_uint8(train.x[:700])
    feats = {}
    ours = fidelity.calculate(fidelity.tensor_input(gen), len(gen), fidelity.tensor_input(ref),
                              len(ref), ext, cuda=False, seed=0, features_out=feats)
    raw = torch_fidelity.calculate_metrics(
        input1=fidelity.tensor_input(gen), input2=fidelity.tensor_input(ref), fid=True,
        kid=True, isc=True, prc=True, feature_extractor=ext.name, cuda=False,
        batch_size=fidelity.BATCH, verbose=False, save_cpu_ram=True, rng_seed=0, cache=False,
        kid_subsets=fidelity.KID_SUBSETS, kid_subset_size=300)
    theirs = {fidelity.KEYS[k][0]: float(v) for k, v in raw.items() if k in fidelity.KEYS}
    assert {k: ours[k] for k in theirs} == theirs
    f1, f2 = feats["prc"]
    assert {k: ours[k] for k in ("density", "coverage")} == fidelity.density_coverage(f1, f2)


@pytest.mark.parametrize("dataset", ["digits", "mnist", "fashion-mnist"])
def test_extractor_fast_forward_is_the_module_forward_bitwise(dataset, digits):
    """``forward_inference`` (2x2 maximum of slices, ReLU after the pool, in place) and the
    CPU chunks of ``features_and_logits`` give the module's features and logits bit for bit."""
    from ganbench.evaluation.extractors.domain_net import forward_inference, from_uint8

    if dataset not in domain.shipped():
        pytest.skip(f"no shipped extractor for {dataset}")
    net = domain.load_net(dataset)
    size = net.arch["size"]
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, size, size, generator=g) * 2 - 1
    x[:100] = torch.nn.functional.interpolate(digits[1].x[:100], size=(size, size))
    u = to_uint8(x)
    with torch.no_grad():
        f, logits = net(from_uint8(u, 1, size))
        f2, logits2 = forward_inference(net, from_uint8(u, 1, size))
    assert torch.equal(f, f2) and torch.equal(logits, logits2)
    f3, logits3 = domain.features_and_logits(net, to_uint8(x, view=True))  # 3 CPU chunks
    assert torch.equal(f, f3) and torch.equal(logits, logits3)
    assert not torch.equal(f[:1], f[1:2])  # the images differ, so the features do


def testmax_pool_2x2_equals_max_pool2d_odd_sizes_and_nan():
    from ganbench.evaluation.extractors.domain_net import max_pool_2x2

    g = torch.Generator().manual_seed(0)
    for shape in [(2, 3, 8, 8), (2, 3, 7, 7), (1, 2, 5, 6)]:
        x = torch.randn(*shape, generator=g)
        x[0, 0, 1, 1] = float("nan")
        assert torch.equal(max_pool_2x2(x).isnan(), torch.nn.functional.max_pool2d(x, 2).isnan())
        assert torch.equal(max_pool_2x2(x).nan_to_num(7.0),
                           torch.nn.functional.max_pool2d(x, 2).nan_to_num(7.0))


def test_grey_view_has_the_values_of_the_copy():
    from ganbench.evaluation.extractors.domain_net import from_uint8

    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 8, 8, generator=g) * 2.2 - 1.1  # also outside [-1, 1]: clamped
    view, copy = to_uint8(x, view=True), to_uint8(x)
    assert view.stride(1) == 0 and torch.equal(view, copy)
    assert torch.equal(from_uint8(view, 1, 8), from_uint8(copy, 1, 8))
    rgb = torch.rand(5, 3, 8, 8, generator=g) * 2 - 1
    assert torch.equal(to_uint8(rgb, view=True), to_uint8(rgb))
