"""Datasets and transforms, registered into mmpretrain's registries."""
from . import transforms  # noqa: F401
from .imagenet_classes import (IMAGENET_A_WNIDS, IMAGENET_C_CORRUPTIONS,
                               IMAGENET_R_WNIDS, IMAGENET_WNIDS,
                               class_subset_indices, load_wnids)
from .imagenet_subset import ImageNetSubsetList, read_subset_list
from .imagenet_variants import ImageNetC, ImageNetWnidFolder
from .sample_seeded_dataset import (SampleLoadError, SampleSeededDataset,
                                    seeded_rngs)
from .samplers import ResumableSampler, sample_seeds
from .transforms.loading import (BadImageError, RobustLoadImageFromFile,
                                 pop_skipped_images)

__all__ = [
    'IMAGENET_A_WNIDS', 'IMAGENET_C_CORRUPTIONS', 'IMAGENET_R_WNIDS',
    'IMAGENET_WNIDS', 'class_subset_indices', 'load_wnids',
    'ImageNetSubsetList', 'read_subset_list',
    'ImageNetWnidFolder', 'ImageNetC', 'SampleLoadError',
    'SampleSeededDataset', 'seeded_rngs', 'ResumableSampler', 'sample_seeds',
    'BadImageError', 'RobustLoadImageFromFile', 'pop_skipped_images'
]
