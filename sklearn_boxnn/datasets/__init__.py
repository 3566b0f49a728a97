"""Loaders for MNIST and Fashion-MNIST from local IDX files."""

from ._mnist import load_fashion_mnist, load_mnist

__all__ = ["load_fashion_mnist", "load_mnist"]
