"""Three equal channels from a gray image (mmcv has no such transform)."""
import mmcv
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class GrayToRGB(BaseTransform):
    """Replicate a gray ``(H, W)`` or ``(H, W, 1)`` ``img`` to 3 channels
    (mmpretrain's ``FashionMNIST`` gives gray images); 3-channel images
    pass unchanged."""

    def transform(self, results: dict) -> dict:
        """Replicate ``results['img']`` to ``(H, W, 3)``."""
        img = results['img']
        if img.ndim == 2 or img.shape[2] == 1:
            results['img'] = mmcv.gray2rgb(img)
        return results
