"""Image loading that either gives a 3-channel uint8 image or names the file.

:class:`RobustLoadImageFromFile` is mmcv's ``LoadImageFromFile`` (same file
backends, same decoders, same output) with what a days-long pretraining run
on a folder of images from the wild needs and mmcv 2.1's loader lacks:

* every failure is a :class:`BadImageError` whose message names the file and
  the reason. mmcv's loader re-raises the decoder's own error for an empty
  file (OpenCV's ``!buf.empty()`` assertion, no file name; measured with
  mmcv 2.1 / OpenCV 5.0) and checks a failed decode with an ``assert``
  (gone under ``python -O``);
* a JPEG without its end-of-image marker (a truncated file) is refused by a
  check of its own, so that the result does not depend on the decoder:
  OpenCV 5.0 returns no image for it, but libjpeg reports a premature end
  of data only as a warning, and decoders that pass such output on (e.g.
  Pillow with ``ImageFile.LOAD_TRUNCATED_IMAGES``) give a grey-padded
  image;
* the output is checked to be ``(H, W, 3)`` uint8 of at least ``min_size``
  pixels per side, whatever the file held (greyscale, RGBA, palette, CMYK,
  16-bit: OpenCV's colour decoding converts all of them);
* ``on_error='skip'`` drops a bad file *and records it*: mmcv's
  ``ignore_empty=True`` returns ``None`` for any error without saying which
  file, so a run would silently train on fewer images. The records are
  collected by :class:`~mmsiameseim.datasets.SampleSeededDataset` and
  logged by the train loop (each file once, a count per epoch).
"""
import threading
from typing import List, Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmpretrain.registry import TRANSFORMS

# ``(path, reason)`` of the files skipped in this process since the last
# ``pop_skipped_images()``; bounded so that a loader used without the
# collecting dataset wrapper cannot grow it without limit.
_SKIPPED: List[Tuple[str, str]] = []
_SKIPPED_LOCK = threading.Lock()
_MAX_RECORDS = 10000

# JPEG end-of-image marker; searched in the last bytes of the file only, so
# that the end marker of an embedded EXIF thumbnail near the start of a
# truncated file does not count.
_JPEG_SOI = b'\xff\xd8'
_JPEG_EOI = b'\xff\xd9'
_JPEG_TAIL = 4096


class BadImageError(ValueError):
    """An image file that cannot be used; the message names the file."""


def pop_skipped_images() -> List[Tuple[str, str]]:
    """The files this process skipped since the last call, and clear them.

    Returns:
        list[tuple[str, str]]: ``(path, reason)`` pairs in skip order.
    """
    with _SKIPPED_LOCK:
        records = list(_SKIPPED)
        _SKIPPED.clear()
    return records


def _record_skip(path: str, reason: str) -> None:
    with _SKIPPED_LOCK:
        if len(_SKIPPED) < _MAX_RECORDS:
            _SKIPPED.append((path, reason))


def check_image_bytes(data: bytes, path: str) -> None:
    """Refuse empty files and JPEG files without their end marker.

    Args:
        data (bytes): The file's bytes.
        path (str): The file, for the message.

    Raises:
        BadImageError: Naming ``path``.
    """
    if len(data) == 0:
        raise BadImageError(f'{path}: empty file (0 bytes)')
    if data[:2] == _JPEG_SOI and _JPEG_EOI not in data[-_JPEG_TAIL:]:
        raise BadImageError(
            f'{path}: truncated JPEG ({len(data)} bytes, no end-of-image '
            'marker)')


@TRANSFORMS.register_module()
class RobustLoadImageFromFile(LoadImageFromFile):
    """Load an image as ``(H, W, 3)`` uint8, or fail (or skip) naming it.

    A drop-in replacement of ``LoadImageFromFile`` for training pipelines
    (see the module docstring for what it adds and why).

    **Required Keys**: ``img_path``.

    **Modified Keys**: ``img`` (``(H, W, 3)`` uint8, channel order of the
    decoder: BGR for ``'cv2'``, as mmcv's loader), ``img_shape``,
    ``ori_shape``.

    Args:
        on_error (str): ``'raise'`` a :class:`BadImageError` naming the file,
            or ``'skip'`` it: record ``(path, reason)`` for the train loop's
            report and return None, so that mmengine's ``BaseDataset``
            draws another sample (up to its ``max_refetch`` times). Defaults
            to ``'raise'``.
        min_size (int): Smallest accepted height and width in pixels.
            Smaller images are bad images. Defaults to 1 (any image; crops
            of images smaller than the crop are upsampled by the views
            transform).
        check_truncation (bool): Refuse JPEG files without an end-of-image
            marker in their last 4 KiB. Defaults to True.
        color_type (str): ``'color'`` or ``'color_ignore_orientation'``
            (OpenCV's flags; both give 3 channels). ``'color'`` applies the
            EXIF orientation, as mmcv does. Defaults to ``'color'``.
        imdecode_backend (str): mmcv decoder, ``'cv2'``, ``'pillow'`` or
            ``'turbojpeg'``. Only ``'cv2'`` converts 16-bit images by
            scaling; Pillow clips them. Defaults to ``'cv2'``.
        backend_args (dict, optional): mmengine file backend arguments.
            Defaults to None.
    """

    def __init__(self,
                 on_error: str = 'raise',
                 min_size: int = 1,
                 check_truncation: bool = True,
                 color_type: str = 'color',
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if on_error not in ('raise', 'skip'):
            raise ValueError("RobustLoadImageFromFile: `on_error` must be "
                             f"'raise' or 'skip', got {on_error!r}")
        if color_type not in ('color', 'color_ignore_orientation'):
            raise ValueError(
                "RobustLoadImageFromFile: `color_type` must be 'color' or "
                "'color_ignore_orientation' (3-channel output), got "
                f'{color_type!r}')
        if (not isinstance(min_size, int) or isinstance(min_size, bool)
                or min_size < 1):
            raise ValueError('RobustLoadImageFromFile: `min_size` must be a '
                             f'positive int, got {min_size!r}')
        super().__init__(
            color_type=color_type,
            imdecode_backend=imdecode_backend,
            backend_args=backend_args)
        self.on_error = on_error
        self.min_size = min_size
        self.check_truncation = check_truncation

    def load(self, path: str) -> np.ndarray:
        """Read and decode one file.

        Args:
            path (str): Path or URI of the image.

        Returns:
            np.ndarray: ``(H, W, 3)`` uint8 image.

        Raises:
            BadImageError: Naming ``path`` and the reason.
        """
        try:
            data = fileio.get(path, backend_args=self.backend_args)
        except Exception as e:  # backends raise many types
            raise BadImageError(
                f'{path}: cannot read the file ({type(e).__name__}: {e})'
            ) from e
        if self.check_truncation:
            check_image_bytes(data, path)
        elif len(data) == 0:
            raise BadImageError(f'{path}: empty file (0 bytes)')
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
        """Load ``results['img_path']``.

        Args:
            results (dict): Result dict with ``img_path``.

        Returns:
            dict | None: With ``img``, ``img_shape`` and ``ori_shape``;
            None for a bad file with ``on_error='skip'``.
        """
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
        return (f'{self.__class__.__name__}(on_error={self.on_error!r}, '
                f'min_size={self.min_size}, '
                f'check_truncation={self.check_truncation}, '
                f'color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'backend_args={self.backend_args})')
