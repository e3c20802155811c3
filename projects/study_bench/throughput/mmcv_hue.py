"""mmcv 2.1's ``adjust_hue`` under NumPy 2, for mmpretrain's colour ops.

The plugin's own colour ops never call mmcv's (``mmsiameseim``'s
``adjust_hue`` rotates a float hue); the pipeline benchmark's MoCo v3
pipeline uses mmpretrain's ``ColorJitter``, which does.
"""
import numpy as np


def patch_mmcv_adjust_hue() -> bool:
    """Make ``mmcv.adjust_hue`` (mmcv 2.1) work with NumPy >= 2.

    mmcv adds the hue shift to a uint8 channel with ``np.uint8(hue_factor
    * 255)``, which NumPy 2 rejects for negative factors
    (``OverflowError``), so mmpretrain's MoCo-v3 ``ColorJitter`` crashes
    on about half of the jittered images. NumPy 1 wrapped the truncated
    value modulo 256; this wrapper does the same arithmetic explicitly for
    negative factors (the same PIL / cv2 operations, hence the same cost)
    and calls mmcv's function otherwise.

    Returns:
        bool: Whether the patch was (already) installed.
    """
    import cv2
    import mmcv
    from PIL import Image
    original = mmcv.adjust_hue
    if getattr(original, 'numpy2_safe', False):
        return True

    def adjust_hue(img, hue_factor, backend=None):
        if hue_factor >= 0:
            return original(img, hue_factor, backend=backend)
        shift = np.uint8(int(hue_factor * 255) % 256)  # NumPy 1 wrap
        if (backend or mmcv.image.io.imread_backend) == 'pillow':
            hsv = Image.fromarray(np.ascontiguousarray(img[..., ::-1]))
            h, s, v = hsv.convert('HSV').split()
            h = np.array(h, dtype=np.uint8)
            h += shift
            rgb = Image.merge('HSV', (Image.fromarray(h), s, v))
            return np.array(rgb.convert('RGB'), dtype=img.dtype)[..., ::-1]
        hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
        hsv[..., 0] += shift
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(img.dtype)

    adjust_hue.numpy2_safe = True
    mmcv.adjust_hue = adjust_hue
    return True
