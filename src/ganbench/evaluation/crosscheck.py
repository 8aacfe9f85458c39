"""``ganbench crosscheck``: ganbench's FID, KID, precision/recall and density/coverage against
other implementations, on the same samples and the same features.

ganbench's numbers come from :func:`ganbench.evaluation.fidelity.calculate`, the evaluation's own path,
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


def frechet_tolerance(mu1, s1, mu2, s2, same_sqrtm: bool = True,
                      singular: bool = False) -> float:
    """Bound on the difference between two float64 Fréchet distances of the same moments: the
    sums in ``|mu1-mu2|^2 + tr s1 + tr s2 - 2 tr sqrt(s1 s2)`` carry at most ~d eps64 of their
    magnitude (64 d eps64 of it is allowed). That is all when both take scipy's ``sqrtm`` of
    the same nonsingular ``s1 s2`` (``same_sqrtm``). By another route (eigenvalues), or when
    the covariances are ``singular`` (fewer samples than dimensions: sqrtm is then not stable),
    each eigenvalue of ``s1 s2`` moves by up to ``delta = d eps64 |s1| |s2|`` and ``sqrt`` is
    not Lipschitz at 0, so ``2 tr sqrt`` moves by up to ``2 d sqrt(delta)``."""
    import numpy as np

    d = len(mu1)
    scale = float(np.trace(s1) + np.trace(s2) + np.sum((mu1 - mu2) ** 2))
    tol = 64 * d * EPS64 * scale
    if singular or not same_sqrtm:
        delta = d * EPS64 * float(np.linalg.norm(s1, 2) * np.linalg.norm(s2, 2))
        tol += 2 * d * delta ** 0.5
    return tol


def kid_tolerance(f1, f2) -> float:
    """Bound on the difference between two float64 evaluations of the same unbiased MMD^2 with
    the cubic kernel ``(x.y/d + 1)^3``: each kernel value carries ~(d + 3) eps64 of
    ``(|x||y|/d + 1)^3``, and the means of the three kernel sums cancel, so the error scales
    with their magnitude, not with KID's: 64 (d + 3) eps64 * 4 max_k."""
    import numpy as np

    d = f1.shape[1]
    m2 = max(float((f1 ** 2).sum(1).max()), float((f2 ** 2).sum(1).max()))
    return 64 * (d + 3) * EPS64 * 4 * (m2 / d + 1) ** 3


def knn_band(fake, real, k: int) -> dict[str, float]:
    """How far two correct float32 implementations of precision, recall, density and coverage
    can be apart on these features. A comparison ``d(x, y)^2 <= r^2`` (r: the distance from a
    point to its k-th neighbour) can only be decided differently when the two sides are closer
    than their rounding errors: ``torch.cdist`` in float32 computes ``|x|^2 + |y|^2 - 2 x.y``,
    off by at most ``gamma (|x|^2 + |y|^2)``, ``gamma = (dim + 2) eps32`` (Higham's bound), for
    the distance and for the radius; ``prdc`` (sklearn, float64-upcast, float32 result) is off
    by ~eps32 of the squared distances. Each metric's bound is the fraction of its decisions
    that hold such an ambiguous comparison (evaluated in float64), plus the float32 rounding
    of the final mean (2 eps32 of the value, added by :func:`compare`)."""
    import torch

    f = torch.as_tensor(fake).double()
    r = torch.as_tensor(real).double()
    gamma = (f.shape[1] + 2) * EPS32
    mode = "donot_use_mm_for_euclid_dist"
    nf, nr = (f ** 2).sum(1), (r ** 2).sum(1)
    d_fr = torch.cdist(f, r, compute_mode=mode) ** 2          # (N fake, M real)

    def radii(x, nx):
        knn = torch.cdist(x, x, compute_mode=mode).kthvalue(k + 1, dim=1)
        return knn.values ** 2, gamma * (nx + nx[knn.indices])

    rad_r, err_r = radii(r, nr)
    rad_f, err_f = radii(f, nf)
    err_d = gamma * (nf[:, None] + nr[None, :]) + 4 * EPS32 * d_fr
    amb_r = (d_fr - rad_r[None, :]).abs() <= err_d + err_r[None, :] + 4 * EPS32 * rad_r[None, :]
    amb_f = (d_fr - rad_f[:, None]).abs() <= err_d + err_f[:, None] + 4 * EPS32 * rad_f[:, None]
    return {"precision": float(amb_r.any(1).double().mean()),   # fake j vs real balls
            "recall": float(amb_f.any(0).double().mean()),      # real i vs fake balls
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

    from ganbench.evaluation import fidelity
    from ganbench.evaluation.frechet import frechet_distance as ganbench_fd

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
    singular = min(n1, n2) <= len(mu1)
    tol = frechet_tolerance(mu1, s1, mu2, s2, singular=singular)
    tol_eig = frechet_tolerance(mu1, s1, mu2, s2, same_sqrtm=False)
    fid = ours["fid"]
    agree("fid", "torch-fidelity calculate_metrics", direct["frechet_inception_distance"], fid,
          0.0, "same samples, same calls: bitwise")
    agree("fid", "pytorch-fid calculate_frechet_distance", pytorch_fid_fd(mu1, s1, mu2, s2), fid,
          tol, "same mu/sigma, scipy sqrtm of s1 s2 as torch-fidelity")
    agree("fid", "clean-fid frechet_distance", cleanfid_fd(mu1, s1, mu2, s2), fid, tol,
          "same mu/sigma")
    agree("fid", "ganbench.evaluation.frechet (torch, float64)",
          ganbench_fd(*(torch.from_numpy(a) for a in (mu1, s1, mu2, s2))), fid, tol_eig,
          "same mu/sigma; eigenvalues instead of scipy's sqrtm (ganbench's frechet_data route)")
    # KID
    kid_full = full["kernel_inception_distance_mean"]
    agree("kid", "torch-fidelity calculate_metrics", direct["kernel_inception_distance_mean"],
          ours["kid"], 0.0, f"same {fidelity.KID_SUBSETS} subsets of {sub}, same seed: bitwise")
    kg, kr = (x.double().numpy() for x in feats["kid"])
    np.random.seed(seed)  # clean-fid draws its subsets from numpy's global RNG
    ckid = cleanfid_kid(kg, kr, num_subsets=1, max_subset_size=min(n1, n2))
    agree("kid", "clean-fid kernel_distance, all samples (vs torch-fidelity all samples)", ckid,
          kid_full, kid_tolerance(kg, kr),
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
        agree(m, f"prdc compute_prdc k={k}", p3[m], ours[m], band[m] + 2 * EPS32 * abs(ours[m]),
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

    from ganbench import registry as plugins
    from ganbench.evaluation.extractors.domain_net import to_uint8
    from ganbench.api.specs import DataRequest

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

    from ganbench.api.errors import UsageError
    from ganbench.evaluation.extractors import domain
    from ganbench.evaluation.extractors.select import resolve_extractor

    if bad := [d for d in datasets if d not in domain.shipped()]:
        raise UsageError(f"crosscheck: no shipped extractor for {', '.join(bad)}; "
                         f"choose from {', '.join(domain.shipped())}")
    out = []
    for name in datasets:
        ext = resolve_extractor(f"ganbench-{name}", name)
        for label, gen, ref in _pairs(name, n, data_root, seed):
            log(f"crosscheck: {name} on {ext.name}, {label}")
            out += [{"dataset": name, "extractor": ext.name, "samples": label, "n": len(gen),
                     **r} for r in compare(gen, ref, ext, seed=seed)]
    with tempfile.TemporaryDirectory() as tmp:
        label = "Inception-v3 (given weights)"
        if fid_weights is None:
            from ganbench.evaluation.extractors.inception import standin_network

            fid_weights = f"{tmp}/standin-inception.pth"
            torch.save(standin_network(seed=0).state_dict(), fid_weights)
            label = "Inception-v3 stand-in (random weights, code path only)"
        ext = resolve_extractor("inception-v3-compat", "digits", fid_weights=fid_weights)
        pair = _pairs("digits", standin_n, None, seed)[1]
        log(f"crosscheck: digits on {label}, {pair[0]}")
        out += [{"dataset": "digits", "extractor": label, "samples": pair[0], "n": standin_n,
                 **r} for r in compare(pair[1], pair[2], ext, seed=seed)]
    return out


def versions(dists=("torch", *OTHERS.values())) -> str:
    """The versions of ``dists`` (default: torch and the implementations compared), and the
    machine."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def v(dist):
        try:
            return version(dist)
        except PackageNotFoundError:
            return "absent"

    pkgs = ", ".join(f"{d} {v(d)}" for d in dists)
    return f"{pkgs}; {platform.machine()} CPU, Python {platform.python_version()}"


def markdown(rows, command: str) -> str:
    """The table of ``rows`` as Markdown, with the command that made it."""
    lines = ["# Agreement with other implementations", "",
             f"Versions: {versions()}.", "",
             f"Made by `{command}` (see `src/ganbench/evaluation/crosscheck.py` for what each row compares; "
             "`tests/unit/evaluation/test_crosscheck.py` asserts the `agrees` rows live on digits and "
             "recomputes this table's verdicts). Tolerances are derived in "
             "`crosscheck.frechet_tolerance`, "
             "`kid_tolerance` and `knn_band` (worst-case rounding bounds: loose, but a wrong "
             "formula, k, radius or feature layer moves the numbers far beyond them). The "
             "Inception-v3 stand-in has random weights whose pool features barely vary (FID "
             "~1e-14): its rows check the code path, not the numbers. Not compared: clean-fid's "
             "own image pipeline (it resizes to 299x299 with PIL bicubic, by design meant for "
             "Inception, so on the 28x28 ganbench extractors it would compare different "
             "features); only its FID/KID from features are.", "",
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
