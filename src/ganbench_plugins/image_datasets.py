"""Image datasets read from files: ``mnist``, ``fashion-mnist``, ``cifar10``, ``stacked-mnist``.

Files live under the data root (``--data-root``, ``$GANBENCH_DATA_ROOT``, else
``~/.cache/ganbench/data``) in torchvision's layout. They are downloaded with torchvision only
when the files are missing and downloading is allowed (the default; ``--no-download`` turns it
off); otherwise loading fails with one line that names the files expected and where. A root
that holds only the original ``MNIST/raw/*.gz`` files works offline and is never written to.

Every loader returns the whole split as one float32 tensor, channels-first, in [-1, 1]
(``x / 127.5 - 1``), with int64 labels; the runner moves it to the training device once and
samples batches there. ``--resize N`` (or an automatic resize for models such as DCGAN that need
32 × 32) is applied by the core after loading (``ganbench.data.imaging``).
"""

from __future__ import annotations

from ganbench import hookimpl
from ganbench.data.dataroot import resolve_data_root
from ganbench.api.specs import DataRequest, DatasetSpec, DataSpec, DataTensors


def to_tensors(images, labels, spec: DataSpec) -> DataTensors:
    """uint8 images (N, H, W) or (N, C, H, W) → float32 in [-1, 1], channels-first."""
    import numpy as np
    import torch

    x = torch.from_numpy(np.asarray(images, dtype=np.float32))  # a new, writable array
    if x.ndim == 3:
        x = x.unsqueeze(1)
    x = x.div_(127.5).sub_(1.0)
    return DataTensors(spec, x, torch.from_numpy(np.asarray(labels, dtype=np.int64).copy()))


def idx_loader(name: str, folder: str, spec: DataSpec):
    def load(request: DataRequest) -> DataTensors:
        from ganbench_plugins.idx_files import load_split

        images, labels = load_split(resolve_data_root(request.data_root), folder,
                                    request.split, request.download, name)
        return to_tensors(images, labels, spec)

    return load


def load_cifar10(request: DataRequest) -> DataTensors:
    from ganbench_plugins.cifar_files import load_split

    images, labels = load_split(resolve_data_root(request.data_root), request.split,
                                request.download)
    return to_tensors(images, labels, CIFAR10)


def load_stacked_mnist(request: DataRequest) -> DataTensors:
    from ganbench_plugins import stacked_mnist
    from ganbench_plugins.idx_files import load_split

    images, labels = load_split(resolve_data_root(request.data_root), "MNIST", request.split,
                                request.download, "stacked-mnist")
    n = stacked_mnist.SIZES.get(request.split, stacked_mnist.SIZES["test"])
    x, y = stacked_mnist.stack(images, labels, n, stacked_mnist.seed_for(request.split))
    return to_tensors(x, y, STACKED)


MNIST = DataSpec("images", (1, 28, 28), 10)
CIFAR10 = DataSpec("images", (3, 32, 32), 10)
STACKED = DataSpec("images", (3, 28, 28), 1000)

DATASETS = [
    DatasetSpec("mnist", MNIST, idx_loader("mnist", "MNIST", MNIST),
                "MNIST handwritten digits (LeCun et al. 1998), 28x28 grey, 10 classes, "
                "60000 train / 10000 test", source="files"),
    DatasetSpec("fashion-mnist", MNIST, idx_loader("fashion-mnist", "FashionMNIST", MNIST),
                "Fashion-MNIST (Xiao et al. 2017), 28x28 grey clothing, 10 classes, "
                "60000 train / 10000 test", source="files"),
    DatasetSpec("cifar10", CIFAR10, load_cifar10,
                "CIFAR-10 (Krizhevsky 2009), 32x32 colour, 10 classes, 50000 train / 10000 test",
                source="files"),
    DatasetSpec("stacked-mnist", STACKED, load_stacked_mnist,
                "three MNIST digits as RGB channels, 1000 modes (VEEGAN/PacGAN); fixed seed, "
                "60000 train / 10000 test", source="files"),
]


@hookimpl
def ganbench_register_datasets(register):
    for d in DATASETS:
        register(d)
