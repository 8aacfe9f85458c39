"""``ganbench crosscheck``: ganbench's FID, KID, precision/recall and density/coverage against
other implementations, on the same samples and the same features.

ganbench's numbers come from :func:`ganbench.fidelity.calculate`, the evaluation's own path,
which also hands back the features it used. The same samples go to torch-fidelity directly
(``calculate_metrics``); the same features to pytorch-fid's and clean-fid's Fréchet distance
(on the same float64 mean and covariance), clean-fid's KID, and the ``prdc`` package. Each row
says whether the implementations must agree (and within which tolerance, derived from the
arithmetic, see :func:`frechet_tolerance` and :func:`knn_band`) or differ by design (KID
subsets, k of the k-NN, ``<`` against ``<=``), and by how much.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Optional

EPS32 = 2.0 ** -24  # unit roundoff of float32
EPS64 = 2.0 ** -53
# module -> PyPI name of the other implementations (the dev extra)
OTHERS = {"torch_fidelity": "torch-fidelity", "pytorch_fid": "pytorch-fid",
          "cleanfid": "clean-fid", "prdc": "prdc"}


def missing_packages() -> list[str]:
    """The other implementations that are not installed (``pip install -e '.[dev]'``)."""
    import importlib.util

    return [pypi for m, pypi in OTHERS.items() if importlib.util.find_spec(m) is None]


def frechet_tolerance(mu1, s1, mu2, s2) -> float:
    """Bound on the difference between two float64 Fréchet distances of the same moments that
    take the matrix square root by different backward-stable routes (scipy's ``sqrtm`` of
    ``s1 s2``, or eigenvalues): the sums ``|mu1-mu2|^2 + tr s1 + tr s2`` carry at most
    ~d eps64 of their magnitude (64 d eps64 of it is allowed); each eigenvalue of ``s1 s2`` moves
    by at most ``delta = d eps64 |s1| |s2|`` and ``sqrt`` is not Lipschitz at 0, so ``2 tr sqrt``
    moves by at most ``2 d sqrt(delta)`` (covariances of features are near singular)."""
    import numpy as np

    d = len(mu1)
    scale = float(np.trace(s1) + np.trace(s2) + np.sum((mu1 - mu2) ** 2))
    delta = d * EPS64 * float(np.linalg.norm(s1, 2) * np.linalg.norm(s2, 2))
    return 64 * d * EPS64 * scale + 2 * d * delta ** 0.5


def knn_band(fake, real, k: int) -> dict[str, float]:
    """How far two correct float32 implementations of precision, recall, density and coverage
    can be apart on these features: a comparison ``d(x, y) vs radius`` can only be decided
    differently when ``|d^2 - r^2|`` is within the rounding error of squared distances computed
    in float32 through dot products, ``gamma * (|x|^2 + |y|^2)`` with ``gamma = (dim + 2) eps32``
    (Higham's bound), for the distance and for the radius. The bound of each metric is the
    fraction of its decisions that hold such an ambiguous comparison (distances in float64)."""
    import torch

    f = torch.as_tensor(fake).double()
    r = torch.as_tensor(real).double()
    mode = "donot_use_mm_for_euclid_dist"
    d_fr = torch.cdist(f, r, compute_mode=mode) ** 2          # (N, M)
    rad_r = torch.cdist(r, r, compute_mode=mode).kthvalue(k + 1, dim=1).values ** 2
    rad_f = torch.cdist(f, f, compute_mode=mode).kthvalue(k + 1, dim=1).values ** 2
    m2 = float(max((f ** 2).sum(1).max(), (r ** 2).sum(1).max()))
    band = 2 * 2 * (f.shape[1] + 2) * EPS32 * 2 * m2          # distance and radius, both sides
    amb_r = (d_fr - rad_r[None, :]).abs() <= band             # fake j vs real i's ball
    amb_f = (d_fr - rad_f[:, None]).abs() <= band             # real i vs fake j's ball
    return {"precision": float(amb_r.any(1).double().mean()),
            "recall": float(amb_f.any(0).double().mean()),
            "density": float(amb_r.sum()) / (k * len(f)),
            "coverage": float(amb_r.any(0).double().mean())}


def _prdc(fake, real, k: int) -> dict[str, float]:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the sample counts
        out = compute_prdc(real_features=real.numpy(), fake_features=fake.numpy(), nearest_k=k)
    return {m: float(v) for m, v in out.items()}


def compare(gen_u8, ref_u8, ext, *, seed: int = 0) -> list[dict[str, Any]]:
    """Rows ``metric, implementation, value, ganbench, diff, tolerance, verdict, note`` for
    generated uint8 images ``gen_u8`` against reference ``ref_u8`` on extractor ``ext``."""
    import numpy as np
    import torch
    import torch_fidelity
    from cleanfid.fid import frechet_distance as cleanfid_fd
    from cleanfid.fid import kernel_distance as cleanfid_kid
    from pytorch_fid.fid_score import calculate_frechet_distance as pytorch_fid_fd

    from ganbench import fidelity
    from ganbench.frechet import frechet_distance as ganbench_fd

    n1, n2 = len(gen_u8), len(ref_u8)
    feats: dict = {}
    ours = fidelity.calculate(fidelity.tensor_input(gen_u8), n1, fidelity.tensor_input(ref_u8),
                              n2, ext, cuda=False, seed=seed, isc=False, features_out=feats)
    sub = min(fidelity.KID_SUBSET_SIZE, n1, n2)
    common = dict(fid=True, prc=True, feature_extractor=ext.name, cuda=False,
                  batch_size=fidelity.BATCH, verbose=False, save_cpu_ram=True, rng_seed=seed,
                  cache=False, **ext.fidelity_kwargs)
    direct = torch_fidelity.calculate_metrics(
        input1=fidelity.tensor_input(gen_u8), input2=fidelity.tensor_input(ref_u8), kid=True,
        kid_subsets=fidelity.KID_SUBSETS, kid_subset_size=sub, **common)
    full = torch_fidelity.calculate_metrics(  # KID on the whole sets: one "subset" of all
        input1=fidelity.tensor_input(gen_u8), input2=fidelity.tensor_input(ref_u8), kid=True,
        kid_subsets=1, kid_subset_size=min(n1, n2), **{**common, "fid": False, "prc": False})
    rows: list[dict[str, Any]] = []

    def row(metric, impl, value, ref_value, tol, verdict, note=""):
        rows.append({"metric": metric, "implementation": impl, "value": float(value),
                     "ganbench": float(ref_value), "diff": float(value) - float(ref_value),
                     "tolerance": tol, "verdict": verdict, "note": note})

    def agree(metric, impl, value, ref_value, tol, note=""):
        ok = abs(float(value) - float(ref_value)) <= tol
        row(metric, impl, value, ref_value, tol, "agrees" if ok else "DISAGREES", note)

    # FID: the same float64 moments into each implementation's Fréchet distance
    g, r = (x.double().numpy() for x in feats["fid"])
    mu1, s1, mu2, s2 = g.mean(0), np.cov(g, rowvar=False), r.mean(0), np.cov(r, rowvar=False)
    tol = frechet_tolerance(mu1, s1, mu2, s2)
    fid = ours["fid"]
    agree("fid", "torch-fidelity calculate_metrics", direct["frechet_inception_distance"], fid,
          0.0, "same samples, same calls: bitwise")
    agree("fid", "pytorch-fid calculate_frechet_distance", pytorch_fid_fd(mu1, s1, mu2, s2), fid,
          tol, "same mu/sigma")
    agree("fid", "clean-fid frechet_distance", cleanfid_fd(mu1, s1, mu2, s2), fid, tol,
          "same mu/sigma")
    agree("fid", "ganbench.frechet (torch, float64)",
          ganbench_fd(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2))), fid, tol,
          "same mu/sigma, eigenvalue route")
    # KID
    kid_full = full["kernel_inception_distance_mean"]
    agree("kid", "torch-fidelity calculate_metrics", direct["kernel_inception_distance_mean"],
          ours["kid"], 0.0, f"same {fidelity.KID_SUBSETS} subsets of {sub}, same seed: bitwise")
    kg, kr = (x.double().numpy() for x in feats["kid"])
    np.random.seed(seed)  # clean-fid draws its subsets from numpy's global RNG
    ckid = cleanfid_kid(kg, kr, num_subsets=1, max_subset_size=min(n1, n2))
    agree("kid", "clean-fid kernel_distance, all samples (vs torch-fidelity all samples)", ckid,
          kid_full, 64 * kg.shape[1] * EPS64 * max(abs(kid_full), 1e-12) + 1e-15,
          "one subset holding every sample: both the unbiased MMD^2 of the whole sets")
    row("kid", "torch-fidelity, all samples in one subset", kid_full, ours["kid"], "",
        "differs by design", f"ganbench averages {fidelity.KID_SUBSETS} random subsets of {sub}; "
        "both unbiased, the subset mean has more variance")
    # precision/recall/density/coverage: same float32 features, k = 3
    pf, pr = feats["prc"]
    k = fidelity.PRC_K
    band = knn_band(pf, pr, k)
    for m in ("precision", "recall"):
        agree(m, "torch-fidelity calculate_metrics", direct[m], ours[m], 0.0,
              "same samples, same calls: bitwise")
    p3, p5 = _prdc(pf, pr, k), _prdc(pf, pr, 5)
    for m in ("precision", "recall", "density", "coverage"):
        agree(m, f"prdc compute_prdc k={k}", p3[m], ours[m], band[m],
              "tolerance: fraction of decisions within float32 rounding of a ball's edge "
              "(prdc: float64-upcast sklearn distances and '<'; torch: float32 cdist and '<=')")
        row(m, "prdc compute_prdc k=5", p5[m], ours[m], "", "differs by design",
            "k=5 is Naeem et al.'s recommendation; ganbench uses torch-fidelity's k=3: "
            "larger k, larger balls")
    return rows


def _pairs(name: str, n: int, data_root: Optional[str], seed: int):
    """(pair label, generated uint8, reference uint8): held-out real images, and the same with
    Gaussian pixel noise, against a seeded subset of the train split."""
    import torch

    from ganbench import plugins
    from ganbench.extractors.domain_net import to_uint8
    from ganbench.specs import DataRequest

    ds = plugins.load(use_env=False).datasets.get(name)
    train, test = (ds.load(DataRequest(s, data_root=data_root, download=False))
                   for s in ("train", "test"))
    g = torch.Generator().manual_seed(seed)
    n = min(n, len(test.x), len(train.x))
    ref = to_uint8(train.x[torch.randperm(len(train.x), generator=g)[:n]])
    held = test.x[:n]
    noisy = (held + 0.5 * torch.randn(held.shape, generator=g)).clamp(-1, 1)
    return [("held-out test split", to_uint8(held), ref),
            ("test split + N(0, 0.5^2) pixel noise", to_uint8(noisy), ref)]


def run(datasets, n: int, data_root: Optional[str], fid_weights: Optional[str] = None,
        standin_n: int = 64, seed: int = 0, log=print):
    """All rows: each dataset with its shipped extractor, and digits on Inception-v3 (the
    weights at ``fid_weights``, else torch-fidelity's network with seeded random weights)."""
    import tempfile

    import torch

    from ganbench.extractors.select import resolve_extractor

    out = []
    for name in datasets:
        ext = resolve_extractor("auto", name)
        for label, gen, ref in _pairs(name, n, data_root, seed):
            log(f"crosscheck: {name} on {ext.name}, {label}")
            out += [{"dataset": name, "extractor": ext.name, "samples": label, "n": len(gen),
                     **r} for r in compare(gen, ref, ext, seed=seed)]
    with tempfile.TemporaryDirectory() as tmp:
        label = "Inception-v3 (given weights)"
        if fid_weights is None:
            from ganbench.extractors.inception import standin_network

            fid_weights = f"{tmp}/standin-inception.pth"
            torch.save(standin_network(seed=0).state_dict(), fid_weights)
            label = "Inception-v3 stand-in (random weights, code path only)"
        ext = resolve_extractor("inception-v3-compat", "digits", fid_weights=fid_weights)
        pair = _pairs("digits", standin_n, None, seed)[1]
        log(f"crosscheck: digits on {label}, {pair[0]}")
        out += [{"dataset": "digits", "extractor": label, "samples": pair[0], "n": standin_n,
                 **r} for r in compare(pair[1], pair[2], ext, seed=seed)]
    return out


def markdown(rows, command: str) -> str:
    """The table of ``rows`` as Markdown, with the command that made it."""
    lines = ["# Agreement with other implementations", "",
             f"Made by `{command}` (see `src/ganbench/crosscheck.py` for what each row compares; "
             "`tests/test_crosscheck.py` asserts the `agrees` rows live).", "",
             "| dataset | extractor | samples | n | metric | implementation | value | ganbench "
             "| diff | tolerance | verdict | note |", "|" + "---|" * 12]
    for r in rows:
        tol = r["tolerance"]
        tol = f"{tol:.2g}" if isinstance(tol, float) else str(tol)
        lines.append(f"| {r['dataset']} | {r['extractor']} | {r['samples']} | {r['n']} | "
                     f"{r['metric']} | {r['implementation']} | {r['value']:.6g} | "
                     f"{r['ganbench']:.6g} | {r['diff']:.2g} | {tol} | {r['verdict']} | "
                     f"{r['note']} |")
    return "\n".join(lines) + "\n"
