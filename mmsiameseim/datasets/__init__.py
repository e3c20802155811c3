"""Datasets and transforms, registered into mmpretrain's registries."""
from . import transforms  # noqa: F401
from .fashion_mnist import FASHION_MNIST_CLASSES, FashionMNISTIDX

__all__ = ['FashionMNISTIDX', 'FASHION_MNIST_CLASSES']
