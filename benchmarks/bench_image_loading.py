"""Loading a whole image split must cost about what decompressing its files costs.

Run: ``GANBENCH_TEST_DATA=/path/to/data python -m pytest benchmarks/bench_image_loading.py``.
The reference, measured in the same run, is the irreducible work: reading and gunzipping the
MNIST train files. ganbench's loader adds the md5 check, IDX parsing and the conversion to
float32 in [-1, 1]; target: at most 3x the reference (about a second on a laptop CPU).
"""

import gzip
import os
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("GANBENCH_TEST_DATA") or os.path.join(os.path.dirname(REPO), "shared",
                                                             "data")
RAW = os.path.join(DATA, "MNIST", "raw")
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


def _reference() -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for name in FILES:
            with open(os.path.join(RAW, name), "rb") as f:
                gzip.decompress(f.read())
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.mark.skipif(not os.path.isfile(os.path.join(RAW, FILES[0])),
                    reason=f"real MNIST files not found in {RAW} (set GANBENCH_TEST_DATA)")
def test_mnist_train_split_loads_within_3x_of_gunzip(benchmark):
    from ganbench_plugins import idx_files
    from ganbench_plugins.image_datasets import DATASETS
    from ganbench.api.specs import DataRequest

    mnist = next(d for d in DATASETS if d.name == "mnist")
    request = DataRequest(split="train", data_root=DATA, download=False)
    mnist.load(request)  # imports (torch, torchvision) out of the measurement
    ref = _reference()
    data = benchmark.pedantic(mnist.load, args=(request,), rounds=3, iterations=1,
                              setup=idx_files._read_idx.cache_clear)  # cold: no memo
    assert tuple(data.x.shape) == (60000, 1, 28, 28)
    ratio = benchmark.stats.stats.min / ref
    benchmark.extra_info.update(reference_s=ref, ratio=ratio)
    print(f"\nmnist train load {benchmark.stats.stats.min:.3f}s, gunzip reference {ref:.3f}s, "
          f"ratio {ratio:.2f}")
    assert ratio < 3.0
