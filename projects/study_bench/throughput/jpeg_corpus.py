"""Write a seeded corpus of ImageNet-like JPEGs for pipeline benchmarks.

Each image is a random crop of one of scikit-image's bundled colour photos
(astronaut, chelsea, coffee, rocket, ...; no download needed), randomly
flipped, resized with PIL bicubic to ImageNet's typical 500 x 375 (landscape,
4 in 5 images) or 375 x 500 (portrait) and saved as baseline JPEG, quality
90. The same seed gives byte-identical files (with the same Pillow/libjpeg).

The command line is ``tools/benchmarks/make_jpeg_corpus.py``.
"""
import hashlib
import os
import os.path as osp
from typing import List, Sequence

import numpy as np

# scikit-image's colour photographs shipped inside the wheel.
SOURCES = ('astronaut', 'chelsea', 'coffee', 'rocket', 'hubble_deep_field',
           'immunohistochemistry', 'retina', 'stereo_motorcycle')
LANDSCAPE = (500, 375)  # (width, height)
PORTRAIT = (375, 500)


def load_sources(names: Sequence[str] = SOURCES) -> List[np.ndarray]:
    """RGB uint8 arrays of the bundled photos, in ``names`` order."""
    import skimage.data
    images = []
    for name in names:
        img = getattr(skimage.data, name)()
        if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disp)
            img = img[0]
        images.append(np.ascontiguousarray(img[..., :3], dtype=np.uint8))
    return images


def random_view(src: np.ndarray, rng: np.random.Generator):
    """A random crop of ``src`` with the aspect of the output size, flipped
    with p 0.5 and resized (PIL bicubic) to 500 x 375 or 375 x 500."""
    from PIL import Image
    width, height = LANDSCAPE if rng.random() < 0.8 else PORTRAIT
    aspect = width / height
    h, w = src.shape[:2]
    # the largest crop of this aspect, then a random scale of it
    max_w = min(w, h * aspect)
    scale = rng.uniform(0.5, 1.0)
    crop_w = max(8, int(round(max_w * scale)))
    crop_h = max(8, min(h, int(round(crop_w / aspect))))
    top = int(rng.integers(0, h - crop_h + 1))
    left = int(rng.integers(0, w - crop_w + 1))
    crop = src[top:top + crop_h, left:left + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    img = Image.fromarray(np.ascontiguousarray(crop))
    return img.resize((width, height), Image.BICUBIC)


def make_corpus(out_dir: str,
                num_images: int = 300,
                seed: int = 0,
                quality: int = 90) -> List[str]:
    """Write ``num_images`` JPEGs to ``out_dir``; returns their paths.

    Args:
        out_dir (str): Output folder (created if missing).
        num_images (int): Number of images. Defaults to 300.
        seed (int): Seed of the crops. Defaults to 0.
        quality (int): JPEG quality. Defaults to 90.

    Returns:
        list[str]: Paths ``out_dir/img_00000.jpg`` ... in order.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    os.makedirs(out_dir, exist_ok=True)
    sources = load_sources()
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(num_images):
        src = sources[int(rng.integers(len(sources)))]
        img = random_view(src, rng)
        path = osp.join(out_dir, f'img_{i:05d}.jpg')
        img.save(path, format='JPEG', quality=quality)
        paths.append(path)
    return paths


def corpus_digest(paths: Sequence[str]) -> str:
    """SHA-256 over the bytes of ``paths`` in order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()


def list_corpus(out_dir: str) -> List[str]:
    """The corpus files in ``out_dir``, sorted."""
    return sorted(
        osp.join(out_dir, f) for f in os.listdir(out_dir)
        if f.startswith('img_') and f.endswith('.jpg'))
