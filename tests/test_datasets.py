"""Tests for sklearn_boxnn.datasets (MNIST / Fashion-MNIST IDX loaders)."""

import gzip
import os
import struct
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from sklearn_boxnn.datasets import load_fashion_mnist, load_mnist
from sklearn_boxnn._tuning import tuning
from sklearn_boxnn.datasets._idx import read_idx

ENV_VAR = "SKLEARN_BOXNN_DATA"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}


def idx_bytes(array, *, magic=None, shape=None):
    """IDX encoding of a uint8 array; ``magic``/``shape`` override the header."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    shape = array.shape if shape is None else shape
    if magic is None:
        magic = 0x0800 | len(shape)
    header = struct.pack(">I", magic) + struct.pack(f">{len(shape)}i", *shape)
    return header + array.tobytes()


def write_idx(path, array, *, compress=True, truncate=0, **kwargs):
    """Write ``array`` as an IDX file, gzip-compressed unless ``compress=False``."""
    data = idx_bytes(array, **kwargs)
    if truncate:
        data = data[:-truncate]
    Path(path).write_bytes(gzip.compress(data) if compress else data)
    return Path(path)


def make_subset(n, seed):
    """Write one random (images, labels) pair of IDX files in ``folder``."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # make sure both ends occur
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


@pytest.fixture
def data_home(tmp_path):
    """A tiny data folder with both datasets: 7 train and 3 test samples each."""
    home = tmp_path / "data"
    arrays = {}
    for seed, name in enumerate(LOADERS):
        folder = home / name
        folder.mkdir(parents=True)
        for subset, n in (("train", 7), ("test", 3)):
            images, labels = make_subset(n, seed=10 * seed + n)
            image_file, label_file = FILES[subset]
            write_idx(folder / image_file, images)
            write_idx(folder / label_file, labels)
            arrays[name, subset] = images, labels
    return home, arrays


@pytest.mark.parametrize("name", list(LOADERS))
@pytest.mark.parametrize("subset", ["train", "test"])
def test_bunch_fields_and_scaling(data_home, name, subset):
    home, arrays = data_home
    images, labels = arrays[name, subset]
    bunch = LOADERS[name](home, subset=subset)

    n = len(labels)
    assert set(bunch) == {
        "data",
        "target",
        "frame",
        "images",
        "target_names",
        "class_names",
        "feature_names",
        "DESCR",
    }
    assert bunch.data.shape == (n, 784)
    assert bunch.data.dtype == np.float32
    assert bunch.data.min() == 0.0 and bunch.data.max() == 1.0
    np.testing.assert_array_equal(
        bunch.data, images.reshape(n, 784).astype(np.float32) / np.float32(255)
    )
    assert bunch.images.shape == (n, 28, 28)
    assert np.shares_memory(bunch.images, bunch.data)
    np.testing.assert_array_equal(bunch.images, images / np.float32(255))
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.frame is None
    assert len(bunch.target_names) == 10
    assert len(bunch.feature_names) == 784
    assert bunch.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    assert bunch.feature_names[-1] == "pixel_27_27"
    assert "MNIST" in bunch.DESCR


FASHION_CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


@pytest.mark.parametrize(
    "loader, class_names",
    [
        (load_mnist, [str(d) for d in range(10)]),
        (load_fashion_mnist, FASHION_CLASS_NAMES),
    ],
)
def test_target_names_are_label_values_and_class_names_are_words(
    data_home, loader, class_names
):
    home, _ = data_home
    bunch = loader(home)
    # target_names: the label values, of the dtype of target (load_digits').
    assert bunch.target_names.dtype == bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target_names, np.arange(10))
    assert np.isin(bunch.target, bunch.target_names).all()
    # class_names: what each label means, indexed by the label.
    assert bunch.class_names.dtype.kind == "U"
    assert bunch.class_names.tolist() == class_names
    assert bunch.class_names[bunch.target].shape == bunch.target.shape


@pytest.mark.parametrize("name", list(LOADERS))
@pytest.mark.parametrize("subset", ["test", "all"])
@pytest.mark.parametrize("scaled", [True, False])
def test_as_frame(data_home, name, subset, scaled):
    pd = pytest.importorskip("pandas")
    home, _ = data_home
    arrays = LOADERS[name](home, subset=subset, scaled=scaled)
    bunch = LOADERS[name](home, subset=subset, scaled=scaled, as_frame=True)
    assert set(bunch) == set(arrays)

    assert isinstance(bunch.data, pd.DataFrame)
    assert bunch.data.columns.tolist() == arrays.feature_names
    assert (bunch.data.dtypes == arrays.data.dtype).all()
    np.testing.assert_array_equal(bunch.data.to_numpy(), arrays.data)

    assert isinstance(bunch.target, pd.Series)
    assert bunch.target.name == "target" and bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target.to_numpy(), arrays.target)

    assert isinstance(bunch.frame, pd.DataFrame)
    assert bunch.frame.columns.tolist() == arrays.feature_names + ["target"]
    pd.testing.assert_frame_equal(bunch.frame[arrays.feature_names], bunch.data)
    pd.testing.assert_series_equal(bunch.frame["target"], bunch.target)
    assert bunch.data.index.equals(bunch.frame.index)

    # The rest is as without pandas: images stay a numpy array.
    assert isinstance(bunch.images, np.ndarray)
    np.testing.assert_array_equal(bunch.images, arrays.images)
    np.testing.assert_array_equal(bunch.target_names, arrays.target_names)
    np.testing.assert_array_equal(bunch.class_names, arrays.class_names)
    assert bunch.DESCR == arrays.DESCR


def test_as_frame_return_X_y(data_home):
    pd = pytest.importorskip("pandas")
    home, _ = data_home
    X, y = load_fashion_mnist(home, subset="test", as_frame=True, return_X_y=True)
    bunch = load_fashion_mnist(home, subset="test", as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    pd.testing.assert_frame_equal(X, bunch.data)
    pd.testing.assert_series_equal(y, bunch.target)
    assert X.shape == (3, 784) and y.shape == (3,)


@pytest.mark.parametrize("name", ["load_mnist", "load_fashion_mnist"])
def test_as_frame_without_pandas(data_home, monkeypatch, name):
    home, arrays = data_home
    loader = {"load_mnist": load_mnist, "load_fashion_mnist": load_fashion_mnist}[name]
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails
    message = (
        rf"{name}\(as_frame=True\) requires pandas, which is not installed\. "
        r"Install it \(pip install pandas\) or pass as_frame=False"
    )
    with pytest.raises(ImportError, match=message):
        loader(home, as_frame=True)
    with pytest.raises(ImportError, match=message):
        loader(home, as_frame=True, return_X_y=True)
    # Said before any file is looked for.
    with pytest.raises(ImportError, match=message):
        loader(home / "nowhere", as_frame=True)
    # Without as_frame, pandas is not needed.
    X, y = loader(home, subset="test", return_X_y=True)
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)
    assert loader(home).frame is None


@pytest.mark.parametrize("subset", ["train", "test", "all"])
def test_raw_uint8(data_home, subset):
    home, arrays = data_home
    parts = ["train", "test"] if subset == "all" else [subset]
    expected = np.concatenate([arrays["mnist", s][0] for s in parts])
    bunch = load_mnist(home, subset=subset, scaled=False)
    assert bunch.data.dtype == np.uint8
    assert bunch.data.flags.writeable
    np.testing.assert_array_equal(bunch.data, expected.reshape(-1, 784))
    np.testing.assert_array_equal(bunch.images, expected)
    assert np.shares_memory(bunch.images, bunch.data)


def test_return_X_y(data_home):
    home, arrays = data_home
    X, y = load_fashion_mnist(home, subset="test", return_X_y=True)
    bunch = load_fashion_mnist(home, subset="test")
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)
    assert X.shape == (3, 784) and y.shape == (3,)


def test_subset_all_concatenates_train_then_test(data_home):
    home, arrays = data_home
    bunch = load_mnist(home, subset="all")
    train = load_mnist(home, subset="train")
    test = load_mnist(home, subset="test")
    assert bunch.data.shape == (10, 784) and bunch.data.dtype == np.float32
    np.testing.assert_array_equal(bunch.data, np.vstack([train.data, test.data]))
    np.testing.assert_array_equal(
        bunch.target, np.concatenate([train.target, test.target])
    )
    assert np.shares_memory(bunch.images, bunch.data)


def test_env_var(data_home, monkeypatch):
    home, arrays = data_home
    monkeypatch.setenv(ENV_VAR, str(home))
    X, y = load_mnist(subset="test", return_X_y=True)
    np.testing.assert_array_equal(y, arrays["mnist", "test"][1])
    # An explicit argument wins over the environment variable.
    monkeypatch.setenv(ENV_VAR, str(home / "nowhere"))
    X2, _ = load_mnist(str(home), subset="test", return_X_y=True)
    np.testing.assert_array_equal(X, X2)


def test_uncompressed_fallback(data_home):
    home, arrays = data_home
    folder = home / "mnist"
    images, labels = arrays["mnist", "test"]
    for name in FILES["test"]:
        (folder / name).unlink()
    write_idx(folder / "t10k-images-idx3-ubyte", images, compress=False)
    write_idx(folder / "t10k-labels-idx1-ubyte", labels, compress=False)
    X, y = load_mnist(home, subset="test", scaled=False, return_X_y=True)
    np.testing.assert_array_equal(X, images.reshape(-1, 784))
    np.testing.assert_array_equal(y, labels)


def test_invalid_params(data_home):
    home, _ = data_home
    with pytest.raises(ValueError, match="subset"):
        load_mnist(home, subset="validation")
    with pytest.raises(TypeError, match="data_home"):
        load_mnist(123)
    with pytest.raises(TypeError, match="scaled"):
        load_mnist(home, scaled="yes")
    with pytest.raises(TypeError, match="as_frame"):
        load_mnist(home, as_frame="yes")


# -- errors -------------------------------------------------------------------


def test_no_data_home_and_no_env_var(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(
        FileNotFoundError, match=r"pass data_home or set the environment variable "
        r"SKLEARN_BOXNN_DATA to a folder holding mnist/ and fashion-mnist/"
    ):
        load_mnist()


def test_missing_data_home(tmp_path, monkeypatch):
    missing = tmp_path / "absent"
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(
        FileNotFoundError, match=r"absent.*does not exist.*SKLEARN_BOXNN_DATA"
    ):
        load_mnist()


def test_missing_dataset_folder(data_home):
    home, _ = data_home
    (home / "mnist" / FILES["train"][0]).rename(home / "stray.gz")
    for path in (home / "mnist").iterdir():
        path.unlink()
    (home / "mnist").rmdir()
    with pytest.raises(
        FileNotFoundError,
        match=r"Dataset folder .*mnist' not found.*SKLEARN_BOXNN_DATA",
    ):
        load_mnist(home)


def test_dataset_folder_given_instead_of_parent(data_home):
    home, _ = data_home
    with pytest.raises(FileNotFoundError, match="pass its parent folder"):
        load_mnist(home / "mnist")


def test_missing_file(data_home):
    home, _ = data_home
    missing = home / "fashion-mnist" / FILES["test"][1]
    missing.unlink()
    # The training subset does not need the file.
    load_fashion_mnist(home, subset="train")
    for subset in ("test", "all"):
        with pytest.raises(FileNotFoundError) as excinfo:
            load_fashion_mnist(home, subset=subset)
        message = str(excinfo.value)
        assert str(missing) in message
        for name in FILES["train"] + FILES["test"]:
            assert name in message
        assert ENV_VAR in message


@pytest.mark.parametrize(
    "which, bad_magic, expected",
    [
        (0, 2049, r"expected 2051 \(0x00000803\), found 2049 \(0x00000801\)"),
        (1, 2051, r"expected 2049 \(0x00000801\), found 2051 \(0x00000803\)"),
    ],
)
def test_wrong_magic(data_home, which, bad_magic, expected):
    home, arrays = data_home
    array = arrays["mnist", "train"][which]
    path = home / "mnist" / FILES["train"][which]
    write_idx(path, array, magic=bad_magic)
    with pytest.raises(ValueError, match="wrong IDX magic number: " + expected):
        load_mnist(home)


def test_truncated_images(data_home):
    home, arrays = data_home
    images = arrays["mnist", "train"][0]
    path = home / "mnist" / FILES["train"][0]
    write_idx(path, images, truncate=5)
    n_bytes = images.size
    with pytest.raises(
        ValueError,
        match=rf"truncated IDX data: .*needs {n_bytes} bytes, got {n_bytes - 5}",
    ):
        load_mnist(home)


def test_truncated_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(struct.pack(">I", 2051) + struct.pack(">i", 2))
    with pytest.raises(ValueError, match="truncated IDX header: expected 12 bytes"):
        read_idx(path)


def test_overlong_data(tmp_path):
    path = write_idx(tmp_path / "long.gz", np.arange(4), shape=(3,))
    with pytest.raises(ValueError, match="needs 3 bytes, got 4"):
        read_idx(path)


def test_truncated_gzip_stream(data_home):
    home, _ = data_home
    path = home / "mnist" / FILES["train"][0]
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="corrupt or truncated gzip stream"):
        load_mnist(home)


def test_count_mismatch(data_home):
    home, arrays = data_home
    labels = arrays["mnist", "test"][1]
    write_idx(home / "mnist" / FILES["test"][1], labels[:-1])
    with pytest.raises(
        ValueError, match=r"Image and label counts differ: 3 images .* 2 labels"
    ):
        load_mnist(home, subset="test")


def test_wrong_image_shape(data_home):
    home, _ = data_home
    write_idx(home / "mnist" / FILES["test"][0], np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"expected images of shape \(28, 28\)"):
        load_mnist(home, subset="test")


def test_label_out_of_range(data_home):
    home, _ = data_home
    write_idx(home / "mnist" / FILES["test"][1], [1, 10, 2])
    with pytest.raises(ValueError, match=r"labels must lie in 0..9, found 10"):
        load_mnist(home, subset="test")


# -- generic IDX reader ---------------------------------------------------------


def test_read_idx_generic_dtypes(tmp_path):
    values = np.arange(-3, 3, dtype=">i4").reshape(2, 3)
    path = tmp_path / "ints"
    header = struct.pack(">I", 0x0C02) + struct.pack(">2i", 2, 3)
    path.write_bytes(header + values.tobytes())
    out = read_idx(path)
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)

    floats = np.array([0.5, -1.25], dtype=">f8")
    header = struct.pack(">I", 0x0E01) + struct.pack(">i", 2)
    path.write_bytes(header + floats.tobytes())
    np.testing.assert_array_equal(read_idx(path), [0.5, -1.25])


def test_read_idx_rejects_non_idx(tmp_path):
    path = tmp_path / "text"
    path.write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)
    path.write_bytes(struct.pack(">I", 0x0A01) + struct.pack(">i", 1) + b"x")
    with pytest.raises(ValueError, match="unsupported IDX data type code 0x0A"):
        read_idx(path)


def raw_idx(type_code, dims, data=b""):
    """IDX bytes with any header: type code, dimensions (int32) and raw data."""
    header = bytes([0, 0, type_code, len(dims)])
    return header + struct.pack(f">{len(dims)}i", *dims) + data


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    "dims, claimed",
    [
        ((2**31 - 1, 28, 28), r"1683627179248 bytes \(1\.5 TiB\)"),
        ((100_000, 28, 28), r"78400000 bytes \(74\.8 MiB\)"),
    ],
)
def test_implausible_header_is_refused_before_allocating(
    tmp_path, compress, dims, claimed
):
    data = raw_idx(0x08, dims, bytes(10))
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    tracemalloc.start()
    try:
        with pytest.raises(
            ValueError,
            match=rf"truncated IDX data: header shape \({dims[0]}, 28, 28\) of "
            rf"uint8 needs {claimed}, got 10 bytes\. The header claims more data",
        ):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Nothing of the claimed size: at most the first read buffer (gzip).
    assert peak < 4 * 2**20


@pytest.mark.parametrize("ndim", [0, 33, 255])
def test_implausible_number_of_dimensions(tmp_path, ndim):
    path = tmp_path / "odd"
    path.write_bytes(raw_idx(0x08, [1] * ndim, b"x"))
    with pytest.raises(
        ValueError,
        match=rf"implausible IDX header: magic number .* claims {ndim} dimensions; "
        r"IDX data has 1 to 32",
    ):
        read_idx(path)


@pytest.mark.parametrize("type_code", [0x00, 0x0A, 0x0F, 0xFF])
def test_unknown_type_codes(tmp_path, type_code):
    path = tmp_path / "odd"
    path.write_bytes(raw_idx(type_code, [1], b"x"))
    with pytest.raises(
        ValueError, match=rf"unsupported IDX data type code 0x{type_code:02X}"
    ):
        read_idx(path)


def test_negative_and_zero_dimensions(tmp_path):
    path = tmp_path / "odd"
    path.write_bytes(raw_idx(0x08, [-1, 28, 28]))
    with pytest.raises(ValueError, match=r"negative IDX dimension in \(-1, 28, 28\)"):
        read_idx(path)
    # A dimension of zero is an empty array, not an error.
    path.write_bytes(gzip.compress(raw_idx(0x08, [0, 28, 28])))
    empty = read_idx(path)
    assert empty.shape == (0, 28, 28) and empty.dtype == np.uint8


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_data_larger_than_the_first_buffer(tmp_path, compress):
    # A small first buffer makes the gzip path grow it several times.
    with tuning(idx_first_buffer_bytes=64):
        values = np.arange(-500, 700, dtype=">i4").reshape(100, 12)
        data = raw_idx(0x0C, values.shape, values.tobytes())
        path = tmp_path / "ints"
        path.write_bytes(gzip.compress(data) if compress else data)
        out = read_idx(path)
        assert out.dtype == np.int32 and out.dtype.isnative and out.flags.writeable
        np.testing.assert_array_equal(out, values)
        # truncated after the buffer grew
        path.write_bytes(gzip.compress(data[:-7]) if compress else data[:-7])
        with pytest.raises(ValueError, match="needs 4800 bytes, got 4793 bytes"):
            read_idx(path)


def test_overlong_gzip_data_is_not_read_to_its_end(tmp_path):
    with tuning(idx_rest_limit=1000):
        path = tmp_path / "long.gz"
        path.write_bytes(gzip.compress(raw_idx(0x08, [3], bytes(3 + 50_000))))
        with pytest.raises(
            ValueError, match=r"longer than its header says: .*needs 3 bytes, got more than"
        ):
            read_idx(path)
        path.write_bytes(raw_idx(0x08, [3], bytes(3 + 50_000)))  # plain: exact count
        with pytest.raises(ValueError, match="needs 3 bytes, got 50003 bytes"):
            read_idx(path)


# -- real data (skipped where absent) -----------------------------------------------


def _real_data_home():
    candidates = [os.environ.get(ENV_VAR)]
    candidates.append(Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    for candidate in candidates:
        if candidate and (Path(candidate) / "mnist").is_dir():
            return Path(candidate)
    return None


REAL_DATA = _real_data_home()


@pytest.mark.skipif(REAL_DATA is None, reason="real MNIST data not found")
def test_real_data_label_counts():
    mnist_train = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    mnist_test = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    for loader, train_counts, test_counts in [
        (load_mnist, mnist_train, mnist_test),
        (load_fashion_mnist, [6000] * 10, [1000] * 10),
    ]:
        X, y = loader(REAL_DATA, subset="train", return_X_y=True)
        assert X.shape == (60000, 784) and X.dtype == np.float32
        assert 0.0 <= X.min() and X.max() <= 1.0
        assert np.bincount(y).tolist() == train_counts
        X, y = loader(REAL_DATA, subset="test", scaled=False, return_X_y=True)
        assert X.shape == (10000, 784) and X.dtype == np.uint8
        assert np.bincount(y).tolist() == test_counts


@pytest.mark.skipif(REAL_DATA is None, reason="real MNIST data not found")
def test_real_data_as_frame_and_names():
    pd = pytest.importorskip("pandas")
    for loader, first_names in [
        (load_mnist, ["7", "2", "1"]),
        (load_fashion_mnist, ["Ankle boot", "Pullover", "Trouser"]),
    ]:
        bunch = loader(REAL_DATA, subset="test", as_frame=True)
        assert isinstance(bunch.data, pd.DataFrame)
        assert bunch.data.shape == (10000, 784) and bunch.frame.shape == (10000, 785)
        assert bunch.frame.columns[-1] == "target" and bunch.target.name == "target"
        assert (bunch.data.dtypes == np.float32).all()
        assert bunch.target.dtype == bunch.target_names.dtype == np.int64
        np.testing.assert_array_equal(np.unique(bunch.target), bunch.target_names)
        assert bunch.class_names[bunch.target[:3]].tolist() == first_names
        X, y = loader(REAL_DATA, subset="test", return_X_y=True)
        np.testing.assert_array_equal(bunch.data.to_numpy(), X)
        np.testing.assert_array_equal(bunch.target.to_numpy(), y)
