"""Compare the certificate methods with each other, with the attack and with predict.

    python benchmarks/certificates.py --dataset digits
    python benchmarks/certificates.py --dataset mnist --model mnist.skops

For every method: the median certified radius, the share of test samples where
it beats the paper's margin bound, the share where the attack needs exactly
radius + 1 changes (so the radius is exact), and its time relative to
``predict``. Writes ``benchmarks/results/certificates-<dataset>.json``. Without
``--model`` it fits the estimator's default recipe (MNIST: on the 60,000
training images, which takes a few minutes).

``--model`` takes a file written by ``skops.io.dump``, such as the
``--model-out`` file of ``certified_radius.py``. It is loaded only if every
type it asks skops to build is a Box-NN model or a numpy value
(``ALLOWED_TYPES``); anything else, a pickle or joblib file included, is
refused before anything in it is built (docs/sharing.rst).
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_boxnn import BoxNNClassifier, median_certified_radius, sparse_attack
from sklearn_boxnn.datasets import load_mnist

RESULTS = Path(__file__).parent / "results"
METHODS = ("margin", "pairwise", "lagrangian", "exact")

# Types a Box-NN model file may ask skops to build. skops trusts numpy values
# by default; older versions list some of them, so they are allowed by name.
# Nothing else is: a file asking for any other type is not loaded.
_NUMPY_VALUE_TYPES = (
    "ndarray", "dtype", "bool", "bool_", "str_", "bytes_", "object_",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "longdouble",
)
ALLOWED_TYPES = frozenset(
    ["sklearn_boxnn._classifier.BoxNNClassifier"]
    + [f"numpy.{name}" for name in _NUMPY_VALUE_TYPES]
    + [
        "numpy.random.mtrand.RandomState",
        "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
    ]
)


def load_model(path):
    """Load a Box-NN model saved with ``skops.io.dump``, trusting only ALLOWED_TYPES.

    Raises SystemExit, naming the types, for a file that needs any other type
    or is not a skops file.
    """
    import zipfile

    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except zipfile.BadZipFile:
        raise SystemExit(
            f"{path} is not a skops file. Models are loaded with skops only: "
            "loading a pickle or joblib file runs whatever code it names. Save "
            "the model with skops.io.dump (certified_radius.py --model-out "
            "does), see docs/sharing.rst."
        ) from None
    unexpected = sorted(set(untrusted) - ALLOWED_TYPES)
    if unexpected:
        raise SystemExit(
            f"Refusing to load {path}: it asks skops to build {unexpected}, "
            "which a Box-NN model does not need (allowed: BoxNNClassifier and "
            "numpy values). Do not load it; see docs/sharing.rst."
        )
    from sklearn_boxnn import BoxNNClassifier

    clf = sio.load(path, trusted=untrusted)
    if not isinstance(clf, BoxNNClassifier):
        raise SystemExit(
            f"{path} holds a {type(clf).__name__}, not a BoxNNClassifier."
        )
    return clf


def load(dataset, data_home):
    if dataset == "digits":
        X, y = load_digits(return_X_y=True)
        return train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    X_train, y_train = load_mnist(data_home, subset="train", return_X_y=True)
    X_test, y_test = load_mnist(data_home, subset="test", return_X_y=True)
    return X_train, X_test, y_train, y_test


def timed(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--model", default=None,
                        help="a fitted model saved with skops.io.dump (.skops); "
                             "pickle and joblib files are refused")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-test", type=int, default=2000,
                        help="test samples certified by every method (MNIST)")
    parser.add_argument("--exact-samples", type=int, default=200,
                        help="samples given to the 'exact' method")
    parser.add_argument("--time-limit", type=float, default=10.0,
                        help="seconds of solver time per sample for 'exact'")
    args = parser.parse_args(argv)

    X_train, X_test, y_train, y_test = load(args.dataset, args.data_home)
    if args.model:
        clf = load_model(args.model)
    else:
        params = {"n_boxes": 300, "max_epochs": 30} if args.dataset == "digits" else {}
        clf = BoxNNClassifier(feature_range=(0, 1), random_state=0, verbose=1, **params)
        clf.fit(X_train, y_train)
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]

    y_pred, predict_time = timed(lambda: clf.predict(X_test))
    attack, attack_time = timed(lambda: sparse_attack(clf, X_test), repeat=1)
    attack_radius = np.where(attack.success, attack.n_changed - 1, X_test.shape[1])
    result = {
        "dataset": args.dataset,
        "n_test": int(len(X_test)),
        "n_boxes": int(len(clf.box_labels_)),
        "clean_accuracy": float(np.mean(y_pred == y_test)),
        "predict_time_s": predict_time,
        "attack": {
            "time_s": attack_time,
            "median_radius": median_certified_radius(y_test, y_pred, attack_radius),
            "success_rate": float(attack.success.mean()),
        },
        "machine": platform.platform(),
        "methods": {},
    }
    margin = None
    for method in METHODS:
        rows = slice(None) if method != "exact" else slice(0, args.exact_samples)
        kwargs = {"time_limit": args.time_limit} if method == "exact" else {}
        radius, elapsed = timed(
            lambda: clf.certify(X_test[rows], method=method, **kwargs),
            repeat=1 if method == "exact" else 3,
        )
        if margin is None:
            margin = radius
        assert np.all(attack_radius[rows] >= radius), "an attack beat a certificate"
        result["methods"][method] = {
            "n_samples": int(len(radius)),
            "median_certified_radius": median_certified_radius(y_test[rows], y_pred[rows], radius),
            "share_beats_margin": float(np.mean(radius > margin[rows])),
            "share_attack_meets_certificate": float(
                np.mean(attack.success[rows] & (attack.n_changed[rows] == radius + 1))
            ),
            "time_s": elapsed,
            "time_vs_predict": elapsed / predict_time * len(X_test) / len(radius),
        }
        m = result["methods"][method]
        print(f"{method:>10}: median {m['median_certified_radius']:>3}, beats margin on "
              f"{m['share_beats_margin']:.1%}, attack = R + 1 on "
              f"{m['share_attack_meets_certificate']:.1%}, {m['time_vs_predict']:.1f}x predict "
              f"({m['n_samples']} samples)", flush=True)
    print(f"attack: median radius {result['attack']['median_radius']}, "
          f"{attack_time:.1f}s for {len(X_test)} samples")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"certificates-{args.dataset}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
