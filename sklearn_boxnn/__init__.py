"""Certified l0-robust nearest-box classifiers (Box-NN) for scikit-learn."""

from ._certify import certified_radius
from ._classifier import BoxNNClassifier
from ._distances import l0_distances

__version__ = "0.1.0.dev0"

__all__ = ["BoxNNClassifier", "certified_radius", "l0_distances"]
