"""MNIST-family files (MNIST, Fashion-MNIST) in torchvision's layout, read without writing.

A data root holds ``<Folder>/raw/<name>.gz`` (the original distribution files) and, after a
torchvision download, the extracted ``<Folder>/raw/<name>`` too. The ``.gz`` files are checked
against the md5s in torchvision's ``resources`` list and parsed here (IDX format: a big-endian
header, then uint8 data), so a read-only root with only the original files works offline.
torchvision is used only to download. Decoded arrays are memoised per process (by path, size and
modification time), so a suite that trains many runs on MNIST decodes it once.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import math
import os
import sys
from pathlib import Path
from typing import Optional

from ganbench.api.errors import DataUnavailableError, first_line

SPLIT_FILES = {  # split -> (images, labels) base names, identical for MNIST and Fashion-MNIST
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_UBYTE = 0x08
IMAGE_SHAPE = (28, 28)  # every MNIST-family image
NUM_CLASSES = 10
MIN_IMAGES = 2  # fewer cannot be trained on (batches) nor evaluated (statistics)


def torchvision_dataset(folder: str):
    """The torchvision dataset class whose raw folder is ``folder`` (MNIST, FashionMNIST)."""
    from torchvision import datasets

    return getattr(datasets, folder)


def expected_md5s(folder: str) -> dict[str, str]:
    """``{file name: md5}`` of the original ``.gz`` files, from torchvision's ``resources``."""
    return {os.path.basename(url): md5 for url, md5 in torchvision_dataset(folder).resources}


def load_split(root: Path, folder: str, split: str, download: bool, dataset: str):
    """``(images uint8 (N, H, W), labels int64 (N,))`` as numpy arrays."""
    if split not in SPLIT_FILES:
        raise DataUnavailableError(f"{dataset}: unknown split '{split}' (use train or test)")
    raw = root / folder / "raw"
    names = SPLIT_FILES[split]
    paths = [_find(raw, n) for n in names]
    if any(p is None for p in paths):
        paths = _download(root, folder, names, download, dataset)
    images = _read_idx(str(paths[0]), *_stamp(paths[0]), dataset=dataset)
    labels = _read_idx(str(paths[1]), *_stamp(paths[1]), dataset=dataset)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DataUnavailableError(f"{dataset}: {paths[0]} holds images of shape "
                                   f"{images.shape[1:]}, not {IMAGE_SHAPE}")
    if labels.ndim != 1 or len(images) != len(labels):
        raise DataUnavailableError(f"{dataset}: {paths[0]} and {paths[1]} do not match "
                                   f"(shapes {images.shape} and {labels.shape})")
    if len(labels) and int(labels.max()) >= NUM_CLASSES:
        raise DataUnavailableError(f"{dataset}: {paths[1]} has labels outside 0-"
                                   f"{NUM_CLASSES - 1} (up to {int(labels.max())})")
    check_count(len(images), dataset, split, paths[0])
    return images, labels.astype("int64")


def check_count(n: int, dataset: str, split: str, where) -> None:
    """DataUnavailableError for a split of fewer than MIN_IMAGES images."""
    if n < MIN_IMAGES:
        raise DataUnavailableError(f"{dataset}: the {split} split in {where} holds {n} "
                                   f"image(s); at least {MIN_IMAGES} are needed")


def _find(raw: Path, name: str) -> Optional[Path]:
    for candidate in (raw / f"{name}.gz", raw / name):
        if candidate.is_file():
            return candidate
    return None


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _download(root: Path, folder: str, names, download: bool, dataset: str) -> list[Path]:
    raw = root / folder / "raw"
    expected = ", ".join(f"{n}.gz" for n in names)
    if not download:
        raise DataUnavailableError(
            f"{dataset}: missing {expected} in {raw} and downloading is off (--no-download); "
            f"put the original files there, or point --data-root / GANBENCH_DATA_ROOT at a "
            f"folder that holds {folder}/raw/")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with contextlib.redirect_stdout(sys.stderr):  # torchvision prints progress; stdout is data
            torchvision_dataset(folder)(str(root), download=True)
    except Exception as exc:  # network, permissions, checksum: one line for the user
        raise DataUnavailableError(
            f"{dataset}: missing {expected} in {raw} and the download failed "
            f"({first_line(exc)}); put the original files there or check the network") from None
    found = [_find(raw, n) for n in names]
    if any(p is None for p in found):
        raise DataUnavailableError(f"{dataset}: download finished but {expected} are not in {raw}")
    return found  # type: ignore[return-value]


@functools.lru_cache(maxsize=8)
def _read_idx(path: str, size: int, mtime_ns: int, dataset: str):
    """Decode one IDX file (``.gz`` files are md5-checked first). ``size`` and ``mtime_ns`` key
    the memo, so a file replaced on disk is read again."""
    import numpy as np

    with open(path, "rb") as f:
        blob = f.read()
    if path.endswith(".gz"):
        name = os.path.basename(path)
        want = expected_md5s(Path(path).parent.parent.name).get(name)
        got = hashlib.md5(blob).hexdigest()
        if want is not None and got != want:
            raise DataUnavailableError(
                f"{dataset}: {path} is corrupt or not the original file (md5 {got}, expected "
                f"{want}); delete it and let ganbench download it again")
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError) as exc:
            raise DataUnavailableError(f"{dataset}: cannot decompress {path}: {exc}") from None
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != IDX_UBYTE:
        raise DataUnavailableError(f"{dataset}: {path} is not an IDX file of unsigned bytes")
    ndim = blob[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(blob[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    count = math.prod(dims) if dims else 0  # exact: a forged header cannot overflow it
    if len(blob) != header + count:
        raise DataUnavailableError(f"{dataset}: {path} is truncated ({len(blob)} bytes, "
                                   f"expected {header + count})")
    arr = np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(dims)
    arr.setflags(write=False)
    return arr
