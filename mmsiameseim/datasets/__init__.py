"""Datasets and transforms, registered into mmpretrain's registries."""
from . import transforms  # noqa: F401
from .fashion_mnist import FASHION_MNIST_CLASSES, FashionMNISTIDX
from .fashion_scenes import (SCENE_CLASSES, FashionMNISTScenes,
                             generate_scenes, make_split_scenes, write_scenes)
from .imagenet_variants import ImageNetC, ImageNetWnidFolder
from .sample_seeded_dataset import (SampleLoadError, SampleSeededDataset,
                                    seeded_rngs)
from .samplers import ResumableSampler, sample_seeds
from .transforms.loading import (BadImageError, RobustLoadImageFromFile,
                                 pop_skipped_images)

__all__ = [
    'FashionMNISTIDX', 'FASHION_MNIST_CLASSES', 'FashionMNISTScenes',
    'SCENE_CLASSES', 'generate_scenes', 'make_split_scenes', 'write_scenes',
    'ImageNetWnidFolder', 'ImageNetC',
    'SampleLoadError', 'SampleSeededDataset', 'seeded_rngs',
    'ResumableSampler', 'sample_seeds', 'BadImageError',
    'RobustLoadImageFromFile', 'pop_skipped_images'
]
