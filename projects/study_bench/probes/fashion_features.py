"""Pooled features of the Fashion-MNIST splits, as the offline tools read
them: ``Resize(img_size, bicubic)`` and ``PackInputs`` (the demo's evaluation
pipeline), the encoder's data preprocessor, the backbone, its pooling.
"""
from typing import Optional, Tuple

from torch import Tensor

from .frozen_encoder import FrozenEncoder, encode_dataset


def extract_split_features(encoder: FrozenEncoder,
                           data_root: str,
                           split: str,
                           size: Optional[int],
                           img_size: int,
                           batch_size: int = 256,
                           num_workers: int = 0) -> Tuple[Tensor, Tensor]:
    """Pooled features and labels of the first ``size`` images of a split.

    Images go through ``Resize(img_size, bicubic)`` and ``PackInputs`` (the
    demo's evaluation pipeline), then :func:`~.frozen_encoder.
    encode_dataset`.

    Args:
        encoder (FrozenEncoder): The frozen encoder.
        data_root (str): Fashion-MNIST folder.
        split (str): ``'train'`` or ``'test'``.
        size (int, optional): Number of images (the first ones of the
            split). None means all.
        img_size (int): Input side length.
        batch_size (int): Defaults to 256.
        num_workers (int): Dataloader workers. Defaults to 0.

    Returns:
        tuple[Tensor, Tensor]: ``(N, C)`` float32 features and ``(N, )``
        labels on CPU.
    """
    from mmpretrain.datasets import FashionMNIST

    pipeline = [
        dict(
            type='Resize',
            scale=(img_size, img_size),
            interpolation='bicubic'),
        dict(type='GrayToRGB'),
        dict(type='PackInputs'),
    ]
    dataset = FashionMNIST(
        data_root=data_root,
        split=split,
        test_mode=split == 'test',
        download=False,
        indices=size,
        pipeline=pipeline)
    return encode_dataset(encoder, dataset, batch_size, num_workers)
