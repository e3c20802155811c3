"""mmcv's ``LoadImageFromFile`` plus what it lacks (docs/operations.md §3):
errors naming the file, a truncation check, a checked ``(H, W, 3)`` uint8
output, recorded skips."""
import threading
from typing import List, Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmpretrain.registry import TRANSFORMS

from ...arg_checks import check_choice, check_int, repr_fields

# ``(path, reason)`` of the files skipped in this process since the last
# ``pop_skipped_images()``; bounded so that a loader used without the
# collecting dataset wrapper cannot grow it without limit.
_SKIPPED: List[Tuple[str, str]] = []
_SKIPPED_LOCK = threading.Lock()
_MAX_RECORDS = 10000

# JPEG end-of-image marker, searched in the file's last bytes only (not an
# EXIF thumbnail's: docs/operations.md §3)
_JPEG_SOI = b'\xff\xd8'
_JPEG_EOI = b'\xff\xd9'
_JPEG_TAIL = 4096


class BadImageError(ValueError):
    """An image file that cannot be used; the message names the file."""


def pop_skipped_images() -> List[Tuple[str, str]]:
    """``(path, reason)`` of the files this process skipped since the last
    call, in skip order; the record is cleared."""
    with _SKIPPED_LOCK:
        records = list(_SKIPPED)
        _SKIPPED.clear()
    return records


def _record_skip(path: str, reason: str) -> None:
    with _SKIPPED_LOCK:
        if len(_SKIPPED) < _MAX_RECORDS:
            _SKIPPED.append((path, reason))


@TRANSFORMS.register_module()
class RobustLoadImageFromFile(LoadImageFromFile):
    """Load ``img_path`` as ``(H, W, 3)`` uint8 ``img`` (the decoder's
    channel order), or fail (or skip) naming it.

    Args:
        on_error (str): ``'raise'`` a :class:`BadImageError`, or ``'skip'``:
            record it for the train loop and return None (``BaseDataset``
            draws another sample). Defaults to ``'raise'``.
        min_size (int): Smallest accepted side in pixels. Defaults to 1.
        check_truncation (bool): Refuse JPEG files without an end marker in
            their last 4 KiB. Defaults to True.
        color_type (str): ``'color'`` (EXIF orientation applied) or
            ``'color_ignore_orientation'``. Defaults to ``'color'``.
        imdecode_backend (str): ``'cv2'`` (scales 16-bit images),
            ``'pillow'`` (clips them) or ``'turbojpeg'``. Defaults to
            ``'cv2'``.
        backend_args (dict, optional): File backend arguments. Defaults to
            None.
    """

    def __init__(self,
                 on_error: str = 'raise',
                 min_size: int = 1,
                 check_truncation: bool = True,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        name = 'RobustLoadImageFromFile: '
        check_choice(on_error, name + '`on_error`', ('raise', 'skip'))
        check_choice(color_type, name + '`color_type` (3-channel output)',
                     ('color', 'color_ignore_orientation'))
        check_int(min_size, name + '`min_size`')
        super().__init__(
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            backend_args=backend_args)
        self.on_error = on_error
        self.min_size = min_size
        self.check_truncation = check_truncation

    def load(self, path: str) -> np.ndarray:
        """One file (path or URI) as ``(H, W, 3)`` uint8, or a
        :class:`BadImageError` naming it and the reason."""
        try:
            data = fileio.get(path, backend_args=self.backend_args)
        except Exception as e:  # backends raise many types
            raise BadImageError(
                f'{path}: cannot read the file ({type(e).__name__}: {e})'
            ) from e
        if len(data) == 0:
            raise BadImageError(f'{path}: empty file (0 bytes)')
        if self.check_truncation and data[:2] == _JPEG_SOI and \
                _JPEG_EOI not in data[-_JPEG_TAIL:]:
            raise BadImageError(
                f'{path}: truncated JPEG ({len(data)} bytes, no end-of-image '
                'marker)')
        try:
            img = mmcv.imfrombytes(
                data, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:
            raise BadImageError(f'{path}: cannot decode the image '
                                f'({type(e).__name__}: {e})') from e
        if img is None:
            raise BadImageError(f'{path}: cannot decode the image (corrupt '
                                'file or not an image format the '
                                f'{self.imdecode_backend} decoder reads)')
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise BadImageError(f'{path}: decoded to {img.dtype} of shape '
                                f'{img.shape}, not (H, W, 3) uint8')
        if min(img.shape[:2]) < self.min_size:
            raise BadImageError(
                f'{path}: image of {img.shape[1]}x{img.shape[0]} pixels is '
                f'smaller than min_size={self.min_size}')
        return img

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``; None for a skipped bad file."""
        path = results['img_path']
        try:
            img = self.load(path)
        except BadImageError as e:
            if self.on_error == 'raise':
                raise
            _record_skip(str(path), str(e))
            return None
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return repr_fields(self, 'on_error', 'min_size', 'check_truncation',
                           'color_type', 'imdecode_backend', 'backend_args')
