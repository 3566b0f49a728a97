"""scikit-learn's estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_boxnn import BoxNNClassifier


# Small, fast settings: the checks fit dozens of times on tiny data.
@parametrize_with_checks([BoxNNClassifier(max_epochs=3, random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
