"""Merge a sizes file (e.g. the tiny test size) over a config."""
import copy
import os.path as osp

from mmengine.config import Config, ConfigDict

SIZES_DIR = osp.join(
    osp.dirname(osp.abspath(__file__)), 'configs', '_base_', 'sizes')
#: The test and smoke-run sizes of every model config.
TINY_SIZES = osp.join(SIZES_DIR, 'tiny.py')
#: The CPU demo's encoder for mmpretrain's MAE and MoCo v3.
MINI_SIZES = osp.join(SIZES_DIR, 'mini.py')


def apply_sizes(cfg: Config,
                sizes_path: str,
                model_key: str = 'model') -> Config:
    """Resize ``cfg`` to the sizes of ``sizes_path``, in place.

    The sizes file holds ``model`` (merged into ``cfg.model`` as a child
    config would: ``_delete_`` replaces) and ``transforms`` (type name ->
    options, set on every transform of that type in
    ``cfg.train_dataloader.dataset.pipeline``, nested view pipelines
    included). Whatever the file does not name stays the config's own; the
    sizes SiameseIM derives (projector / predictor widths, grid, pixel
    output width) follow the resized encoder.

    Args:
        cfg (Config): A SiameseIM training config.
        sizes_path (str): The sizes file, e.g. :data:`TINY_SIZES`.
        model_key (str): The entry of the sizes file merged into
            ``cfg.model`` (the tiny file also holds ``'mae_model'`` and
            ``'mocov3_model'`` for mmpretrain's MAE and MoCo v3). Defaults
            to ``'model'``.

    Returns:
        Config: ``cfg``.
    """
    sizes = Config.fromfile(sizes_path)
    merged = Config._merge_a_into_b(
        copy.deepcopy(sizes[model_key].to_dict()), cfg.model.to_dict())
    cfg.model = ConfigDict(merged)
    updates = sizes.get('transforms', {})

    def resize(transform):
        if isinstance(transform, (list, tuple)):
            for t in transform:
                resize(t)
        elif isinstance(transform, dict):
            transform.update(updates.get(transform.get('type'), {}))
            for value in transform.values():
                if isinstance(value, (list, tuple, dict)):
                    resize(value)

    if 'train_dataloader' in cfg:
        resize(cfg.train_dataloader.dataset.get('pipeline', []))
    return cfg
