"""Loaders for MNIST and Fashion-MNIST from local IDX files."""

import os
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from ._idx import read_idx

ENV_VAR = "SKLEARN_BOXNN_DATA"

_LABELS_MAGIC = 2049  # ubyte, 1 dimension
_IMAGES_MAGIC = 2051  # ubyte, 3 dimensions
_IMAGE_SHAPE = (28, 28)
_N_CLASSES = 10

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# ``target_names`` are the label values, of the dtype of ``target`` (as in
# sklearn.datasets.load_digits); ``class_names`` say in words what each is.
_TARGET_DTYPE = np.int64
_TARGET_COLUMN = "target"  # the Series' name with as_frame=True (load_digits')
_MNIST_CLASS_NAMES = [str(d) for d in range(10)]
_FASHION_CLASS_NAMES = [
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
_FEATURE_NAMES = [
    f"pixel_{r}_{c}" for r in range(_IMAGE_SHAPE[0]) for c in range(_IMAGE_SHAPE[1])
]

_PARAMS = {
    "data_home": [str, os.PathLike, None],
    "subset": [StrOptions({"train", "test", "all"})],
    "return_X_y": ["boolean"],
    "as_frame": ["boolean"],
    "scaled": ["boolean"],
}


def _resolve_data_home(data_home):
    """Return the data folder as a Path and a phrase saying where it came from."""
    if data_home is None:
        env = os.environ.get(ENV_VAR, "")
        if not env:
            raise FileNotFoundError(
                "No data folder given: pass data_home or set the environment "
                f"variable {ENV_VAR} to a folder holding mnist/ and "
                "fashion-mnist/."
            )
        return Path(env).expanduser(), f"from the environment variable {ENV_VAR}"
    return Path(data_home).expanduser(), "from the data_home argument"


def _find_file(folder, name):
    """Path of ``name`` in ``folder``, falling back to ``name`` without '.gz'."""
    path = folder / name
    if path.is_file():
        return path
    plain = folder / name.removesuffix(".gz")
    if plain.is_file():
        return plain
    return None


def _locate_files(data_home, source, folder_name, subsets):
    """Map each subset to its (images, labels) paths, or raise FileNotFoundError."""
    fix = (
        f"Pass data_home or set {ENV_VAR} to the folder holding mnist/ and "
        "fashion-mnist/."
    )
    if not data_home.is_dir():
        raise FileNotFoundError(
            f"Data folder {str(data_home)!r} ({source}) does not exist. {fix}"
        )
    folder = data_home / folder_name
    if not folder.is_dir():
        hint = ""
        if (data_home / _FILES["train"][0]).exists() or (
            data_home / _FILES["test"][0]
        ).exists():
            hint = (
                " It looks like the dataset folder itself was given: pass its "
                "parent folder instead."
            )
        raise FileNotFoundError(
            f"Dataset folder {str(folder)!r} not found (data folder "
            f"{str(data_home)!r}, {source}).{hint} {fix}"
        )
    paths, missing = {}, []
    for subset in subsets:
        found = []
        for name in _FILES[subset]:
            path = _find_file(folder, name)
            if path is None:
                missing.append(str(folder / name))
            found.append(path)
        paths[subset] = tuple(found)
    if missing:
        expected = ", ".join(n for s in ("train", "test") for n in _FILES[s])
        raise FileNotFoundError(
            f"Missing data file(s): {', '.join(missing)} (data folder "
            f"{str(data_home)!r}, {source}). The folder {str(folder)!r} must "
            f"hold the IDX files {expected} (gzip-compressed, or uncompressed "
            f"without the '.gz' suffix). {fix}"
        )
    return paths


def _read_pair(images_path, labels_path):
    """Read and cross-check one (images, labels) pair of IDX files."""
    images = read_idx(images_path, expected_magic=_IMAGES_MAGIC)
    labels = read_idx(labels_path, expected_magic=_LABELS_MAGIC)
    if images.shape[1:] != _IMAGE_SHAPE:
        raise ValueError(
            f"{images_path}: expected images of shape {_IMAGE_SHAPE}, header "
            f"gives {images.shape[1:]}."
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"Image and label counts differ: {images.shape[0]} images in "
            f"{images_path} but {labels.shape[0]} labels in {labels_path}."
        )
    if labels.size and labels.max() >= _N_CLASSES:
        raise ValueError(
            f"{labels_path}: labels must lie in 0..{_N_CLASSES - 1}, found "
            f"{int(labels.max())}."
        )
    return images, labels


def _pixels(pairs, scaled):
    """The images of every part, flattened, one after the other."""
    n_samples = sum(images.shape[0] for images, _ in pairs)
    n_features = _IMAGE_SHAPE[0] * _IMAGE_SHAPE[1]
    if not scaled:
        if len(pairs) == 1:
            return pairs[0][0].reshape(n_samples, n_features)
        return np.concatenate([images.reshape(-1, n_features) for images, _ in pairs])
    # One pass per part straight into the output: no uint8 concatenation
    # and no float64 temporary.
    data = np.empty((n_samples, n_features), dtype=np.float32)
    start = 0
    for images, _ in pairs:
        stop = start + images.shape[0]
        np.divide(
            images.reshape(-1, n_features), 255, out=data[start:stop], dtype=np.float32
        )
        start = stop
    return data


def _import_pandas(caller):
    """pandas, or an ImportError that says how to do without it."""
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            f"{caller}(as_frame=True) requires pandas, which is not installed. "
            "Install it (pip install pandas) or pass as_frame=False for numpy "
            "arrays."
        ) from error
    return pandas


def _to_frame(caller, data, target):
    """``(frame, data, target)`` as pandas objects, as scikit-learn's loaders.

    ``data`` and ``frame`` are built from the array without copying it where
    pandas allows (copy-on-write pandas shares it until one is written).
    """
    pd = _import_pandas(caller)
    data = pd.DataFrame(data, columns=list(_FEATURE_NAMES), copy=False)
    target = pd.Series(target, name=_TARGET_COLUMN)
    return pd.concat([data, target], axis=1), data, target


def _load(caller, folder_name, descr_file, class_names, data_home, options):
    """The loaders' body; ``options`` holds subset, return_X_y, as_frame, scaled."""
    if options["as_frame"]:
        _import_pandas(caller)  # before reading anything
    data_home, source = _resolve_data_home(data_home)
    subset = options["subset"]
    subsets = ("train", "test") if subset == "all" else (subset,)
    paths = _locate_files(data_home, source, folder_name, subsets)
    pairs = [_read_pair(*paths[s]) for s in subsets]
    data = _pixels(pairs, options["scaled"])
    target = np.concatenate([labels for _, labels in pairs]).astype(_TARGET_DTYPE)
    images = data.reshape(data.shape[0], *_IMAGE_SHAPE)
    frame = None
    if options["as_frame"]:
        frame, data, target = _to_frame(caller, data, target)
    if options["return_X_y"]:
        return data, target

    descr = (
        resources.files("sklearn_boxnn.datasets") / "descr" / descr_file
    ).read_text(encoding="utf-8")
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        images=images,
        target_names=np.arange(_N_CLASSES, dtype=_TARGET_DTYPE),
        class_names=np.array(class_names),
        feature_names=list(_FEATURE_NAMES),
        DESCR=descr,
    )


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def load_mnist(
    data_home=None, *, subset="train", return_X_y=False, as_frame=False, scaled=True
):
    """Load the MNIST handwritten digits dataset from local IDX files.

    =================   ================
    Classes                           10
    Samples total                  70000
    Samples (train)                60000
    Samples (test)                 10000
    Dimensionality                   784
    Features            pixels in 0..255
    =================   ================

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the ``mnist/`` and ``fashion-mnist/`` sub-folders. If
        None, the environment variable ``SKLEARN_BOXNN_DATA`` is used. Each
        sub-folder holds the four standard IDX files
        ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``;
        where a ``.gz`` file is absent, the same name without ``.gz``
        (uncompressed IDX) is read instead. Nothing is downloaded.

    subset : {'train', 'test', 'all'}, default='train'
        Which part to load: the 60,000 training images, the 10,000
        test images, or both (training images first).

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch object.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame with the columns
        ``feature_names``, ``target`` a pandas Series named ``'target'``, and
        ``frame`` a DataFrame with both (the 784 pixel columns, then
        ``'target'``), as in :func:`sklearn.datasets.load_digits`. Needs
        pandas, which is otherwise not required.

    scaled : bool, default=True
        If True, pixels are float32 in [0, 1] (raw value / 255). If False,
        pixels are the raw uint8 values in 0..255.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : {ndarray, DataFrame} of shape (n_samples, 784)
            Flattened images, row-major, float32 if ``scaled`` else uint8.
            A DataFrame with the columns ``feature_names`` if ``as_frame``.
        target : {ndarray, Series} of shape (n_samples,), dtype int64
            Class labels 0..9. A Series named ``'target'`` if ``as_frame``.
        frame : DataFrame of shape (n_samples, 785) or None
            ``data`` and ``target`` side by side if ``as_frame``, else None.
        images : ndarray of shape (n_samples, 28, 28)
            The images, always a numpy array; a view of the array ``data``
            is made from (not a copy).
        target_names : ndarray of shape (10,), dtype int64
            The label values ``0`` to ``9``, of the dtype of ``target``, as
            :func:`sklearn.datasets.load_digits` gives them: what
            ``np.unique(target)`` gives on the full dataset, and so the order
            of ``classes_`` of a classifier fitted on it.
        class_names : ndarray of shape (10,), dtype str
            What each label means, in words: ``class_names[label]`` (or
            ``class_names[target]`` for every sample). Here the digit strings
            ``'0'`` to ``'9'``.
        feature_names : list of length 784
            ``'pixel_r_c'`` for row ``r`` and column ``c``, as in
            :func:`sklearn.datasets.load_digits`.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The ``data`` and ``target`` described above: two ndarrays, or a
        DataFrame and a Series if ``as_frame``.

    Raises
    ------
    FileNotFoundError
        If no data folder is given, or it, the dataset sub-folder or one of
        the needed IDX files does not exist.
    ValueError
        If an IDX file is malformed: wrong magic number, truncated or
        overlong data, images not 28x28, labels outside 0..9, or image and
        label counts that differ.
    ImportError
        If ``as_frame=True`` and pandas is not installed.

    See Also
    --------
    load_fashion_mnist : Load Fashion-MNIST, which has the same layout.

    Examples
    --------
    The examples need the data: ``mnist/`` under the folder given (or under
    ``$SKLEARN_BOXNN_DATA``).

    >>> from sklearn_boxnn.datasets import load_mnist
    >>> mnist = load_mnist("path/to/data", subset="test")  # doctest: +SKIP
    >>> mnist.data.shape, mnist.data.dtype  # doctest: +SKIP
    ((10000, 784), dtype('float32'))
    >>> mnist.target[:5], mnist.target_names  # doctest: +SKIP
    (array([7, 2, 1, 0, 4]), array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
    >>> X, y = load_mnist(subset="all", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y.shape  # doctest: +SKIP
    ((70000, 784), (70000,))

    With pandas:

    >>> X, y = load_mnist(subset="test", as_frame=True,
    ...                   return_X_y=True)  # doctest: +SKIP
    >>> type(X).__name__, X.columns[0], y.name, y.dtype  # doctest: +SKIP
    ('DataFrame', 'pixel_0_0', 'target', dtype('int64'))
    """
    return _load(
        "load_mnist",
        "mnist",
        "mnist.rst",
        _MNIST_CLASS_NAMES,
        data_home,
        dict(subset=subset, return_X_y=return_X_y, as_frame=as_frame, scaled=scaled),
    )


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def load_fashion_mnist(
    data_home=None, *, subset="train", return_X_y=False, as_frame=False, scaled=True
):
    """Load the Fashion-MNIST (Zalando) dataset from local IDX files.

    =================   ================
    Classes                           10
    Samples total                  70000
    Samples (train)                60000
    Samples (test)                 10000
    Dimensionality                   784
    Features            pixels in 0..255
    =================   ================

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding the ``mnist/`` and ``fashion-mnist/`` sub-folders. If
        None, the environment variable ``SKLEARN_BOXNN_DATA`` is used. Each
        sub-folder holds the four standard IDX files
        ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``;
        where a ``.gz`` file is absent, the same name without ``.gz``
        (uncompressed IDX) is read instead. Nothing is downloaded.

    subset : {'train', 'test', 'all'}, default='train'
        Which part to load: the 60,000 training images, the 10,000
        test images, or both (training images first).

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch object.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame with the columns
        ``feature_names``, ``target`` a pandas Series named ``'target'``, and
        ``frame`` a DataFrame with both (the 784 pixel columns, then
        ``'target'``), as in :func:`sklearn.datasets.load_digits`. Needs
        pandas, which is otherwise not required.

    scaled : bool, default=True
        If True, pixels are float32 in [0, 1] (raw value / 255). If False,
        pixels are the raw uint8 values in 0..255.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : {ndarray, DataFrame} of shape (n_samples, 784)
            Flattened images, row-major, float32 if ``scaled`` else uint8.
            A DataFrame with the columns ``feature_names`` if ``as_frame``.
        target : {ndarray, Series} of shape (n_samples,), dtype int64
            Class labels 0..9. A Series named ``'target'`` if ``as_frame``.
        frame : DataFrame of shape (n_samples, 785) or None
            ``data`` and ``target`` side by side if ``as_frame``, else None.
        images : ndarray of shape (n_samples, 28, 28)
            The images, always a numpy array; a view of the array ``data``
            is made from (not a copy).
        target_names : ndarray of shape (10,), dtype int64
            The label values ``0`` to ``9``, of the dtype of ``target``, as
            :func:`sklearn.datasets.load_digits` gives them: what
            ``np.unique(target)`` gives on the full dataset, and so the order
            of ``classes_`` of a classifier fitted on it.
        class_names : ndarray of shape (10,), dtype str
            What each label means, in words: ``class_names[label]`` (or
            ``class_names[target]`` for every sample). Here ``'T-shirt/top'``,
            ``'Trouser'``, ``'Pullover'``, ``'Dress'``, ``'Coat'``,
            ``'Sandal'``, ``'Shirt'``, ``'Sneaker'``, ``'Bag'``,
            ``'Ankle boot'``.
        feature_names : list of length 784
            ``'pixel_r_c'`` for row ``r`` and column ``c``, as in
            :func:`sklearn.datasets.load_digits`.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True
        The ``data`` and ``target`` described above: two ndarrays, or a
        DataFrame and a Series if ``as_frame``.

    Raises
    ------
    FileNotFoundError
        If no data folder is given, or it, the dataset sub-folder or one of
        the needed IDX files does not exist.
    ValueError
        If an IDX file is malformed: wrong magic number, truncated or
        overlong data, images not 28x28, labels outside 0..9, or image and
        label counts that differ.
    ImportError
        If ``as_frame=True`` and pandas is not installed.

    See Also
    --------
    load_mnist : Load MNIST, which has the same layout.

    Examples
    --------
    The examples need the data: ``fashion-mnist/`` under the folder given (or
    under ``$SKLEARN_BOXNN_DATA``).

    >>> from sklearn_boxnn.datasets import load_fashion_mnist
    >>> fashion = load_fashion_mnist("path/to/data")  # doctest: +SKIP
    >>> fashion.images.shape  # doctest: +SKIP
    (60000, 28, 28)
    >>> fashion.target[:3]  # doctest: +SKIP
    array([9, 0, 0])
    >>> fashion.class_names[fashion.target[:3]]  # doctest: +SKIP
    array(['Ankle boot', 'T-shirt/top', 'T-shirt/top'], dtype='<U11')

    With pandas, the names of a Series of labels:

    >>> y = load_fashion_mnist(as_frame=True).target  # doctest: +SKIP
    >>> y.map(dict(enumerate(fashion.class_names)))[:3].tolist()  # doctest: +SKIP
    ['Ankle boot', 'T-shirt/top', 'T-shirt/top']
    """
    return _load(
        "load_fashion_mnist",
        "fashion-mnist",
        "fashion_mnist.rst",
        _FASHION_CLASS_NAMES,
        data_home,
        dict(subset=subset, return_X_y=return_X_y, as_frame=as_frame, scaled=scaled),
    )
