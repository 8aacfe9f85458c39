"""FID speed with the shipped domain extractor on the CPU (issue 4).

Run: ``python -m pytest benchmarks/bench_fid.py`` (add ``--benchmark-json FILE`` to keep it).

Targets, both measured in this run: a 10k-generated vs 10k-real FID (a cold evaluation:
reference features and statistics computed and cached) finishes in under a minute; a second
evaluation against the same reference (statistics read from the cache) costs at most half of
the cold one. Generated samples stream from a small generator; the real set is the digits train
split tiled with a little noise to 10k images.
"""

from __future__ import annotations

import shutil
import time

import pytest
import torch

N = 10_000
ROUNDS = 3


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from ganbench.evaluation.extractors.domain_net import to_uint8
    from ganbench.evaluation.extractors.select import resolve_extractor
    from ganbench.api.specs import DataRequest
    from ganbench_plugins.datasets import load_digits

    g = torch.Generator().manual_seed(0)
    x = load_digits(DataRequest("train")).x
    real = x[torch.randint(len(x), (N,), generator=g)]
    real = to_uint8((real + 0.05 * torch.randn(real.shape, generator=g)).clamp(-1, 1))
    gen = torch.nn.Sequential(torch.nn.Linear(32, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 64), torch.nn.Tanh(),
                              torch.nn.Unflatten(1, (1, 8, 8))).eval()
    z = torch.randn(N, 32, generator=g)
    return real, gen, z, resolve_extractor("auto", "digits"), tmp_path_factory.mktemp("cache")


def _fid(setup, monkeypatch) -> float:
    from ganbench.evaluation import fidelity

    real, gen, z, ext, cache = setup
    monkeypatch.setenv("GANBENCH_CACHE_DIR", str(cache))
    with torch.no_grad():
        return fidelity.calculate(fidelity.generator_input(gen, z), N,
                                  fidelity.tensor_input(real), N, ext, cuda=False, seed=0,
                                  cache_name="bench-fid-10k", kid=False, isc=False,
                                  prc=False)["fid"]


def test_fid_10k_vs_10k_cached_reference(benchmark, setup, monkeypatch):
    cache = setup[4]
    cold = []
    for _ in range(ROUNDS):
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir()
        t0 = time.perf_counter()
        value = _fid(setup, monkeypatch)
        cold.append(time.perf_counter() - t0)
    warm_value = benchmark.pedantic(_fid, args=(setup, monkeypatch), rounds=ROUNDS,
                                    warmup_rounds=0)
    assert warm_value == pytest.approx(value, rel=1e-12)
    cold_s, warm_s = min(cold), benchmark.stats.stats.min
    benchmark.extra_info.update(cold_s=cold_s, warm_s=warm_s, warm_over_cold=warm_s / cold_s)
    print(f"\nFID 10k vs 10k, ganbench-digits, CPU: cold {cold_s:.2f}s, cached reference "
          f"{warm_s:.2f}s, ratio {warm_s / cold_s:.2f}")
    assert cold_s < 60
    assert warm_s <= 0.5 * cold_s
