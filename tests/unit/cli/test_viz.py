"""Tests that look: kept generators, evaluation pictures, sample/interpolate/arithmetic, the
HTML report (in a real headless Chromium), TensorBoard events.

One small sweep (non-saturating and cgan on digits and ring8, 2kimg, 2 evaluations after the
one at step 0, 300 evaluation samples, with calibration rows and TensorBoard) is trained once
per module in a subprocess pinned to one thread, and every test reads what it left.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    base = tmp_path_factory.mktemp("viz")
    out, tb = base / "runs", base / "tb"
    r = run_cli("run", "--variant", "non-saturating,cgan", "--dataset", "digits,ring8",
                "--budget", "2kimg", "--evals", "2", "--eval-samples", "300", "--out", str(out),
                "--tensorboard", str(tb), "--device", "cpu", env=ENV)
    assert r.returncode == 0, r.stderr
    runs = {}
    for f in out.glob("*.json"):
        meta = json.loads(f.read_text())["meta"]
        runs[(meta["variant"], meta["dataset"])] = f
    return {"out": out, "tb": tb, "runs": runs, "stderr": r.stderr, "base": base}


def _threads():
    import torch

    torch.set_num_threads(1)


def _kept(sweep, variant, dataset):
    from ganbench.analysis import latent
    from ganbench import registry as plugins

    _threads()
    return latent.open_run(str(sweep["runs"][(variant, dataset)]), None, plugins.registries())


def _last_picture(run_file: Path):
    from ganbench.store import artifacts
    from ganbench.store import pictures

    meta = json.loads(run_file.read_text())["meta"]
    found = artifacts.pictures(run_file.parent, meta["run_id"])
    assert found, "no pictures"
    step, path = found[-1]
    assert step == meta["steps"]
    return pictures.read_png(path)


# ------------------------------------------------------------------ kept generators, files


def test_every_run_keeps_its_generator_and_pictures(sweep):
    from ganbench.store import artifacts

    out = sweep["out"]
    assert not list((out / ".ganbench").glob("*.ckpt")), "checkpoints are deleted on completion"
    for (variant, dataset), f in sweep["runs"].items():
        meta = json.loads(f.read_text())["meta"]
        if meta["status"] == "calibration":
            assert not (out / meta["run_id"]).exists()
            continue
        d = out / meta["run_id"]
        record, state = artifacts.read_generator(d / "generator.safetensors")
        assert record["run_id"] == meta["run_id"] and record["step"] == meta["steps"]
        assert record["model"] == meta["model"] and record["z_dim"] == meta["config"][
            "hparams"]["z_dim"]
        assert record["conditional"] == (variant == "cgan")
        assert state and all(hasattr(t, "dtype") for t in state.values())
        steps = [s for s, _ in artifacts.pictures(out, meta["run_id"])]
        assert steps == sorted({r["step"] for r in json.loads(f.read_text())["rows"]})
        assert meta["artifacts"]["generator"] == f"{meta['run_id']}/generator.safetensors"


def test_generator_file_is_weights_only_safetensors(sweep):
    f = sweep["runs"][("non-saturating", "digits")]
    data = (f.parent / json.loads(f.read_text())["meta"]["run_id"] /
            "generator.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    assert header["__metadata__"]["format"] == "ganbench-generator/1"
    assert b"\x80\x04" not in data[:8 + n]  # no pickle protocol marker in the header
    assert all(v["dtype"] in ("F32", "I64") for k, v in header.items() if k != "__metadata__")


def test_run_names_the_report_command(sweep):
    assert f"ganbench report {sweep['out']} --out {sweep['out']}/report" in sweep["stderr"]


# ------------------------------------------------------------------ pictures are G(z)


@pytest.mark.parametrize("variant", ["non-saturating", "cgan"])
def test_grid_pixels_equal_g_of_eval_noise(sweep, variant):
    import torch

    from ganbench.store import pictures

    kept = _kept(sweep, variant, "digits")
    spec = kept.record["eval_spec"]
    g = torch.Generator().manual_seed(spec["seed"])
    z = torch.randn(spec["n_samples"], kept.z_dim, generator=g)
    y = None
    if kept.conditional:
        g = torch.Generator().manual_seed(spec["seed"] + 1)
        y = torch.randint(kept.num_classes, (spec["n_samples"],), generator=g)
    with torch.no_grad():
        x = kept.generator(z, y) if y is not None else kept.generator(z)
    expected = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    pic, layout = _last_picture(sweep["runs"][(variant, "digits")])
    assert layout["kind"] == "grid" and layout["cols"] == 8
    assert layout["rows"] == (10 if kept.conditional else 8)
    for i, k in enumerate(layout["cells"]):
        if k is None:
            continue
        r, c = divmod(i, layout["cols"])
        assert np.array_equal(pictures.grid_cell(pic, layout, r, c), expected[k, 0]), (r, c)
        if kept.conditional:  # one row per class
            assert int(y[k]) == r


def test_scatter_draws_samples_and_mode_circles(sweep):
    from ganbench.store import pictures
    from ganbench_plugins.datasets import RING8

    pic, layout = _last_picture(sweep["runs"][("non-saturating", "ring8")])
    assert layout["kind"] == "scatter" and layout["points"] == 300
    assert pic.ndim == 2 and set(np.unique(pic)) <= {0, 1, 2}
    assert (pic == 2).sum() > 8 * 10  # eight red 3σ circles
    # each circle is drawn around its mode centre
    win, side = layout["window"], layout["side"]
    for cx, cy in RING8.centers:
        px = round((cx - win[0]) / (win[1] - win[0]) * (side - 1))
        py = round((win[3] - cy) / (win[3] - win[2]) * (side - 1))
        assert (pic[py - 6:py + 7, px - 6:px + 7] == 2).sum() >= 8
    assert np.array_equal(pictures.rgb(pic, layout)[pic == 1][0], pictures.SAMPLE_RGB)


# ------------------------------------------------------------------ commands


@pytest.mark.parametrize("variant,dataset", [("non-saturating", "digits"), ("cgan", "digits"),
                                             ("non-saturating", "ring8")])
def test_sample_reproduces_last_evaluation_picture_bitwise(sweep, tmp_path, variant, dataset):
    from ganbench.store import pictures

    f = sweep["runs"][(variant, dataset)]
    out = tmp_path / "s.png"
    r = run_cli("sample", str(f), "--out", str(out), env=ENV)
    assert r.returncode == 0, r.stderr
    got, info = pictures.read_png(out)
    want, _ = _last_picture(f)
    assert got.dtype == want.dtype == np.uint8 and np.array_equal(got, want)
    assert info["source"] == "sample"


def test_sample_step_of_the_final_generator(sweep, tmp_path):
    """A run kept with --keep-generators final: --step of its last evaluation point is the
    final generator (not "kept: none"); another step says which one is kept."""
    from ganbench.store import pictures

    f = sweep["runs"][("non-saturating", "digits")]
    last = json.loads(f.read_text())["meta"]["steps"]
    out = tmp_path / "s.png"
    r = run_cli("sample", str(f), "--step", str(last), "--out", str(out), env=ENV)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(pictures.read_png(out)[0], _last_picture(f)[0])
    r = run_cli("sample", str(f), "--step", "1", "--out", str(out), env=ENV)
    assert r.returncode == 2
    assert (f"kept no generator of step 1 (kept: {last} (the final generator); train with "
            "--keep-generators all") in r.stderr and "none" not in r.stderr


def test_sample_by_run_id_class_and_seed(sweep, tmp_path):
    from ganbench.store import pictures

    f = sweep["runs"][("cgan", "digits")]
    run_id = f.stem
    out = tmp_path / "c.png"
    r = run_cli("sample", run_id, "--results", str(sweep["out"]), "--class", "3", "--seed", "5",
                "--n", "16", "--out", str(out), env=ENV)
    assert r.returncode == 0, r.stderr
    pic, layout = pictures.read_png(out)
    assert layout["rows"] * layout["cols"] >= 16 and layout["cls"] == 3


@pytest.mark.parametrize("args,message", [
    (["sample", "nope.json"], "no run file 'nope.json'"),
    (["sample", "nope", "--results", "{out}"], "no run 'nope' in"),
    (["sample", "{cgan}", "--class", "10"], "--class 10 is out of range"),
    (["sample", "{calib}"], "is a calibration row"),
    (["arithmetic", "{ring8}", "1-2+3"], "holds points"),
    (["arithmetic", "{cgan}", "1-2+3"], "needs an unconditional generator"),
    (["arithmetic", "{ns}", "1-2+x"], "is not like 7-1+4"),
    (["arithmetic", "{ns}", "1-2+12"], "class 12 in '1-2+12' is out of range"),
    (["interpolate", "{ns}", "--steps", "1"], "--steps: expected a whole number from 2"),
    (["sample", "{ns}", "--n", "5000"], "the run's evaluation noise has 300 latents"),
    (["report", "{out}/nonexistent"], "no results at"),
])
def test_bad_input_is_one_line_and_exit_2(sweep, tmp_path, args, message):
    names = {"out": str(sweep["out"]),
             "cgan": str(sweep["runs"][("cgan", "digits")]),
             "ns": str(sweep["runs"][("non-saturating", "digits")]),
             "ring8": str(sweep["runs"][("non-saturating", "ring8")]),
             "calib": str(sweep["runs"][("calib-real", "digits")])}
    args = [a.format(**names) for a in args] + ["--out", str(tmp_path / "x.png")]
    r = run_cli(*args, env=ENV)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("variant,dataset", [("non-saturating", "digits"), ("cgan", "digits"),
                                             ("non-saturating", "ring8")])
def test_interpolation_endpoints_equal_g_at_endpoint_latents(sweep, variant, dataset):
    import torch

    from ganbench.analysis import latent
    from ganbench.store import pictures

    kept = _kept(sweep, variant, dataset)
    pic, layout, z, samples = latent.interpolate(kept, pairs=2, steps=5, seed=3)
    ends = torch.randn(4, kept.z_dim, generator=torch.Generator().manual_seed(3))
    assert z.shape == (4, 5, kept.z_dim)
    for row in range(4):  # rows: lerp, slerp of pair 0, then of pair 1
        p = row // 2
        assert torch.equal(z[row, 0], ends[2 * p]) and torch.equal(z[row, -1], ends[2 * p + 1])
        for col, e in ((0, ends[2 * p]), (4, ends[2 * p + 1])):
            args = (e[None],) if not kept.conditional else (e[None], torch.tensor([p]))
            with torch.no_grad():
                alone = kept.generator(*args)[0]
            got = samples[row * 5 + col]
            assert torch.allclose(got, alone, atol=1e-5, rtol=0)
            if kept.kind == "images":
                cell = pictures.grid_cell(pic, layout, row, col)
                assert np.array_equal(cell, pictures.to_uint8(got[None])[0, 0])
    # slerp keeps the latents' norm in the middle; lerp shrinks it
    assert z[1, 2].norm() > z[0, 2].norm()


def test_interpolate_cli_writes_rows(sweep, tmp_path):
    from ganbench.store import pictures

    out = tmp_path / "i.png"
    r = run_cli("interpolate", str(sweep["runs"][("non-saturating", "digits")]), "--pairs", "3",
                "--steps", "6", "--out", str(out), env=ENV)
    assert r.returncode == 0, r.stderr
    pic, layout = pictures.read_png(out)
    assert (layout["rows"], layout["cols"]) == (6, 6)
    assert layout["row_labels"] == ["pair 1 linear", "pair 1 spherical", "pair 2 linear",
                                    "pair 2 spherical", "pair 3 linear", "pair 3 spherical"]
    _assert_row_labels_drawn(pic, layout)


def _assert_row_labels_drawn(pic, layout):
    """Each row of a labelled grid has ink in the label strip left of it (and nowhere else
    in the strip's gaps), and the title line has ink."""
    from ganbench.store import pictures

    left, top = layout["label_left"], layout["label_top"]
    assert left > 20 and top > 0
    strip = pic[:, :left]
    row_h = (layout["cell_h"] + layout["pad"]) * layout["scale"]
    for r in range(layout["rows"]):
        y = top + r * (row_h + layout["caption_h"])
        assert (strip[y:y + row_h] < pictures.BACKGROUND - 60).sum() >= 8, r
    assert (pic[:top] < pictures.BACKGROUND - 60).sum() > 50  # the title


def test_annotate_keeps_the_cells_and_labels_each_row():
    import torch

    from ganbench.store import pictures

    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 8, 8, generator=g) * 2 - 1
    grid, layout = pictures.image_grid(x, 2, 3, min_cell=40)
    pic, lab = pictures.annotate(grid, layout, row_labels=["+ 7", "="],
                                 captions=["a", None, "b 0.99", "c", "d", "e"], title="7 = ?")
    assert pic.ndim == 2 and pic.shape[0] > grid.shape[0] and pic.shape[1] > grid.shape[1]
    for r in range(2):
        for c in range(3):  # the cells keep G's pixels exactly
            assert np.array_equal(pictures.grid_cell(pic, lab, r, c),
                                  pictures.to_uint8(x[r * 3 + c][None])[0, 0])
    _assert_row_labels_drawn(pic, lab)
    row_h = (lab["cell_h"] + lab["pad"]) * lab["scale"]
    col_w = (lab["cell_w"] + lab["pad"]) * lab["scale"]
    for i, text in enumerate(lab["captions"]):  # ink under a cell exactly where a caption is
        r, c = divmod(i, 3)
        y = lab["label_top"] + r * (row_h + lab["caption_h"]) + row_h
        x0 = lab["label_left"] + c * col_w
        ink = (pic[y:y + lab["caption_h"], x0:x0 + col_w] < 100).sum()
        assert (ink > 5) == bool(text), (i, ink)


def test_arithmetic_reports_what_the_classifier_says(sweep, tmp_path):
    from ganbench.analysis import latent

    kept = _kept(sweep, "non-saturating", "digits")
    net = latent.classifier(kept)
    import torch

    x = latent.decode(kept, torch.randn(400, kept.z_dim, generator=torch.Generator()
                                        .manual_seed(0)))
    counts = np.bincount(latent.class_probabilities(net, x).argmax(1).numpy(), minlength=10)
    a, b = [int(c) for c in np.argsort(-counts)[:2]]  # classes this G draws most
    out = tmp_path / "a.png"
    r = run_cli("arithmetic", str(sweep["runs"][("non-saturating", "digits")]), f"{a}-{b}+{b}",
                "--pool", "400", "--exemplars", "2", "--json", "--out", str(out), env=ENV)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [t["class"] for t in res["terms"]] == [a, b, b]
    assert sum(res["result_classes"].values()) == 8
    assert 0 <= res["result_decodes_as"] < 10
    # a - b + b is a's mean latent: it decodes as what a's mean latent decodes as
    assert res["result_decodes_as"] == res["terms"][0]["mean_decodes_as"]
    from ganbench.store import pictures

    pic, layout = pictures.read_png(out)
    assert layout["rows"] == 4 and layout["expression"] == f"{a}-{b}+{b}"
    assert layout["row_labels"] == [f"{a}", f"- {b}", f"+ {b}", "="]
    assert layout["title"].startswith(f"{a} - {b} + {b} = ?")
    # the classifier's verdict under each result, and under each term's mean latent
    cols = layout["cols"]
    verdicts = layout["captions"][3 * cols:3 * cols + 8]
    assert verdicts[0].split()[0] == str(res["result_decodes_as"])
    assert sorted(v.split()[0] for v in verdicts) == sorted(
        k for k, n in res["result_classes"].items() for _ in range(n))
    assert layout["captions"][cols - 1] == (f"mean: {res['terms'][0]['mean_decodes_as']} "
                                            f"{res['terms'][0]['mean_confidence']:.2f}")
    _assert_row_labels_drawn(pic, layout)
    row_h = (layout["cell_h"] + layout["pad"]) * layout["scale"]
    y = layout["label_top"] + 3 * (row_h + layout["caption_h"]) + row_h
    assert (pic[y:y + layout["caption_h"]] < 100).sum() > 8 * 10  # 8 verdicts drawn


def test_interpolate_points_draws_each_pair_in_its_colour(sweep):
    from ganbench.analysis import latent
    from ganbench.store import pictures

    kept = _kept(sweep, "non-saturating", "ring8")
    pic, layout, z, samples = latent.interpolate(kept, pairs=3, steps=20, seed=1)
    assert layout["kind"] == "paths" and pic.shape[2] == 3
    side, top = layout["side"], layout["panel_top"]
    for left in layout["panel_left"]:  # linear, spherical: every pair's colour in each
        panel = pic[top:top + side, left:left + side]
        for rgb in layout["pair_rgb"]:
            assert (panel == np.array(rgb, np.uint8)).all(2).sum() > 30, (left, rgb)
    assert len({tuple(c) for c in layout["pair_rgb"]}) == 3
    # the start marker: a disc of the pair's colour around G's first point of the path
    px, py = pictures._pixels(samples[:1].numpy(), layout["window"], side)
    cx, cy = int(round(px[0])), int(round(py[0])) + top
    if 6 <= cx < side - 6 and top + 6 <= cy < top + side - 6:
        disc = pic[cy - 3:cy + 4, cx - 3:cx + 4]
        assert (disc == np.array(layout["pair_rgb"][0], np.uint8)).all(2).sum() >= 20


# ------------------------------------------------------------------ TensorBoard


def test_tensorboard_holds_every_metric_row_and_the_pictures(sweep):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    f = sweep["runs"][("non-saturating", "digits")]
    data = json.loads(f.read_text())
    acc = EventAccumulator(str(sweep["tb"] / data["meta"]["run_id"]),
                           size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    rows = data["rows"]
    from ganbench.store.results import MACHINE_METRICS

    group = {m: "speed" for m in MACHINE_METRICS}
    group.update({"frechet_data": "quality", "fid": "quality", "d_loss": "train",
                  "g_grad_norm": "train"})
    want = {f"{group[r['metric']]}/{r['metric']}" if r["metric"] in group else
            f"{'train' if r['higher_is_better'] is None else 'quality'}/{r['metric']}"
            for r in rows}
    assert set(tags["scalars"]) == want
    assert {"quality/fid", "quality/frechet_data", "train/d_loss", "train/g_grad_norm",
            "speed/images_per_s"} <= want
    assert all(t.split("/")[0] in ("quality", "train", "speed") for t in tags["scalars"])
    assert len({r["images_seen"] for r in rows}) > 1
    for r in rows:  # the step is the images seen, not G's steps
        tag = next(t for t in want if t.endswith("/" + r["metric"]))
        events = {e.step: e.value for e in acc.Scalars(tag)}
        assert events[r["images_seen"]] == pytest.approx(r["value"], rel=1e-6, abs=1e-6)
    images = acc.Images("samples/evaluation")
    assert [e.step for e in images] == sorted({r["images_seen"] for r in rows})
    assert images[-1].width > 0 and images[-1].encoded_image_string[:4] == b"\x89PNG"


# ------------------------------------------------------------------ resume, symlinks


def test_start_removes_stale_files_and_refuses_symlinks(tmp_path):
    from ganbench.store import artifacts
    from ganbench.api.errors import UsageError

    rid = "v__d__s0__abc"
    d = tmp_path / rid / "samples"
    d.mkdir(parents=True)
    for s in (0, 10, 20):
        (d / artifacts.picture_name(s)).write_bytes(b"x")
    (tmp_path / rid / "generator.safetensors").write_bytes(b"x")
    (tmp_path / rid / artifacts.generator_name(20)).write_bytes(b"x")
    (tmp_path / rid / "notes.txt").write_text("kept")
    a = artifacts.RunArtifacts(tmp_path, rid, pictures=False)
    a.start(10)  # resumed from step 10: points after it are drawn again
    assert sorted(p.name for p in d.iterdir()) == ["step00000000.png", "step00000010.png"]
    assert not (tmp_path / rid / "generator.safetensors").exists()
    assert not (tmp_path / rid / artifacts.generator_name(20)).exists()
    a.start(None)  # from scratch
    assert list(d.iterdir()) == [] and (tmp_path / rid / "notes.txt").exists()
    a.close()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "v__d__s1__abc")
    with pytest.raises(UsageError, match="symlink"):
        artifacts.RunArtifacts(tmp_path, "v__d__s1__abc").start(None)
    (tmp_path / rid / "samples" / "step00000030.png").symlink_to(elsewhere / "x")
    with pytest.raises(UsageError, match="symlink"):
        artifacts.atomic_write(tmp_path / rid / "samples" / "step00000030.png", b"x")
    assert not (elsewhere / "x").exists()


def test_damaged_generator_file_is_one_line(sweep, tmp_path):
    f = sweep["runs"][("non-saturating", "ring8")]
    copy = tmp_path / "runs"
    shutil.copytree(f.parent / f.stem, copy / f.stem)
    shutil.copy(f, copy / f.name)
    (copy / f.stem / "generator.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    r = run_cli("sample", str(copy / f.name), "--out", str(tmp_path / "x.png"), env=ENV)
    assert r.returncode == 2 and "is not a ganbench generator file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


class _Stop(Exception):
    pass


def test_resumed_run_draws_each_point_once_and_as_uninterrupted(reg, tmp_path):
    """Interrupted after its second checkpoint, a run resumes; it ends with one picture per
    evaluation point, bitwise those of an uninterrupted run, and its generator kept."""
    import torch

    from ganbench.store import artifacts
    from ganbench.planning.budget import Budget
    from ganbench.training.checkpoint import Checkpointer, checkpoint_path
    from ganbench.planning.plan import plan
    from ganbench.training.runner import train

    torch.set_num_threads(1)
    job = plan(reg, variants=["non-saturating"], datasets=["ring8"], seeds=[0],
               budget=Budget.parse("60steps"), evals=4, eval_samples=200)[0]

    def run(out, stop_after=None):
        calls = {"n": 0}

        def progress(frac):
            calls["n"] += 1
            if stop_after is not None and calls["n"] > stop_after:
                raise _Stop()

        ck = Checkpointer(checkpoint_path(out, job.run_id), job.run_id)
        return train(job, reg, device="cpu", checkpoint=ck, progress=progress,
                     artifacts=artifacts.RunArtifacts(out, job.run_id))

    a, b = tmp_path / "a", tmp_path / "b"
    run(a)
    with pytest.raises(_Stop):
        run(b, stop_after=2)  # two segments and their checkpoints, then the third stops
    partial = [s for s, _ in artifacts.pictures(b, job.run_id)]
    assert partial == [0, 15, 30]
    (b / job.run_id / "samples" / artifacts.picture_name(45)).write_bytes(b"stale")
    res = run(b)
    assert res.info["resumed_from_step"] == 30
    got = [(s, p.read_bytes()) for s, p in artifacts.pictures(b, job.run_id)]
    want = [(s, p.read_bytes()) for s, p in artifacts.pictures(a, job.run_id)]
    assert [s for s, _ in got] == [0, 15, 30, 45, 60]
    assert got == want
    ra, sa = artifacts.read_generator(a / job.run_id / "generator.safetensors")
    rb, sb = artifacts.read_generator(b / job.run_id / "generator.safetensors")
    assert ra == rb and sa.keys() == sb.keys()  # (safetensors orders metadata keys freely)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------ the report


def _report(runs, tmp_path):
    out = tmp_path / "report"
    r = run_cli("report", str(runs), "--out", str(out), env=ENV)
    assert r.returncode == 0, r.stderr
    return out / "index.html"


def test_report_is_offline_and_complete(sweep, tmp_path):
    import re

    index = _report(sweep["out"], tmp_path)
    page = index.read_text()
    assert "Hyperparameter study" not in page  # no study runs here
    assert not list((index.parent / "img").glob("*study*"))
    assert "http://" not in page and "https://" not in page and "<script" not in page
    srcs = re.findall(r"src='([^']+)'", page)
    assert srcs
    from urllib.parse import unquote

    for s in srcs:
        assert (index.parent / unquote(s)).is_file(), s
    for text in ("digits", "ring8", "Final metrics", "Calibration rows", "calib-real",
                 "calib-noise", "Anytime quality", "Stability", "Final samples",
                 "Samples over time", "Environment", "EvalSpec", "non-saturating", "cgan"):
        assert text in page, text
    assert page.count("class='pic'") >= 4 * 4  # 4 runs x (final + 3 points over time)
    env = page[page.index("<h2 id='environment'>"):]
    head, *rows = _cells(env[env.index("<table>"):env.index("</table>") + 8])
    assert [r[0] for r in rows] == ["device", "torch", "ganbench", "git sha", "fast path",
                                    "runs"]
    assert "None" not in env and "{" not in env and "null" not in env
    spec = env[env.index("EvalSpec"):]
    head, *rows = _cells(spec[spec.index("<table>"):spec.index("</table>") + 8])
    assert head[0] == "field" and {"n_samples", "seed"} <= {r[0] for r in rows}


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


needs_chromium = pytest.mark.skipif(
    _chromium() is None or shutil.which("chromedriver") is None,
    reason="needs Chromium and chromedriver from the OS packages (Debian: apt-get install "
    "chromium chromium-driver; .ci/run installs them)")


def _open_in_chromium(index: Path, shot: str, min_images: int) -> None:
    """Load ``index`` in headless Chromium: every image loads, no console error, a full-page
    screenshot in ``shot``."""
    pytest.importorskip("selenium", reason="needs selenium (pip install -e '.[dev]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = _chromium()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,2400", "--allow-file-access-from-files"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.get(index.as_uri())
        driver.execute_script("return document.readyState")
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
            "i.naturalWidth, i.naturalHeight]);")
        assert len(images) >= min_images
        broken = [i for i in images if not (i[1] and i[2] > 0 and i[3] > 0)]
        assert not broken, broken
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1400, min(int(height) + 100, 12000))
        assert driver.save_screenshot(shot)
        assert Path(shot).stat().st_size > 10_000
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert not errors, errors
        assert "ganbench report" in driver.title
    finally:
        driver.quit()


@needs_chromium
def test_report_in_headless_chromium(sweep, tmp_path):
    index = _report(sweep["out"], tmp_path)
    _open_in_chromium(index, os.environ.get("GANBENCH_SCREENSHOT") or
                      str(tmp_path / "report.png"), min_images=16)


def test_report_figures_keep_legends_off_the_axes_and_one_look_per_variant(tmp_path):
    """14 variants (more than the ten colours): each keeps one distinct look in every figure,
    and the one legend of a figure lies outside every axes."""
    import pandas as pd

    from ganbench.analysis import report

    variants = [f"variant-{i:02d}" for i in range(14)]
    rows = [{"run_id": f"{v}__s0", "variant": v, "metric": m, "step": s, "value": 1.0 + i + s,
             "wall_s": s * 1.5, "images_seen": s * 64}
            for i, v in enumerate(variants) for m in ("fid", "d_loss") for s in range(4)]
    d = pd.DataFrame(rows)
    styles = report._styles(reversed(variants))
    looks = {(st["color"], st["ls"], st["marker"]) for st in styles.values()}
    assert len(looks) == 14 and report._styles(variants[3:]) != styles  # sorted, per report
    for fig in (report._figure_quality(d, d.iloc[:0], "fid", styles, tmp_path / "q.png"),
                report._figure_stability(d, ["d_loss"], styles, tmp_path / "s.png")):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # the layout as saved
        renderer = canvas.get_renderer()
        (legend,) = fig.legends
        box = legend.get_window_extent(renderer)
        assert len(legend.get_texts()) == 14
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), ax.get_title()
        for ax in fig.axes:  # the curves of a variant look the same in both figures
            for line in ax.get_lines():
                v = line.get_label().split(" (")[0]
                assert (line.get_color(), line.get_linestyle()) == (
                    styles[v]["color"], styles[v]["ls"])


def _seed_rows(variant, loss, metric, per_seed, images=(0, 25_000, 50_000, 75_000, 100_000),
               higher=False, unit=""):
    """Rows of ``metric`` for ``variant``: ``per_seed[s][k]`` at ``images[k]``."""
    return [{"run_id": f"{variant}__s{s}", "variant": variant, "loss": loss, "metric": metric,
             "step": k, "value": v, "wall_s": k * 2.0, "images_seen": images[k],
             "higher_is_better": higher, "unit": unit}
            for s, vals in enumerate(per_seed) for k, v in enumerate(vals)]


def test_report_bands_on_a_log_axis_stay_positive_and_inside_the_data():
    """Seeds far apart (FID 1000 vs 10): mean - std is negative, which on a log axis fell to
    the axis floor; the band is computed on log10 instead, positive, inside the data."""
    import pandas as pd

    from ganbench.analysis import report

    seeds = [[2000, 1000, 500, 300, 100], [2000, 100, 50, 20, 10], [2000, 30, 20, 10, 5]]
    d = pd.DataFrame(_seed_rows("a", "ns", "fid", seeds))
    a = report._curves(d, "fid", "images_seen")["a"]
    lin_c, lin_lo, lin_hi = report.band_limits(a, log=False)
    assert (lin_lo[1:] < 0).all()  # what was drawn before
    floor, ceiling = report._data_range(d, "fid", True)
    assert (floor, ceiling) == (5, 2000)
    centre, lo, hi = report.band_limits(a, True, floor, ceiling)
    v = np.array(seeds, dtype=float)
    gm = 10 ** np.log10(v).mean(0)
    assert np.allclose(centre, gm)  # the geometric mean
    s = np.log10(v).std(0, ddof=1)
    assert np.allclose(lo, np.maximum(10 ** (np.log10(gm) - s), 5))
    assert np.allclose(hi, np.minimum(10 ** (np.log10(gm) + s), 2000))
    assert (lo > 0).all() and (lo >= floor).all() and (hi <= ceiling).all()
    assert (lo <= centre * (1 + 1e-12)).all() and (centre <= hi * (1 + 1e-12)).all()
    assert (lo[1:] < hi[1:]).all()
    # and as drawn: a log axis, every band vertex positive and inside the data's range
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        fig = report._figure_quality(d, d.iloc[:0], "fid", report._styles(["a"]),
                                     Path(tmp) / "q.png")
    for ax in fig.axes[:2]:
        assert ax.get_yscale() == "log"
        (band,) = ax.collections
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.min() >= 5 and ys.max() <= 2000
        assert ax.get_ylim()[0] > 1  # the axis does not reach down to the floor
        assert "fid" in ax.get_ylabel() and "lower is better" in ax.get_ylabel()


def test_report_tick_labels_are_engineering():
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ganbench.analysis import report

    assert [report.eng(x) for x in (40_000, 1_200_000, 75_000, 125_000, 3e9, 950, 0, 0.25,
                                    -1200, 12.5)] == [
        "40k", "1.2M", "75k", "125k", "3G", "950", "0", "0.25", "-1.2k", "12.5"]
    images = (0, 250_000, 500_000, 750_000, 1_000_000)
    d = pd.DataFrame(_seed_rows("a", "ns", "modes_covered", [[0, 3, 5, 7, 8], [0, 2, 6, 8, 8]],
                                images=images, higher=True, unit="modes"))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        fig = report._figure_quality(d, d.iloc[:0], "modes_covered", report._styles(["a"]),
                                     Path(tmp) / "q.png")
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[1]  # vs images seen
    lo, hi = ax.get_xlim()
    labels = [t.get_text() for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi]
    assert labels[0] == "0" and labels[-1] == "1M" and len(labels) >= 4, labels
    assert all(t[-1] in "kM" for t in labels[1:]) and all(len(t) <= 5 for t in labels)
    assert ax.get_xlabel().startswith("images seen")
    assert ax.get_ylabel() == "modes_covered (modes, higher is better)"
    yt = [float(t) for t in ax.get_yticks()]
    assert all(t == int(t) for t in yt)  # a count: whole-number ticks
    assert fig.axes[0].get_xlabel() == "training time (s)"
    w, _ = fig.get_size_inches()
    assert w * fig.dpi >= 1300  # the page's width


def test_report_stability_panels_group_by_loss_kind():
    """A Wasserstein critic's d_loss of -1200 and gradient norm of 25,000 get their own row
    of panels: the non-saturating curves keep their scale."""
    import pandas as pd

    from ganbench.analysis import report

    rows = (_seed_rows("wgan", "wasserstein", "d_loss", [[-5, -300, -1200, -900, -1100]])
            + _seed_rows("wgan", "wasserstein", "g_grad_norm", [[3, 800, 25_000, 9_000, 20_000]])
            + _seed_rows("ns", "non-saturating", "d_loss", [[1.4, 1.2, 1.1, 1.0, 0.9]])
            + _seed_rows("ns", "non-saturating", "g_grad_norm", [[0.5, 1, 2, 1.5, 1.2]])
            + _seed_rows("hinge", "hinge", "d_loss", [[2.0, 1.5, 1.0, 0.8, 0.7]])
            + _seed_rows("ns2", "non-saturating", "d_loss", [[1.3, 1.1, 1.0, 0.9, 0.8]]))
    d = pd.DataFrame(rows)
    assert report.loss_kinds(d) == {"hinge": ["hinge"], "non-saturating": ["ns", "ns2"],
                                    "wasserstein": ["wgan"]}
    styles = report._styles(["hinge", "ns", "ns2", "wgan"])
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        fig = report._figure_stability(d, ["d_loss", "g_grad_norm"], styles,
                                       Path(tmp) / "s.png")
    axes = [ax for ax in fig.axes]
    assert len(axes) == 6  # 3 kinds x 2 statistics
    kinds = {"hinge": {"hinge"}, "non-saturating": {"ns", "ns2"}, "wasserstein": {"wgan"}}
    for r, (kind, want) in enumerate(kinds.items()):
        assert axes[2 * r].get_ylabel() == f"loss: {kind}"
        drawn = {line.get_label() for line in axes[2 * r].get_lines()}
        assert drawn == want, (kind, drawn)
    lo, hi = axes[2].get_ylim()  # non-saturating d_loss: not flattened by -1200
    assert -0.5 < lo < 0.8 and 1.4 < hi < 2.5
    lo, hi = axes[3].get_ylim()
    assert 0 < lo and hi < 5
    assert axes[5].get_yscale() == "log"  # the critic's gradient norm spans 3 .. 25,000
    assert "not recorded" in " ".join(t.get_text() for t in axes[1].texts)  # hinge: none


def test_report_colours_are_distinct_for_20_variants():
    from matplotlib.colors import to_rgb

    from ganbench.analysis import report

    names = [f"v{i:02d}" for i in range(20)]
    styles = report._styles(names)
    rgb = np.array([to_rgb(styles[n]["color"]) for n in names])
    dist = np.sqrt(((rgb[:, None] - rgb[None]) ** 2).sum(-1))
    assert dist[~np.eye(20, dtype=bool)].min() > 0.12  # every pair apart in RGB
    assert len({(tuple(c), styles[n]["ls"]) for c, n in zip(rgb.tolist(), names)}) == 20
    # stable: a variant's look does not depend on the dataset or figure it is drawn in
    again = report._styles(list(reversed(names)))
    assert all(again[n] == styles[n] for n in names)


# ------------------------------------------------------------------ the report of a study


@pytest.fixture(scope="module")
def study_runs(tmp_path_factory):
    """A real hyperparameter study (ganbench sweep): two variants x 3 trials on ring8, with
    the calibration rows (which carry their trial's recipe but are no trial)."""
    out = tmp_path_factory.mktemp("study") / "runs"
    r = run_cli("sweep", "--variant", "non-saturating,lsgan", "--dataset", "ring8", "--trials",
                "3", "--budget", "40steps", "--evals", "1", "--eval-samples", "200", "-q",
                "--threads", "1", "--device", "cpu", "--out", str(out), env=ENV)
    assert r.returncode == 0, r.stderr
    return out


def _cells(table_html: str) -> list[list[str]]:
    import html
    import re

    return [[html.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table_html)]


def test_report_study_section_shows_study_py_numbers(study_runs, tmp_path):
    from ganbench.store import results
    from ganbench.analysis import study
    from ganbench.store.results import format_number as _num

    index = _report(study_runs, tmp_path)
    page = index.read_text()
    assert "<h3 id='study-ring8-lucic2018'>Hyperparameter study" in page
    assert "href='#study-ring8-lucic2018'" in page
    summary = study.summarize(results.load(sorted(study_runs.glob("*.json"))))
    assert sorted(s["variant"] for s in summary) == ["lsgan", "non-saturating"]  # no calib-
    start = page.index("<table>", page.index("expected best after k trials [95% band"))
    head, *rows = _cells(page[start:page.index("</table>", start) + 8])
    assert head == ["variant", "trials", "failed", "min", "median", "max", "k=1", "k=N",
                    "best trial", "best trial's settings"]  # k=5: more trials than N = 3

    def band(c):
        return f"{_num(c['expected_best'])} [{_num(c['ci_low'])}, {_num(c['ci_high'])}]"

    assert len(rows) == len(summary)
    for row, s in zip(rows, summary):
        c = dict(zip(head, row))
        assert c["variant"] == s["variant"] and c["trials"] == "3"
        assert c["failed"] == str(s["failed"])
        assert [c[k] for k in ("min", "median", "max")] == [_num(s[k]) for k in
                                                            ("min", "median", "max")]
        assert c["k=1"] == band(s["expected_best"][0])
        assert c["k=N"] == band(s["expected_best"][2])
        assert c["best trial"] == str(s["best_trial"])
        for k, v in s["best_params"].items():
            assert f"{k}={_num(v) if isinstance(v, float) else v}" in c["best trial's settings"]
    # every trial's settings, in a <details>: 2 variants x 3 trials
    details = page[page.index("<details>"):page.index("</details>")]
    head, *trials = _cells(details[details.index("<table>"):])
    assert len(trials) == 6 and {"lr", "batch_size", "k"} <= set(head)


def test_report_study_figure_is_a_png(study_runs, tmp_path):
    from PIL import Image

    index = _report(study_runs, tmp_path)
    png = index.parent / "img" / "ring8--study-lucic2018.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as im:
        im.verify()
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width >= 800 and im.height >= 300
    assert "src='img/ring8--study-lucic2018.png'" in index.read_text()


@needs_chromium
def test_study_report_in_headless_chromium(study_runs, tmp_path):
    index = _report(study_runs, tmp_path)
    _open_in_chromium(index, os.environ.get("GANBENCH_STUDY_SCREENSHOT") or
                      str(tmp_path / "study.png"), min_images=5)


def test_keep_generators_all_reproduces_every_evaluation_point(tmp_path):
    from ganbench.store import artifacts
    from ganbench.store import pictures

    out = tmp_path / "runs"
    r = run_cli("run", "--variant", "non-saturating", "--dataset", "grid25", "--budget",
                "1500img", "--evals", "2", "--eval-samples", "200", "--out", str(out),
                "--no-calibration", "--keep-generators", "all", "-q", env=ENV)
    assert r.returncode == 0, r.stderr
    f = next(out.glob("*.json"))
    found = artifacts.pictures(out, f.stem)
    assert len(found) == 3
    for step, path in found:
        assert (out / f.stem / artifacts.generator_name(step)).is_file()
        png = tmp_path / f"s{step}.png"
        r = run_cli("sample", f.stem, "--results", str(out), "--step", str(step), "--out",
                    str(png), env=ENV)
        assert r.returncode == 0, r.stderr
        assert np.array_equal(pictures.read_png(png)[0], pictures.read_png(path)[0]), step
    r = run_cli("sample", str(f), "--step", "7", "--out", str(tmp_path / "x.png"), env=ENV)
    assert r.returncode == 2 and "kept no generator of step 7 (kept: 0, " in r.stderr
