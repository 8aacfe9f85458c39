"""Density/coverage against the ``prdc`` package, and ganbench crosscheck's agreement with
torch-fidelity, clean-fid and pytorch-fid (skipped, with the reason, without the dev extra)."""

import importlib.util

import pandas as pd
import pytest
import torch

from ganbench.evaluation import crosscheck
from ganbench.evaluation import fidelity
from conftest import REPO

RESULTS = __import__("pathlib").Path(REPO) / "results"


def _need(*mods):
    for m in mods:
        if importlib.util.find_spec(m) is None:
            pytest.skip(f"{m} not installed (pip install -e '.[dev]')")


def _clusters(n, d, seed, shift=0.0):
    centres = torch.randn(5, d, generator=torch.Generator().manual_seed(0),
                          dtype=torch.float64) * 4
    g = torch.Generator().manual_seed(seed)
    return centres[torch.randint(0, 5, (n,), generator=g)] + shift \
        + torch.randn(n, d, generator=g, dtype=torch.float64)


def test_density_coverage_match_prdc_exactly_in_float64():
    """In float64, distances from torch.cdist and sklearn differ by ~1e-15 relative; a decision
    flips only when a distance lies that close to a ball's edge, which the band check below
    rules out on these points, so the counts, and the metrics, are equal."""
    _need("prdc")
    fake, real = _clusters(300, 16, 1, shift=0.3), _clusters(400, 16, 2)
    band = crosscheck.knn_band(fake.float(), real.float(), 3)
    ours = fidelity.density_coverage(fake, real, k=3)
    theirs = crosscheck._prdc(fake, real, 3)
    assert band["density"] < 0.01  # float32 band; the float64 one is ~1e9 times narrower
    assert ours["density"] == pytest.approx(theirs["density"], abs=1e-12)
    assert ours["coverage"] == pytest.approx(theirs["coverage"], abs=1e-12)
    assert 0 < ours["coverage"] < 1 and 0 < ours["density"]


def test_density_coverage_limits():
    real = _clusters(200, 8, 3)
    same = fidelity.density_coverage(real, real, k=3)
    assert same["coverage"] == 1.0  # every ball holds its own centre
    # each point lies in its own ball and in the balls of the real points that have it within
    # their 3 nearest: (N + 3N) / (3N)
    assert same["density"] == pytest.approx(4 / 3, abs=1e-12)
    far = fidelity.density_coverage(real + 100, real, k=3)
    assert far == {"density": 0.0, "coverage": 0.0}
    # batching does not change the counts
    assert fidelity.density_coverage(real[:150] + 0.3, real, k=3, batch=7) == \
        fidelity.density_coverage(real[:150] + 0.3, real, k=3)


def test_reference_radii_cached_between_evaluations_change_nothing(tmp_path, monkeypatch):
    from ganbench.evaluation.extractors.domain_net import to_uint8
    from ganbench.evaluation.extractors.select import resolve_extractor
    from ganbench.api.specs import DataRequest
    from ganbench_plugins.datasets import load_digits

    real = _clusters(120, 8, 4)
    fake = _clusters(90, 8, 5, shift=0.2)
    assert fidelity.density_coverage(fake, real, radii=fidelity.real_radii(real)) == \
        fidelity.density_coverage(fake, real)
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(tmp_path))
    x = load_digits(DataRequest("test")).x
    ext, radii = resolve_extractor("auto", "digits"), {}
    gen, ref = fidelity.tensor_input(to_uint8(x[:100])), fidelity.tensor_input(to_uint8(x[100:]))

    def calc(name):
        return fidelity.calculate(gen, 100, ref, len(x) - 100, ext, cuda=False, seed=0,
                                  isc=False, kid=False, cache_name=name, radii=radii)

    plain = calc(None)
    assert radii == {}  # an unnamed reference is never cached
    first = calc("ganbench-test-radii")
    assert len(radii) == 1
    assert plain == first == calc("ganbench-test-radii")


def test_frechet_tolerance_is_tight_enough_to_fail():
    import numpy as np

    g = np.random.default_rng(0)
    a, b = g.normal(size=(500, 8)), g.normal(size=(500, 8)) + 0.1
    mom = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    tol = crosscheck.frechet_tolerance(*mom)
    assert 0 < tol < 1e-5  # far below the FID differences that matter (>1e-3)


def test_crosscheck_digits_all_agree():
    """Live: the digits extractor, held-out and noisy pairs; every row that must agree does."""
    _need(*crosscheck.OTHERS)  # module names
    from ganbench.evaluation.extractors.select import resolve_extractor

    ext = resolve_extractor("auto", "digits")
    for _, gen, ref in crosscheck._pairs("digits", 200, None, 0):
        rows = crosscheck.compare(gen, ref, ext)
        assert {r["verdict"] for r in rows} == {"agrees", "differs by design"}, \
            [r for r in rows if r["verdict"] == "DISAGREES"]
        # fid x4, kid x2, precision/recall vs torch-fidelity, prdc x4
        assert len([r for r in rows if r["verdict"] == "agrees"]) == 12


def test_committed_agreement_table():
    """The committed table: every row either agrees within its tolerance or differs by design,
    it covers MNIST, Fashion-MNIST and the Inception-v3 stand-in, and every implementation."""
    df = pd.read_csv(RESULTS / "eval-agreement.csv")
    assert set(df.verdict) == {"agrees", "differs by design"}
    ok = df[df.verdict == "agrees"]
    assert ((ok["value"] - ok["ganbench"]).abs() <= ok["tolerance"].astype(float)).all()
    assert {"mnist", "fashion-mnist", "digits"} <= set(df.dataset)
    assert df.extractor.str.contains("stand-in").any()
    for impl in ("torch-fidelity", "pytorch-fid", "clean-fid", "prdc"):
        assert df.implementation.str.contains(impl).any()
    assert set(df.metric) == {"fid", "kid", "precision", "recall", "density", "coverage"}


def _ladders():
    import importlib.util as iu

    path = RESULTS.parent / "benchmarks" / "metric_ladders.py"
    spec = iu.spec_from_file_location("metric_ladders", path)
    mod = iu.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_ladders_respond_where_they_must():
    """Recomputed from the committed CSV: every metric/axis pair that must get worse does so
    monotonically on every dataset (no step better by more than the sampling noise floor of
    ``metric_ladders.noise_floor``), and the committed Markdown states the same verdicts."""
    lad = _ladders()
    df = pd.read_csv(RESULTS / "metric-ladders.csv")
    assert set(df.dataset) == {"mnist", "fashion-mnist", "digits", "ring8", "grid25"}
    vs = lad.verdicts(df)
    must = [v for v in vs if v["must_worsen"]]
    assert len(must) >= 40
    bad = [(v["dataset"], v["axis"], v["metric"], v["verdict"]) for v in must
           if not v["verdict"].startswith("worse, monotone")]
    assert not bad, bad
    # the README's claim: no fidelity/diversity metric gets worse when a generator memorises
    # training images; only the memorisation metrics do (tests/unit/evaluation/test_memorisation.py)
    memo = {"copy_fraction", "data_copying_z"}
    assert not [v for v in vs if v["axis"] == "memorise" and v["verdict"].startswith("worse")
                and v["metric"] not in memo]
    assert {(v["dataset"], v["metric"]) for v in vs if v["axis"] == "memorise"
            and v["metric"] in memo and v["verdict"] == "worse, monotone"} \
        == {(d, m) for d in ("mnist", "fashion-mnist", "digits", "ring8", "grid25") for m in memo}
    md = (RESULTS / "metric-ladders.md").read_text()
    for v in vs:
        assert f"| {v['dataset']} | {v['axis']} | {v['metric']} | {v['mildest']:.4g} | " \
            f"{v['severest']:.4g} | {v['rho']:.2f} | {v['verdict']} |" in md
    assert (RESULTS / "metric-ladders.png").stat().st_size > 10_000


def test_ladder_rungs_live_on_digits_and_ring8():
    """A small live check of the ladder code: on digits, FID rises and recall/coverage fall as
    classes are dropped, precision falls with pixel noise; on ring8 the modes covered equal the
    modes kept."""
    lad = _ladders()
    from ganbench import registry as plugins
    from ganbench.evaluation.extractors.domain_net import to_uint8
    from ganbench.evaluation.extractors.select import resolve_extractor
    from ganbench.api.specs import DataRequest

    reg = plugins.load(use_env=False)
    ds = reg.datasets.get("digits")
    train, test = (ds.load(DataRequest(s)) for s in ("train", "test"))
    ref, ext = train.x[:300], resolve_extractor("auto", "digits")
    held, y = test.x[:300], test.y[:300]

    def m(axis, level):
        x = lad.degrade(axis, level, held, y, train.x, torch.Generator().manual_seed(1))
        return lad.measure("digits", ds, x, ref, to_uint8(ref), ext, 300)

    all10, two, one = m("classes", 10), m("classes", 2), m("classes", 1)
    assert all10["fid"] < two["fid"] < one["fid"]
    assert all10["recall"] > two["recall"] > one["recall"]
    assert all10["coverage"] > two["coverage"] > one["coverage"]
    precision = [m("noise", s)["precision"] for s in (0.0, 0.5, 1.0)]
    assert precision[0] > precision[1] > precision[2]
    ring = reg.datasets.get("ring8")
    rt = ring.load(DataRequest("test"))
    for kept in (8, 3, 1):
        x = lad.degrade("classes", kept, rt.x[:400], rt.y[:400], rt.x,
                        torch.Generator().manual_seed(1))
        assert lad.measure("ring8", ring, x, rt.x[:400], None, None, 400)["modes_covered"] \
            == kept


@pytest.mark.parametrize("argv, says", [
    (["--datasets", "ring8"], "no shipped extractor for ring8"),
    (["--n", "1"], "--n must be in 2..60000"),
])
def test_crosscheck_bad_input_is_one_line(tmp_path, capsys, argv, says):
    _need(*crosscheck.OTHERS)
    from ganbench.cli import main

    assert main(["crosscheck", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]
