"""Fixtures shared by several test modules."""

import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_boxnn import BoxNNClassifier


@pytest.fixture(scope="session")
def digits():
    """Bundled digits scaled to [0, 1]: X_train, X_test, y_train, y_test."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="session")
def digits_model():
    """A quickly fitted model with 300 held-out samples: (clf, X, y)."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    clf = BoxNNClassifier(n_boxes=50, max_epochs=1, feature_range=(0, 1), random_state=0)
    return clf.fit(X[:600], y[:600]), X[600:900], y[600:900]
