"""The GPU table: DCGAN on MNIST-sized data (1x32x32), batch 64 and 256, training images/s for

  (a) a typical DataLoader-based PyTorch training script (per-item transform, workers, pinned
      memory, batches copied to the GPU, ``loss.item()`` logged every step),
  (b) ganbench's runner with its defaults (device-resident data, fused Adam, no host syncs),
  (c) ganbench with ``--compile --precision bf16``,

plus the time of a 10k-sample Inception (FID feature space) pass. Run on a GPU machine:

    python benchmarks/gpu_table.py --out benchmarks/gpu_table.md [--mnist DIR] [--weights PTH]

``--mnist DIR`` reads MNIST's ``train-images-idx3-ubyte.gz`` (padded 28 -> 32); without it the
data are random images of the same shape (the speed is the same). (b) and (c) are measured as
marginal rates between two budgets, so one-off costs (compilation, cuDNN autotuning, set-up)
are excluded, as they are from (a) by warm-up steps. The Markdown written records the device,
driver, versions and this command.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import inception, machine_info, sync, time_best  # noqa: E402


def load_images(mnist_dir):
    import torch

    if mnist_dir:
        raw = gzip.open(Path(mnist_dir) / "train-images-idx3-ubyte.gz").read()
        x = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(-1, 1, 28, 28)
        source = f"MNIST train ({mnist_dir})"
    else:
        x = torch.randint(0, 256, (60000, 1, 28, 28), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
        source = "random uint8 images, MNIST's shape"
    return torch.nn.functional.pad(x, (2, 2, 2, 2)), source  # 1x32x32 uint8


def register_dataset(reg, images):
    from ganbench.api.specs import DataSpec, DatasetSpec, DataTensors

    x = images.float() / 127.5 - 1.0
    spec = DataSpec("images", (1, 32, 32), 10)
    reg.datasets.add(DatasetSpec("mnist32", spec, lambda req: DataTensors(spec, x),
                                 "MNIST-sized 32x32 images for the GPU table"), "gpu_table")


def typical_script(images, reg, device, batch: int, steps: int) -> float:
    """(a): images/s of a DataLoader-based loop over the same DCGAN, loss and optimisers."""
    import torch
    from torch.utils.data import DataLoader, Dataset

    class Images(Dataset):  # per-item ToTensor + Normalize, as torchvision transforms do
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            return images[i].float().div(255).sub(0.5).div(0.5)

    torch.manual_seed(0)
    g, d = reg.models.get("dcgan").build(reg.datasets.get("mnist32").spec, 100)
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss = reg.losses.get("non-saturating")
    loader = DataLoader(Images(), batch_size=batch, shuffle=True, num_workers=4,
                        pin_memory=True, drop_last=True, persistent_workers=True)
    log = []

    def run(n):
        done = 0
        while done < n:
            for real in loader:
                real = real.to(device, non_blocking=True)
                z = torch.randn(batch, 100, device=device)
                fake = g(z)
                ld = loss.d_loss(d(real), d(fake.detach()))
                opt_d.zero_grad()
                ld.backward()
                opt_d.step()
                lg = loss.g_loss(d(fake))
                opt_g.zero_grad()
                lg.backward()
                opt_g.step()
                log.append((ld.item(), lg.item()))  # the usual per-step logging
                done += 1
                if done == n:
                    break

    seconds = time_best(lambda: run(steps), device, repeat=3, warmup=1)
    return batch * steps / seconds


def ganbench_rate(reg, device, batch: int, steps: int, fast, precision: str) -> float:
    """(b)/(c): marginal images/s of runner.train between budgets of ``steps`` and 3x that."""
    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import Overrides, plan
    from ganbench.training.runner import train

    (job,) = plan(reg, variants=["dcgan"], datasets=["mnist32"], seeds=[0],
                  budget=Budget.parse(f"{steps}steps"), overrides=Overrides(batch_size=batch))
    job = dataclasses.replace(job, evals=1, metrics=(), precision=precision)
    runs = {}
    for n in (steps, 3 * steps):
        j = dataclasses.replace(job, budget=Budget.parse(f"{n}steps"))
        train(j, reg, device=str(device), fast=fast)  # warm (compile caches, autotuning)
        runs[n] = train(j, reg, device=str(device), fast=fast)
    a, b = runs[steps], runs[3 * steps]
    return (b.images_seen - a.images_seen) / (b.wall_s - a.wall_s)


def fid_pass_seconds(reg, device, weights, n: int = 10000, batch: int = 500) -> float:
    """Seconds to generate ``n`` DCGAN samples and extract their 2048-d Inception features."""
    import torch

    net = inception(weights, device)
    g, _ = reg.models.get("dcgan").build(reg.datasets.get("mnist32").spec, 100)
    g = g.to(device).eval()

    def run():
        feats = []
        with torch.no_grad():
            for i in range(0, n, batch):
                x = g(torch.randn(batch, 100, device=device))
                u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).repeat(1, 3, 1, 1)
                feats.append(net(u8)[0])
        return torch.cat(feats)

    return time_best(run, device, repeat=2, warmup=1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--batches", default="64,256")
    p.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    p.add_argument("--mnist", help="directory with MNIST's raw train-images-idx3-ubyte.gz")
    p.add_argument("--weights", help="torch-fidelity Inception weights (default: stand-in)")
    p.add_argument("--compile-mode", default="default",
                   help="torch.compile mode for (c), e.g. reduce-overhead for CUDA graphs")
    p.add_argument("--out", help="write the Markdown table here as well as to stdout")
    args = p.parse_args(argv)

    from ganbench import registry as plugins
    from ganbench.training.fastpath import FastPath, check_device
    from ganbench.training.runner import resolve_device

    device = resolve_device(args.device)
    fast_c = FastPath(precision="bf16", compile=args.compile_mode)
    check_device(fast_c, device)
    reg = plugins.registries()
    images, source = load_images(args.mnist)
    register_dataset(reg, images)
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        a = typical_script(images, reg, device, batch, args.steps)
        b = ganbench_rate(reg, device, batch, args.steps, FastPath(), "fp32")
        c = ganbench_rate(reg, device, batch, args.steps, fast_c, "bf16")
        rows.append((batch, a, b, c))
        print(f"batch {batch}: (a) {a:.0f} (b) {b:.0f} (c) {c:.0f} img/s", file=sys.stderr)
    fid_s = fid_pass_seconds(reg, device, args.weights)
    sync(device)

    info = machine_info()
    lines = [
        "# GPU table: DCGAN on MNIST-sized data (1x32x32)", "",
        f"- device: {', '.join(info.get('gpus', [str(device)]))}; driver {info.get('driver')}; "
        f"CUDA {info.get('cuda')}; cuDNN {info.get('cudnn')}",
        f"- torch {info['torch']}; ganbench {info['ganbench']}; Python {info['python']}",
        f"- data: {source}; {args.steps} timed steps per figure; "
        f"(c) = --compile {args.compile_mode} --precision bf16",
        f"- command: `python benchmarks/gpu_table.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        f"- date: {time.strftime('%Y-%m-%d')}", "",
        "| batch | (a) DataLoader script img/s | (b) ganbench default img/s | "
        "(c) ganbench compile+bf16 img/s | (b)/(a) | (c)/(a) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {bt} | {a:.0f} | {b:.0f} | {c:.0f} | {b / a:.2f} | {c / a:.2f} |"
              for bt, a, b, c in rows]
    lines += ["", f"10k-sample Inception pass (generate + 2048-d features, batch 500): "
              f"{fid_s:.1f} s ({'official' if args.weights else 'stand-in random'} weights, "
              "same cost)", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
