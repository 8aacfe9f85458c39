"""The fast path on the CPU: bf16 autocast, channels_last, fused Adam, torch.compile, flags."""

import dataclasses
import shutil

import pytest

from conftest import run_cli
from ganbench.planning.budget import Budget
from ganbench.api.errors import UsageError
from ganbench.training.fastpath import FastPath
from ganbench.planning.plan import plan
from ganbench.training.runner import make_optimizer, train


def _job(reg, variant="non-saturating", dataset="ring8", steps=30, **kw):
    (job,) = plan(reg, variants=[variant], datasets=[dataset], seeds=[0],
                  budget=Budget.parse(f"{steps}steps"), **kw)
    return job


def _final(res, metric):
    return next(r["value"] for r in res.rows if r["step"] == res.steps and r["metric"] == metric)


def test_precision_is_part_of_the_run_id_only_when_not_fp32(reg):
    job = _job(reg)
    assert "precision" not in job.config()  # fp32 run ids are what they were before
    bf16 = dataclasses.replace(job, precision="bf16")
    assert bf16.config()["precision"] == "bf16"
    assert bf16.run_id != job.run_id
    with pytest.raises(UsageError, match="unknown precision"):
        FastPath(precision="fp16")
    with pytest.raises(UsageError, match="unknown compile mode"):
        FastPath(compile="fast")


@pytest.mark.slow
def test_bf16_autocast_trains_and_changes_numerics(reg):
    # bf16 autocast is emulated (slow) on most CPUs: a short run, but a clear improvement
    job = dataclasses.replace(_job(reg, steps=80, evals=1, eval_samples=1000),
                              precision="bf16")
    res = train(job, reg, device="cpu")
    start = next(r["value"] for r in res.rows if r["step"] == 0 and r["metric"] == "frechet_data")
    # learning happened under bf16: the generated ring is far closer to the data
    assert _final(res, "frechet_data") < 0.6 * start
    # and autocast was really on: the numbers differ from fp32's
    short = dataclasses.replace(job, budget=Budget.parse("5steps"), metrics=("training",))
    bf16, fp32 = (train(dataclasses.replace(short, precision=p), reg, device="cpu")
                  for p in ("bf16", "fp32"))
    assert _final(bf16, "d_loss") != _final(fp32, "d_loss")
    assert _final(bf16, "d_loss") == pytest.approx(_final(fp32, "d_loss"), rel=0.05)


def test_bf16_forward_passes_run_in_bfloat16(reg):
    import torch

    from ganbench.devkit import overhead
    from ganbench.training.step import StepStats, build_step

    job = _job(reg)
    t = overhead.build(job, reg, torch.device("cpu"))
    dtypes = []
    t.d.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    stats = StepStats(torch.device("cpu"))
    step = build_step(t.g, t.d, t.opt_g, t.opt_d, t.loss.d_loss, t.loss.g_loss, t.x, None,
                      batch_size=32, k=1, z_dim=job.hparams.z_dim, rng=t.rng, stats=stats,
                      fast=FastPath(precision="bf16"))
    step()
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in t.g.parameters())  # master weights stay fp32
    means = stats.means()
    assert all(v == v for v in means.values())


def test_channels_last_same_training_as_default(reg):
    import torch

    job = dataclasses.replace(_job(reg, "dcgan", "digits", steps=4), metrics=("training",))
    a = train(job, reg, device="cpu")
    b = train(job, reg, device="cpu", fast=FastPath(channels_last=True))
    for m in ("d_loss", "g_loss", "d_real", "g_grad_norm"):
        assert _final(b, m) == pytest.approx(_final(a, m), rel=1e-3), m
    net = FastPath(channels_last=True).prepare(torch.nn.Conv2d(1, 4, 3), torch.device("cpu"))
    assert net.weight.is_contiguous(memory_format=torch.channels_last)


def test_fused_adam_same_update_as_foreach():
    import torch

    torch.manual_seed(0)
    w0 = torch.randn(50, 20)
    out = []
    for fused in (False, True):
        w = torch.nn.Parameter(w0.clone())
        opt = make_optimizer("adam", [w], 1e-2, (0.5, 0.999), fused=fused)
        assert bool(opt.defaults.get("fused")) == fused
        for i in range(5):
            opt.zero_grad()
            (w.sin() * (i + 1)).sum().backward()
            opt.step()
        out.append(w.detach())
    assert torch.allclose(out[0], out[1], atol=1e-6)
    assert not torch.equal(out[0], w0)
    assert FastPath().use_fused(torch.device("cuda")) and FastPath().use_fused(
        torch.device("cpu"))
    assert not FastPath(fused=False).use_fused(torch.device("cpu"))


@pytest.mark.slow
@pytest.mark.skipif(not any(shutil.which(c) for c in ("c++", "g++", "clang++")),
                    reason="torch.compile on the CPU needs a C++ compiler")
def test_compile_matches_eager_on_a_tiny_model(reg):
    job = dataclasses.replace(_job(reg, "vanilla-minimax", "gaussian", steps=10),
                              metrics=("training",))
    eager = train(job, reg, device="cpu")
    compiled = train(job, reg, device="cpu", fast=FastPath(compile="default"))
    for m in ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm"):
        assert _final(compiled, m) == pytest.approx(_final(eager, m), rel=1e-4), m


def test_cli_flags_dry_run_and_bad_values(tmp_path):
    base = ["run", "--variant", "non-saturating", "--dataset", "ring8", "--dry-run"]
    fp32 = run_cli(*base)
    bf16 = run_cli(*base, "--precision", "bf16", "--compile", "--channels-last")
    assert fp32.returncode == 0 and bf16.returncode == 0, fp32.stderr + bf16.stderr
    assert fp32.stdout.split()[0] != bf16.stdout.split()[0]  # precision changes the run id
    same = run_cli(*base, "--compile", "reduce-overhead", "--fused-adam", "off")
    assert same.stdout == fp32.stdout  # execution-only flags do not
    bad = run_cli(*base, "--precision", "fp16")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "invalid choice" in bad.stderr and "Traceback" not in bad.stderr
    from ganbench.cli import build_parser

    run_parser = build_parser()._subparsers._group_actions[0].choices["run"]
    help_ = run_parser.format_help()
    for flag in ("--precision", "--compile", "--channels-last", "--fused-adam"):
        assert flag in help_
    args = run_parser.parse_args(["--all", "--compile"])
    assert args.compile == "default" and args.precision == "fp32" and args.fused_adam == "auto"
    with pytest.raises(SystemExit) as exc:
        run_parser.parse_args(["--all", "--compile", "turbo"])
    assert exc.value.code == 2


def test_compile_without_a_compiler_is_one_clear_error(monkeypatch):
    import torch

    from ganbench.training import fastpath

    monkeypatch.setattr(fastpath.shutil, "which", lambda name: None)
    with pytest.raises(UsageError, match="needs a C\\+\\+ compiler"):
        fastpath.check_device(FastPath(compile="default"), torch.device("cpu"))
    fastpath.check_device(FastPath(), torch.device("cpu"))  # nothing asked, nothing needed
