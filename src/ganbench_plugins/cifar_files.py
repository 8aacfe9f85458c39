"""CIFAR-10 in its original python format, read without writing into the data root.

The root holds ``cifar-10-batches-py/`` (``data_batch_1`` … ``data_batch_5``, ``test_batch``) as
torchvision extracts it, or only the archive ``cifar-10-python.tar.gz`` (md5-checked against
torchvision's and read in place). Each batch is a pickled dict with ``data`` (uint8, N × 3072:
the red, green and blue 32 × 32 planes, row-major) and ``labels`` (N ints, 0-9). The batches are
pickles, so they are read with an unpickler that only accepts plain containers and numpy arrays:
a file that names any other class or function is refused, never executed. torchvision is used
only to download.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import pickle
import sys
import tarfile
from pathlib import Path

from ganbench.api.errors import DataUnavailableError, first_line

FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
SPLIT_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
_ALLOWED = {  # the globals a numpy-array pickle needs, and nothing else
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def unpickle_batch(blob: bytes, where: str) -> tuple:
    """``(data uint8 (N, 3, 32, 32), labels int64 (N,))`` from one batch file's bytes."""
    import numpy as np

    try:
        d = _RestrictedUnpickler(io.BytesIO(blob), encoding="latin1").load()
    except Exception as exc:
        raise DataUnavailableError(f"cifar10: {where} is not a CIFAR-10 python batch ({exc})") \
            from None
    if not isinstance(d, dict):
        raise DataUnavailableError(f"cifar10: {where} holds a {type(d).__name__}, not a dict")
    d = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32 or labels is None or len(labels) != len(data):
        raise DataUnavailableError(f"cifar10: {where} lacks uint8 'data' (N x 3072) and N "
                                   "'labels'")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels):
        raise DataUnavailableError(f"cifar10: {where} has labels that are not whole numbers")
    if any(not 0 <= v <= 9 for v in labels):
        raise DataUnavailableError(f"cifar10: {where} has labels outside 0-9")
    y = np.asarray(labels, dtype=np.int64)
    return data.reshape(-1, 3, 32, 32), y


def load_split(root: Path, split: str, download: bool):
    """``(images uint8 (N, 3, 32, 32), labels int64 (N,))`` as numpy arrays."""
    import numpy as np

    if split not in SPLIT_FILES:
        raise DataUnavailableError(f"cifar10: unknown split '{split}' (use train or test)")
    names = SPLIT_FILES[split]
    blobs = _read_folder(root / FOLDER, names)
    if blobs is None and (root / ARCHIVE).is_file():
        blobs = _read_archive(root / ARCHIVE, names)
    if blobs is None:
        _download(root, names, download)
        blobs = _read_folder(root / FOLDER, names)
        if blobs is None:
            raise DataUnavailableError(f"cifar10: download finished but {root / FOLDER} lacks "
                                       f"{', '.join(names)}")
    from ganbench_plugins.idx_files import check_count

    parts = [unpickle_batch(b, where) for where, b in blobs]
    images = np.concatenate([p[0] for p in parts])
    check_count(len(images), "cifar10", split, ", ".join(where for where, _ in blobs))
    return images, np.concatenate([p[1] for p in parts])


def _read_folder(folder: Path, names):
    if not all((folder / n).is_file() for n in names):
        return None
    return [(str(folder / n), (folder / n).read_bytes()) for n in names]


def _read_archive(path: Path, names):
    from torchvision.datasets import CIFAR10

    blob = path.read_bytes()
    if hashlib.md5(blob).hexdigest() != CIFAR10.tgz_md5:
        raise DataUnavailableError(f"cifar10: {path} is corrupt or not the original archive "
                                   "(md5 mismatch); delete it and download again")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        out = []
        for n in names:
            try:
                member = tar.extractfile(f"{FOLDER}/{n}")
            except KeyError:
                member = None
            if member is None:
                raise DataUnavailableError(f"cifar10: {path} has no {FOLDER}/{n}")
            out.append((f"{path}:{FOLDER}/{n}", member.read()))
    return out


def _download(root: Path, names, download: bool) -> None:
    expected = f"{root / FOLDER}/{{{','.join(names)}}} (or {root / ARCHIVE})"
    if not download:
        raise DataUnavailableError(
            f"cifar10: missing {expected} and downloading is off (--no-download); put the "
            "original CIFAR-10 python files there, or point --data-root / GANBENCH_DATA_ROOT at "
            "a folder that holds them")
    try:
        from torchvision.datasets import CIFAR10

        root.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(sys.stderr):  # torchvision prints progress; stdout is data
            CIFAR10(str(root), download=True)
    except Exception as exc:  # network, permissions, checksum: one line for the user
        raise DataUnavailableError(f"cifar10: missing {expected} and the download failed "
                                   f"({first_line(exc)})") from None
