"""Peer l0 defences as scikit-learn meta-estimators, certified like Box-NN.

- :class:`FeaturePartitionClassifier`: feature partition aggregation
  (Hammoudeh & Lowd, 2023), a deterministic certificate from a vote gap.
- :class:`RandomizedAblationClassifier`: randomized ablation (Levine & Feizi,
  AAAI 2020), a certificate that holds with probability ``1 - alpha``.

Both have ``certify(X)`` returning an integer radius per sample, so the
library's metrics, scorer and Displays work on them.
"""

from ._feature_partition import FeaturePartitionClassifier
from ._randomized_ablation import RandomizedAblationClassifier

__all__ = ["FeaturePartitionClassifier", "RandomizedAblationClassifier"]
