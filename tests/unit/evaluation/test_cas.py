"""Classification accuracy score: a "generator" that returns real labelled training images
scores about what a classifier trained on real data does; one whose labels are shuffled scores
chance."""

import torch

from ganbench.evaluation import cas


def _digits(reg):
    from ganbench.api.specs import DataRequest

    ds = reg.datasets.get("digits")
    return ds, ds.load(DataRequest("train")), ds.load(DataRequest("test"))


def _ctx(reg, samples, labels, conditional=True):
    from ganbench.api.evalspec import EvalContext
    from ganbench.evaluation.extractors.select import eval_spec_for
    from ganbench.planning.plan import plan
    from ganbench.training.runner import load_data

    job = plan(reg, variants=["non-saturating"], datasets=["digits"], budget=None, seeds=(0,),
               eval_samples=len(samples))[0]
    ds, train = load_data(reg, job, "train", None, False)
    spec, ext, ref = eval_spec_for(job, ds, train, download=False)
    return EvalContext(job=job, dataset=ds, data=train, generator=None, conditional=conditional,
                       device=torch.device("cpu"), eval_spec=spec, step=0, images_seen=0,
                       wall_s=0.0, extractor=ext, reference=ref, _samples=samples,
                       _labels=labels)


def test_real_labelled_images_score_high_shuffled_labels_score_chance(reg, monkeypatch):
    """digits (1,437 training images, 10 classes; the shipped classifier reaches 96.7% on the
    test split, and so does CAS with its default 500 steps): with 150 steps (to keep this
    short; ~0.89) CAS of the training images with their labels > 0.85; with their labels
    permuted the classifier can only learn the class frequencies: at most the largest test
    class share plus sampling noise (< 0.2)."""
    monkeypatch.setattr(cas, "STEPS", 150)
    ds, train, test = _digits(reg)
    spec = reg.metrics.get("cas")
    assert not spec.default and spec.directions == {"cas": True}
    real = spec.compute(_ctx(reg, train.x, train.y))
    assert [(v.metric, v.unit, v.higher_is_better) for v in real] == [("cas", "prob", True)]
    assert real[0].value > 0.85
    shuffled = train.y[torch.randperm(len(train.y), generator=torch.Generator().manual_seed(0))]
    chance = spec.compute(_ctx(reg, train.x, shuffled))[0].value
    top = float(torch.bincount(test.y).max()) / len(test.y)
    assert chance < max(0.2, top + 0.05)
    assert real[0].value > chance + 0.6


def test_cas_applies_only_to_conditional_generators_with_a_shipped_classifier(reg):
    ds, train, _ = _digits(reg)
    spec = reg.metrics.get("cas")
    assert spec.applies(_ctx(reg, train.x[:10], train.y[:10]))
    assert not spec.applies(_ctx(reg, train.x[:10], None, conditional=False))


def test_score_is_deterministic_and_bounded_in_samples(reg):
    """The same samples give the same CAS (fixed seeds); only MAX_SAMPLES of them are used."""
    _, train, test = _digits(reg)
    from ganbench.evaluation.extractors.domain import info

    arch = info("digits")["arch"]
    a = cas.score(train.x[:300], train.y[:300], test.x, test.y, arch, steps=40)
    assert a == cas.score(train.x[:300], train.y[:300], test.x, test.y, arch, steps=40)
    old = cas.MAX_SAMPLES
    try:
        cas.MAX_SAMPLES = 300
        assert cas.score(train.x, train.y, test.x, test.y, arch, steps=40) == a
    finally:
        cas.MAX_SAMPLES = old
    assert cas.MAX_SAMPLES == 10_000 and cas.STEPS == 500 and cas.BATCH == 64


def test_list_metrics_shows_the_new_metrics_with_direction_and_meaning(capsys):
    import json

    from ganbench.cli import main

    assert main(["list", "metrics", "--json"]) == 0
    got = {d["name"]: d for d in json.loads(capsys.readouterr().out)["metrics"]}
    assert got["cas"]["directions"] == {"cas": True} and got["cas"]["default"] is False
    assert got["memorisation"]["directions"] == {"copy_fraction": False,
                                                 "data_copying_z": None}
    assert got["fd-dinov2"]["directions"]["fd_dinov2"] is False
    assert got["fidelity"]["directions"]["density"] is True
    assert main(["list", "metrics"]) == 0
    text = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    for name, says in (("cas", "cas (higher better"), ("fd-dinov2", "fd_dinov2 (lower better)"),
                       ("memorisation", "copy_fraction (lower better)"),
                       ("fidelity", "density and coverage")):
        assert says in text[name]
