"""Certified l0-robust nearest-box classifiers (Box-NN) for scikit-learn."""

from ._attack import sparse_attack
from ._certify import certified_radius
from ._classifier import BoxNNClassifier
from ._distances import l0_distances
from ._inspect import AdversarialExampleDisplay, BoxImagesDisplay, NearestBoxDisplay
from ._metrics import (
    certified_accuracy,
    certified_accuracy_curve,
    make_certified_scorer,
    median_certified_radius,
)
from ._plot import CertifiedAccuracyDisplay
from .peers import FeaturePartitionClassifier, RandomizedAblationClassifier
from ._validation import FeatureRangeWarning

__version__ = "0.1.0.dev0"

__all__ = [
    "AdversarialExampleDisplay",
    "BoxImagesDisplay",
    "BoxNNClassifier",
    "CertifiedAccuracyDisplay",
    "FeaturePartitionClassifier",
    "FeatureRangeWarning",
    "NearestBoxDisplay",
    "RandomizedAblationClassifier",
    "certified_accuracy",
    "certified_accuracy_curve",
    "certified_radius",
    "l0_distances",
    "make_certified_scorer",
    "median_certified_radius",
    "sparse_attack",
]
