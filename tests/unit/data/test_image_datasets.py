"""Image datasets: MNIST / Fashion-MNIST on the real files, CIFAR-10 on a stand-in written in
its original python format, Stacked MNIST, resizing, offline errors."""

import os
import pickle
import tarfile

import numpy as np
import pytest

from conftest import REPO, run_cli
from ganbench.api.errors import DataUnavailableError, UsageError
from ganbench.api.specs import DataRequest

# The real data (read-only): ``<repo>/../shared/data`` as in CI, or $GANBENCH_TEST_DATA.
DATA = os.environ.get("GANBENCH_TEST_DATA") or os.path.join(os.path.dirname(REPO), "shared",
                                                             "data")


def _need(folder):
    if not os.path.isfile(os.path.join(DATA, folder, "raw", "train-images-idx3-ubyte.gz")):
        pytest.skip(f"real {folder} files not found under {DATA} (set GANBENCH_TEST_DATA to a "
                    f"data root holding {folder}/raw/*.gz)")


def _snapshot(root):
    return sorted((p, os.stat(os.path.join(d, p)).st_mtime_ns)
                  for d, _, files in os.walk(root) for p in files)


def _load(reg, name, split="train", root=None, download=False, **options):
    req = DataRequest(split=split, data_root=root or DATA, download=download, options=options)
    return reg.datasets.get(name).load(req)


# the official per-class counts of MNIST (train, test)
MNIST_COUNTS = ([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
                [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])


def test_mnist_loads_offline_from_a_read_only_raw_root(reg):
    _need("MNIST")
    before = _snapshot(DATA)
    for split, n, counts in (("train", 60000, MNIST_COUNTS[0]), ("test", 10000, MNIST_COUNTS[1])):
        d = _load(reg, "mnist", split)
        assert tuple(d.x.shape) == (n, 1, 28, 28) and d.x.dtype.is_floating_point
        assert d.spec.shape == (1, 28, 28) and d.spec.num_classes == 10
        assert float(d.x.min()) == -1.0 and float(d.x.max()) == 1.0
        assert np.bincount(d.y.numpy(), minlength=10).tolist() == counts
        if split == "train":  # the well-known MNIST mean and std of pixels in [0, 1]
            assert float((d.x + 1).mean() / 2) == pytest.approx(0.1307, abs=5e-4)
            assert float(((d.x + 1) / 2).std()) == pytest.approx(0.3081, abs=5e-4)
    assert _snapshot(DATA) == before  # nothing written into the data root


def test_fashion_mnist_loads(reg):
    _need("FashionMNIST")
    train, test = _load(reg, "fashion-mnist"), _load(reg, "fashion-mnist", "test")
    assert tuple(train.x.shape) == (60000, 1, 28, 28) and tuple(test.x.shape) == (10000, 1, 28, 28)
    assert np.bincount(train.y.numpy()).tolist() == [6000] * 10
    assert np.bincount(test.y.numpy()).tolist() == [1000] * 10
    assert -1.0 <= float(train.x.min()) < float(train.x.max()) <= 1.0
    mnist_mean = float(_load(reg, "mnist", "test").x.mean()) if os.path.isdir(
        os.path.join(DATA, "MNIST")) else None
    if mnist_mean is not None:  # clothes cover far more of the image than digits
        assert float(test.x.mean()) > mnist_mean + 0.2


def test_corrupt_gz_is_refused_with_its_md5(reg, tmp_path):
    _need("MNIST")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in os.listdir(os.path.join(DATA, "MNIST", "raw")):
        blob = open(os.path.join(DATA, "MNIST", "raw", name), "rb").read()
        if name.startswith("t10k-labels"):
            blob = blob[:-10] + bytes(10)
        (raw / name).write_bytes(blob)
    with pytest.raises(DataUnavailableError, match="t10k-labels-idx1-ubyte.gz is corrupt.*md5"):
        _load(reg, "mnist", "test", root=str(tmp_path))


def test_stacked_mnist_has_1000_modes_from_real_digits(reg):
    _need("MNIST")
    mnist = _load(reg, "mnist", "test")
    d = _load(reg, "stacked-mnist", "test")
    assert tuple(d.x.shape) == (10000, 3, 28, 28) and d.spec.num_classes == 1000
    counts = np.bincount(d.y.numpy(), minlength=1000)
    assert len(counts) == 1000 and (counts > 0).sum() > 990  # 10 per mode on average
    # each channel is a real MNIST test digit whose label is the matching decimal digit
    flat = mnist.x.flatten(1)
    for i in (0, 1, 4321):
        for c, digit in enumerate((int(d.y[i]) // 100, int(d.y[i]) // 10 % 10, int(d.y[i]) % 10)):
            j = int((flat - d.x[i, c].flatten()).abs().sum(1).argmin())
            assert bool((flat[j] == d.x[i, c].flatten()).all()) and int(mnist.y[j]) == digit
    again = _load(reg, "stacked-mnist", "test")
    assert bool((again.x == d.x).all()) and bool((again.y == d.y).all())  # fixed seed


def test_stack_construction():
    from ganbench_plugins.stacked_mnist import stack

    images = np.arange(10, dtype=np.uint8).repeat(4).reshape(10, 2, 2)  # image i is all i
    x, y = stack(images, np.arange(10), 500, seed=3)
    assert tuple(x.shape) == (500, 3, 2, 2)
    d = x[:, :, 0, 0].astype(np.int64)
    assert (y == 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]).all() and y.dtype == np.int64
    assert len(np.unique(y)) > 390  # 500 draws from 1000 modes
    x2, _ = stack(images, np.arange(10), 500, seed=3)
    x3, _ = stack(images, np.arange(10), 500, seed=4)
    assert bool((x2 == x).all()) and not bool((x3 == x).all())


# ------------------------------------------------------------------------------- CIFAR-10


def _cifar_batch(n, offset):
    """A batch in the original format: dict with uint8 'data' (n x 3072, R, G, B planes)."""
    rng = np.random.RandomState(offset)
    data = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
    data[0, :1024], data[0, 1024:2048], data[0, 2048:] = 255, 0, 128  # a red-ish first image
    return {"batch_label": f"batch {offset}", "labels": [(offset + i) % 10 for i in range(n)],
            "data": data, "filenames": [f"img_{offset}_{i}.png" for i in range(n)]}


def _write_cifar(root, n=7):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        batches[name] = _cifar_batch(n, i)
        with open(folder / name, "wb") as f:
            pickle.dump(batches[name], f, protocol=2)
    return batches


def test_cifar10_loader_reads_the_original_python_format(reg, tmp_path):
    batches = _write_cifar(tmp_path)
    train = _load(reg, "cifar10", root=str(tmp_path))
    assert tuple(train.x.shape) == (35, 3, 32, 32) and train.spec.shape == (3, 32, 32)
    assert train.y.tolist() == sum((batches[f"data_batch_{k}"]["labels"] for k in range(1, 6)), [])
    first = train.x[0]
    assert float(first[0].min()) == 1.0 and float(first[1].max()) == -1.0  # R = 255, G = 0
    assert float(first[2, 0, 0]) == pytest.approx(128 / 127.5 - 1, abs=1e-6)
    raw = batches["data_batch_2"]["data"][3].reshape(3, 32, 32)  # row-major planes
    assert np.allclose(train.x[7 + 3].numpy(), raw / 127.5 - 1, atol=1e-6)
    test = _load(reg, "cifar10", "test", root=str(tmp_path))
    assert tuple(test.x.shape) == (7, 3, 32, 32) and test.y.tolist() == batches["test_batch"]["labels"]


def test_cifar10_refuses_a_pickle_that_runs_code(reg, tmp_path):
    _write_cifar(tmp_path)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f, protocol=2)
    with pytest.raises(DataUnavailableError, match="refusing to load"):
        _load(reg, "cifar10", "test", root=str(tmp_path))
    assert not marker.exists()


def test_cifar10_archive_must_be_the_original(reg, tmp_path):
    src = tmp_path / "src"
    _write_cifar(src)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    with pytest.raises(DataUnavailableError, match="not the original archive"):
        _load(reg, "cifar10", root=str(tmp_path))


# ------------------------------------------------------------------------ offline, no data


@pytest.mark.parametrize("dataset,expected", [
    ("mnist", "missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz in {root}/MNIST/raw"),
    ("fashion-mnist", "in {root}/FashionMNIST/raw"),
    ("cifar10", "missing {root}/cifar-10-batches-py/{{data_batch_1,"),
    ("stacked-mnist", "in {root}/MNIST/raw"),
])
def test_offline_without_files_names_the_files_and_where(reg, dataset, expected, tmp_path):
    with pytest.raises(DataUnavailableError) as err:
        _load(reg, dataset, root=str(tmp_path))
    msg = str(err.value)
    assert expected.format(root=tmp_path) in msg and "--no-download" in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []


def test_download_uses_torchvision_and_reports_failure(reg, tmp_path, monkeypatch, capsys):
    _need("MNIST")
    import shutil

    from ganbench_plugins import idx_files

    real_md5s = idx_files.torchvision_dataset("MNIST").resources  # the md5s stay the real ones

    class Offline:
        resources = real_md5s

        def __init__(self, root, download):
            raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(idx_files, "torchvision_dataset", lambda folder: Offline)
    with pytest.raises(DataUnavailableError, match=r"the download failed \(OSError: \[Errno -3\]"):
        _load(reg, "mnist", "test", root=str(tmp_path), download=True)

    class Fetches:  # stands in for torchvision's download: the original files appear
        resources = Offline.resources

        def __init__(self, root, download):
            print("Downloading ...")
            shutil.copytree(os.path.join(DATA, "MNIST"), os.path.join(root, "MNIST"))

    monkeypatch.setattr(idx_files, "torchvision_dataset", lambda folder: Fetches)
    d = _load(reg, "mnist", "test", root=str(tmp_path / "fresh"), download=True)
    assert tuple(d.x.shape) == (10000, 1, 28, 28)
    assert "Downloading" in capsys.readouterr().err  # progress goes to stderr, not stdout


def test_offline_without_files_is_one_line_and_exit_2(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli("run", "--variant", "dcgan", "--dataset", "mnist", "--budget", "5steps",
                "--data-root", str(empty), "--no-download", "--out", str(tmp_path / "o"))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and lines[-1].startswith("ganbench: error: mnist: missing")
    assert len([ln for ln in lines if "error" in ln]) == 1
    assert list(empty.iterdir()) == [] and not any((tmp_path / "o").glob("*.json"))


def test_data_root_defaults_to_the_user_cache(monkeypatch, tmp_path):
    from ganbench.data.dataroot import resolve_data_root

    monkeypatch.delenv("GANBENCH_DATA_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_root() == tmp_path / "xdg" / "ganbench" / "data"
    monkeypatch.setenv("GANBENCH_DATA_ROOT", str(tmp_path / "env"))
    assert resolve_data_root() == tmp_path / "env"
    assert resolve_data_root(str(tmp_path / "arg")) == tmp_path / "arg"


# ---------------------------------------------------------------------- resize and planning


def test_dcgan_on_mnist_is_resized_to_32_and_recorded(reg):
    from ganbench.planning.budget import Budget
    from ganbench.planning.plan import plan

    (job,) = plan(reg, variants=["dcgan"], datasets=["mnist"], budget=Budget.parse("1steps"),
                  seeds=[0])
    assert dict(job.data_options) == {"resize": 32}
    assert job.config()["data_options"] == {"resize": 32}
    (mlp,) = plan(reg, variants=["non-saturating"], datasets=["mnist"],
                  budget=Budget.parse("1steps"), seeds=[0])
    assert dict(mlp.data_options) == {}  # fits at 28: untouched
    with pytest.raises(UsageError, match="square images of size 8, 16, 32 or 64"):
        plan(reg, variants=["dcgan"], datasets=["mnist"], data_options={"resize": 30})
    with pytest.raises(UsageError, match="resize applies to image datasets"):
        plan(reg, variants=["non-saturating"], datasets=["ring8"], data_options={"resize": 32})


def test_resize_keeps_range_and_shape(reg):
    from ganbench.data.imaging import apply_options

    d = reg.datasets.get("digits").load(DataRequest())
    r = apply_options(d, {"resize": 32})
    assert tuple(r.x.shape) == (len(d.x), 1, 32, 32) and r.spec.shape == (1, 32, 32)
    assert float(r.x.min()) >= -1.0 and float(r.x.max()) <= 1.0
    # upsampling keeps the picture: mean intensity of each image barely moves
    assert float((r.x.mean((1, 2, 3)) - d.x.mean((1, 2, 3))).abs().max()) < 0.05
    assert r.y is d.y


def test_literature_suites(reg):
    for name, dataset in (("mnist", "mnist"), ("fashion-mnist", "fashion-mnist")):
        entries = reg.suites.get(name).resolve(reg)
        assert sorted(e.variant for e in entries) == sorted(
            ["vanilla-minimax", "non-saturating", "dcgan", "cgan"])
        assert {e.dataset for e in entries} == {dataset}
        assert len({e.budget for e in entries}) == 1  # equal budget per variant
        assert all(len(e.seeds) >= 3 and dict(e.data_options) == {"resize": 32}
                   for e in entries)


def test_mnist_suite_plans_without_touching_data(tmp_path):
    r = run_cli("run", "--all", "--suite", "mnist", "--budget", "60s", "--dry-run",
                "--data-root", str(tmp_path / "nowhere"), "--no-download")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 12 and all("on mnist" in ln and "60s" in ln for ln in lines)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.slow
def test_dcgan_from_the_mnist_suite_learns_on_real_mnist(tmp_path):
    """The mnist suite's dcgan entry, trained briefly on the real MNIST through the CLI: images
    are resized to 32 x 32 (recorded in the run config) and the pixel-space Frechet distance to
    the train split falls well below its value at step 0."""
    _need("MNIST")
    from ganbench.store import results

    r = run_cli("run", "--all", "--suite", "mnist", "--variant", "dcgan", "--budget", "30steps",
                "--batch-size", "16", "--seeds", "0", "--evals", "1", "--eval-samples", "500",
                "--data-root", DATA, "--no-download", "--no-calibration",
                "--out", str(tmp_path / "runs"))
    assert r.returncode == 0, r.stderr
    (f,) = (tmp_path / "runs").glob("*.json")
    run = results.read_run(f)
    assert run["meta"]["config"]["data_options"] == {"resize": 32}
    assert run["meta"]["status"] == "completed" and run["meta"]["suite"] == "mnist"
    fd = {row["step"]: row["value"] for row in run["rows"] if row["metric"] == "frechet_data"}
    assert sorted(fd) == [0, 30]
    assert fd[30] < 0.75 * fd[0], fd  # measured: 898 -> 527


# ------------------------------------------------- hostile data roots: refused at load, one line


def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.tobytes())


def _idx_root(root, folder="MNIST", n=5, shape=(28, 28), labels=None, split="train"):
    """A data root with the uncompressed files torchvision extracts (no md5 to check)."""
    from ganbench_plugins.idx_files import SPLIT_FILES

    images_name, labels_name = SPLIT_FILES[split]
    raw = root / folder / "raw"
    _write_idx(raw / images_name, np.zeros((n, *shape)))
    _write_idx(raw / labels_name, labels if labels is not None else np.arange(n) % 10)
    return raw


@pytest.mark.parametrize("dataset, folder", [("mnist", "MNIST"),
                                             ("fashion-mnist", "FashionMNIST"),
                                             ("stacked-mnist", "MNIST")])
@pytest.mark.parametrize("case, said", [
    ("labels", "train-labels-idx1-ubyte has labels outside 0-9 (up to 12)"),
    ("shape", "train-images-idx3-ubyte holds images of shape (14, 56), not (28, 28)"),
    ("one", "the train split in {raw}/train-images-idx3-ubyte holds 1 image(s); at least 2"),
    ("none", "the train split in {raw}/train-images-idx3-ubyte holds 0 image(s)"),
    ("truncated", "train-images-idx3-ubyte is truncated"),
])
def test_hostile_idx_files_are_refused_naming_the_file(reg, dataset, folder, case, said,
                                                       tmp_path):
    kw = {"labels": dict(labels=[1, 2, 12, 3, 4]), "shape": dict(shape=(14, 56)),
          "one": dict(n=1), "none": dict(n=0)}.get(case, {})
    raw = _idx_root(tmp_path, folder, **kw)
    if case == "truncated":
        path = raw / "train-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataUnavailableError) as info:
        _load(reg, dataset, root=str(tmp_path))
    assert said.format(raw=raw) in str(info.value) and str(info.value).startswith(dataset)


@pytest.mark.parametrize("n", [0, 1])
def test_cifar10_split_of_fewer_than_two_images_is_refused(reg, tmp_path, n):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(tmp_path)
    batch = _cifar_batch(1, 9) if n else {"data": np.zeros((0, 3072), np.uint8), "labels": []}
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch, f, protocol=4)  # protocol 2 pickles an empty array's b'' as a call
    with pytest.raises(DataUnavailableError, match=f"test split in .*test_batch holds {n} "):
        _load(reg, "cifar10", "test", root=str(tmp_path))


def test_one_image_split_stops_the_run_before_training(tmp_path, capsys):
    """Not an IndexError or LinAlgError mid-training: one line, exit 2, no run file."""
    from ganbench import cli

    _idx_root(tmp_path / "data", n=64, split="test")
    _idx_root(tmp_path / "data", n=1)
    assert cli.main(["run", "--variant", "non-saturating", "--dataset", "mnist", "--budget",
                     "2steps", "--data-root", str(tmp_path / "data"), "--no-download",
                     "--no-calibration", "-q", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "mnist: the train split in" in err and "holds 1 image(s)" in err, err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.glob("o/*.json"))


@pytest.mark.parametrize("labels, said", [(["a"], "not whole numbers"), ([1.5], "not whole"),
                                          ([None], "not whole"), ([2**70], "outside 0-9"),
                                          ([-1], "outside 0-9")])
def test_cifar10_labels_that_are_not_classes_are_refused(reg, tmp_path, labels, said):
    _write_cifar(tmp_path)
    batch = {"data": np.zeros((1, 3072), np.uint8), "labels": labels}
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump(batch, f, protocol=2)
    with pytest.raises(DataUnavailableError, match=f"test_batch has labels .*{said}"):
        _load(reg, "cifar10", "test", root=str(tmp_path))
