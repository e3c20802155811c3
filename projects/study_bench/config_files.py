"""Config files by the path a bench table names them with.

A config of this repository is named relative to its root
(``configs/...``, ``projects/study_bench/configs/...``); one shipped inside
an installed OpenMMLab package by its package path
(``mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py``), which
mmengine resolves itself (:func:`mmengine.hub.get_config`, the resolution
its configs' ``_base_`` entries use).
"""
import os.path as osp

from mmengine.config import Config

#: The repository root (the folder above ``projects/``).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def repo_path(path: str) -> str:
    """``path`` if absolute, else the file of that name under the root."""
    return path if osp.isabs(path) else osp.join(REPO_ROOT, path)


def load_config(path: str) -> Config:
    """The config of a repository path or an installed package's path.

    Args:
        path (str): ``package::relative/path.py`` (resolved by mmengine),
            an absolute path, or a path relative to the repository root.

    Returns:
        Config: The parsed config.
    """
    if '::' in path:
        from mmengine.hub import get_config
        return get_config(path)
    return Config.fromfile(repo_path(path))
