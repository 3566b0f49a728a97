"""scikit-learn's estimator checks."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from sklearn_boxnn import BoxNNClassifier


# Small, fast settings: the checks fit dozens of times on tiny data.
@parametrize_with_checks([BoxNNClassifier(max_epochs=3, random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_feature_names_are_checked_by_partial_fit_too():
    # Not among the checks above in every scikit-learn release; it also calls
    # partial_fit with misnamed columns.
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(
        "BoxNNClassifier", BoxNNClassifier(max_epochs=3, random_state=0)
    )
