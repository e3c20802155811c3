"""What every offline probe shares: its inputs (:class:`ProbeRun`), the
device, the frozen encoder they name, the pooled Fashion-MNIST features
(through the plugin's one feature extractor,
:func:`mmsiameseim.evaluation.extract_features`) and the JSON record."""
import dataclasses
import sys
from typing import Optional, Tuple

import torch
from torch import Tensor

from .frozen_encoder import FrozenEncoder, build_frozen_encoder


@dataclasses.dataclass
class ProbeRun:
    """The inputs of one probe: a frozen encoder and the images it sees.

    Attributes:
        config (str): The pretraining config (its ``model.backbone`` and
            data preprocessor are built).
        checkpoint (str): Its checkpoint, or ``'none'`` (random init).
        data_root (str): Fashion-MNIST folder.
        device (str, optional): ``'cpu'`` or ``'cuda'``; None: CUDA when
            available.
        train_size (int, optional): Train images (scenes) used; None: the
            probe's default.
        test_size (int, optional): Test images (scenes) used; None: the
            probe's default.
        img_size (int, optional): Input size; None: the backbone's.
        pool (str): ``'avg'`` (mean of the patch tokens) or ``'cls'``.
        batch_size (int): Images per forward when encoding.
        seed (int): Seed of the random init and of the probe's training.
        trusted_checkpoint (bool): Read the checkpoint with full pickle.
        out (str, optional): ``.jsonl`` file the record is appended to.
    """
    config: str
    checkpoint: str
    data_root: str = 'data/fashion-mnist'
    device: Optional[str] = None
    train_size: Optional[int] = None
    test_size: Optional[int] = None
    img_size: Optional[int] = None
    pool: str = 'avg'
    batch_size: int = 256
    seed: int = 0
    trusted_checkpoint: bool = False
    out: Optional[str] = None


def resolve_device(device: Optional[str]) -> str:
    """``device`` or, if None, ``'cuda'`` when available else ``'cpu'``."""
    if device is None:
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError('--device cuda requested but CUDA is unavailable')
    return device


def run_encoder(run: ProbeRun, device: str) -> tuple:
    """The frozen encoder ``run`` names, and its input size.

    Returns:
        tuple: ``(encoder, info, img_size)``.
    """
    encoder, info = build_frozen_encoder(
        run.config,
        run.checkpoint,
        device=device,
        seed=run.seed,
        trusted=run.trusted_checkpoint)
    return encoder, info, run.img_size or info['img_size'] or 32


def split_features(encoder: FrozenEncoder, run: ProbeRun, split: str,
                   size: Optional[int],
                   img_size: int) -> Tuple[Tensor, Tensor]:
    """Pooled features and labels of the first ``size`` images of a split.

    The images go through the demo's evaluation pipeline
    (``Resize(img_size, bicubic)``, ``GrayToRGB``, ``PackInputs``), then
    :func:`mmsiameseim.evaluation.extract_features` (the encoder's data
    preprocessor, its backbone's tokens, ``run.pool``).

    Args:
        encoder (FrozenEncoder): The frozen encoder.
        run (ProbeRun): The probe's inputs.
        split (str): ``'train'`` or ``'test'``.
        size (int, optional): Number of images; None: all.
        img_size (int): Input side length.

    Returns:
        tuple[Tensor, Tensor]: ``(N, C)`` float32 features and ``(N, )``
        labels on CPU.
    """
    from mmengine.dataset import default_collate
    from mmpretrain.datasets import FashionMNIST
    from torch.utils.data import DataLoader

    from mmsiameseim.evaluation import extract_features
    dataset = FashionMNIST(
        data_root=run.data_root,
        split=split,
        test_mode=split == 'test',  # else the test split reads train images
        download=False,
        indices=size,
        pipeline=[
            dict(type='Resize', scale=(img_size, img_size),
                 interpolation='bicubic'),
            dict(type='GrayToRGB'),
            dict(type='PackInputs'),
        ])
    loader = DataLoader(dataset, batch_size=run.batch_size, shuffle=False,
                        collate_fn=default_collate)
    print(f'encoding {len(dataset)} {split} images', file=sys.stderr)
    return extract_features(encoder, with_progress(loader), pool=run.pool)


def with_progress(loader):
    """The batches of ``loader`` with mmengine's progress bar (images done,
    ETA) on stderr, for the bench's long feature extractions."""
    from mmengine.utils import ProgressBar
    bar = ProgressBar(len(loader.dataset), file=sys.stderr)
    for data in loader:
        yield data
        bar.update(len(data['data_samples']))
    sys.stderr.write('\n')


def base_record(tool: str, run: ProbeRun, info: dict, **fields) -> dict:
    """The fields every probe's record starts with, then ``fields``."""
    record = dict(
        tool=tool,
        config=run.config,
        checkpoint=run.checkpoint,
        backbone=info.get('backbone'),
        checkpoint_loaded=info.get('checkpoint_loaded'))
    record.update(fields)
    return record
