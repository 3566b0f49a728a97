"""Demo: train Box-NN on scikit-learn's bundled digits and certify the test set.

Run with ``python -m sklearn_boxnn`` (or the ``sklearn-boxnn-demo`` script).
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from . import BoxNNClassifier, __version__


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_boxnn",
        description="Fit Box-NN on the bundled digits (8x8 images scaled to [0, 1]) "
        "and report clean and certified accuracy on a held-out test set.",
    )
    parser.add_argument("--n-boxes", type=int, default=300)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixels are 0..16
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.random_state
    )
    print(
        f"sklearn-boxnn {__version__}: digits, {X_train.shape[0]} training and "
        f"{X_test.shape[0]} test images of {X.shape[1]} pixels"
    )
    clf = BoxNNClassifier(
        n_boxes=args.n_boxes,
        max_epochs=args.max_epochs,
        feature_range=(0, 1),
        device=args.device,
        random_state=args.random_state,
        verbose=1,
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_time = time.perf_counter() - start

    start = time.perf_counter()
    correct = clf.predict(X_test) == y_test
    radius = clf.certify(X_test)
    certify_time = time.perf_counter() - start

    print(f"\nfit time {fit_time:.1f}s, predict + certify {certify_time:.2f}s")
    print(f"test accuracy {correct.mean():.3f}")
    print("certified accuracy (correct and certified radius >= r):")
    for r in (0, 1, 2, 3, 4, 5, 6, 8):
        print(f"  r = {r:>2}: {np.mean(correct & (radius >= r)):.3f}")
    certified = np.where(correct, radius, -1)
    median = int(np.sort(certified)[::-1][(len(certified) - 1) // 2])
    print(f"median certified radius: {median} of {X.shape[1]} pixels")


if __name__ == "__main__":
    main()
