"""Sizes of SiameseIM's parts: derived, checked, and held against the data
(docs/operations.md §5); every error names the two options that disagree
and their values."""
import copy
from typing import Sequence

from mmpretrain.registry import MODELS

from ..utils.colour_params import COLOUR_PARAMS_KEY


def build_parts(backbone, neck, head, target_type: str) -> tuple:
    """Build backbone, projector and predictor (in ``BaseSelfSupervisor``'s
    order); sizes a config leaves out (absent or None) come from the part
    before: ``neck.in_channels`` and ``neck.embed_dims`` = the backbone
    width, ``head.embed_dims`` = the projector width, ``head.grid_size`` =
    the patch grid side, pixel targets' ``head.out_channels`` =
    ``patch_size**2 * 3``."""

    def unset(cfg, key):
        return cfg.get(key) is None

    if isinstance(backbone, dict):
        backbone = MODELS.build(backbone)
    if isinstance(neck, dict):
        neck = copy.deepcopy(neck)
        if unset(neck, 'in_channels'):
            neck['in_channels'] = backbone.embed_dims
        if unset(neck, 'embed_dims'):
            neck['embed_dims'] = neck['in_channels']
        neck = MODELS.build(neck)
    if isinstance(head, dict):
        head = copy.deepcopy(head)
        if unset(head, 'embed_dims'):
            head['embed_dims'] = neck.proj.out_features
        grid = tuple(backbone.patch_resolution)
        if unset(head, 'grid_size') and grid[0] == grid[1]:
            head['grid_size'] = grid[0]
        if unset(head, 'out_channels') and target_type == 'pixel':
            patch = backbone.patch_embed.projection.kernel_size[0]
            head['out_channels'] = patch**2 * 3
        head = MODELS.build(head)
    return backbone, neck, head


def check_part_sizes(model) -> None:
    """Raise a ``ValueError`` unless the backbone, projector and predictor
    sizes of a ``SiameseIM`` being built agree."""
    bb, neck, head = model.backbone, model.neck, model.head
    grid = tuple(bb.patch_resolution)
    patch = bb.patch_embed.projection.kernel_size[0]
    if (head.grid_size, head.grid_size) != grid:
        raise ValueError(
            f'SiameseIM: head.grid_size={head.grid_size} disagrees with '
            f'the backbone patch grid {grid[0]}x{grid[1]} '
            f'(backbone.img_size={bb.img_size[0]}, '
            f'backbone.patch_size={patch})')
    if neck.proj.in_features != bb.embed_dims:
        raise ValueError(
            f'SiameseIM: neck.in_channels={neck.proj.in_features} '
            f'disagrees with the backbone width '
            f'(backbone embed_dims={bb.embed_dims})')
    if head.embed_dims != neck.proj.out_features:
        raise ValueError(
            f'SiameseIM: head.embed_dims={head.embed_dims} disagrees '
            f'with neck.embed_dims={neck.proj.out_features}')
    want, what = ((patch**2 * 3, f'patch_size**2 * 3 = {patch}**2 * 3 '
                   'pixel values per patch')
                  if model.target_type == 'pixel' else
                  (neck.proj.out_features,
                   f'neck.embed_dims={neck.proj.out_features}, the '
                   'width of the EMA target features'))
    if head.out_proj.out_features != want:
        raise ValueError(
            f'SiameseIM: head.out_channels={head.out_proj.out_features} '
            f'disagrees with {what} (target_type='
            f'{model.target_type!r})')


def check_data_pipeline(model, transforms: Sequence) -> None:
    """Check the built training ``transforms`` against the model's sizes
    (the train loop calls it before any step): views of
    ``backbone.img_size``, a mask on the patch grid with a visible patch
    (and ``num_masked`` if fixed), ``rel_pos`` packed, and on the device
    colour route :func:`check_device_colour`; a ``ValueError`` otherwise."""
    bb = model.backbone
    grid = tuple(bb.patch_resolution)
    names = [type(t).__name__ for t in transforms]
    views = [t for t in transforms if hasattr(t, 'sample_view_params')]
    if not views:
        raise ValueError(
            'SiameseIM: the training pipeline has no SiameseIMViews '
            f'(two views with their crop geometry); it has {names}')
    for t in views:
        if (t.img_size, t.img_size) != tuple(bb.img_size):
            raise ValueError(
                f'SiameseIM: {type(t).__name__}.img_size={t.img_size} '
                f'disagrees with backbone.img_size={bb.img_size[0]}')
    masks = [
        t for t in transforms
        if hasattr(t, 'num_masking_patches') and hasattr(t, 'height')
    ]
    if not masks:
        raise ValueError('SiameseIM: the training pipeline has no mask '
                         f'generator; it has {names}')
    for t in masks:
        owner = type(t).__name__
        if (t.height, t.width) != grid:
            raise ValueError(
                f'SiameseIM: {owner}.input_size=({t.height}, {t.width}) '
                f'disagrees with the backbone patch grid {grid} '
                f'(backbone.img_size={bb.img_size[0]} / patch_size='
                f'{bb.patch_embed.projection.kernel_size[0]})')
        if t.num_masking_patches >= bb.num_patches:
            raise ValueError(
                f'SiameseIM: {owner}.num_masking_patches='
                f'{t.num_masking_patches} leaves no visible patch of the '
                f'{bb.num_patches} patches of the backbone grid')
        if (bb.num_masked is not None
                and t.num_masking_patches != bb.num_masked):
            raise ValueError(
                f'SiameseIM: {owner}.num_masking_patches='
                f'{t.num_masking_patches} disagrees with '
                f'backbone.num_masked={bb.num_masked}')
    packs = [t for t in transforms if hasattr(t, 'algorithm_keys')]
    if not any('rel_pos' in t.algorithm_keys for t in packs):
        raise ValueError(
            "SiameseIM: the pipeline must end with PackInputs("
            "algorithm_keys=['rel_pos']) so that the crop geometry "
            f'reaches the model; it has {names}')
    for t in views:
        if getattr(t, 'colour_on', 'worker') == 'device':
            check_device_colour(model, t, packs)


def check_device_colour(model, views, packs: Sequence) -> None:
    """A device colour route (``views``) needs its records packed by one of
    ``packs`` and a data preprocessor that applies them to RGB images."""
    key = COLOUR_PARAMS_KEY
    if not any(key in t.algorithm_keys for t in packs):
        keys = [list(t.algorithm_keys) for t in packs]
        raise ValueError(
            "SiameseIM: SiameseIMViews(colour_on='device') draws the colour "
            f"parameters into `{key}`, but PackInputs(algorithm_keys="
            f'{keys[0] if len(keys) == 1 else keys}) does not pack them: '
            f"add '{key}' so that they reach the data preprocessor")
    prep = model.data_preprocessor
    if not getattr(prep, 'applies_colour_params', False):
        raise ValueError(
            "SiameseIM: SiameseIMViews(colour_on='device') leaves the colour "
            'ops to the data preprocessor, but model.data_preprocessor is '
            f'{type(prep).__name__}, which cannot apply them: use '
            "type='SiameseIMDataPreprocessor' (or colour_on='worker')")
    swaps = bool(getattr(prep, '_channel_conversion', False))
    if swaps != (views.channel_order == 'bgr'):
        raise ValueError(
            "SiameseIM: SiameseIMViews(colour_on='device', channel_order="
            f"{views.channel_order!r}) needs model.data_preprocessor to "
            f"{'swap' if not swaps else 'keep'} the channels (to_rgb="
            f'{not swaps}) so that the colour ops see RGB; it has '
            f'to_rgb={swaps}')
