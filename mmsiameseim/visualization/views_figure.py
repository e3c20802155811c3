"""The views picture; what each mark means: docs/visualization.md.
matplotlib is imported only when :func:`render` runs."""
import textwrap
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ..models.utils.colour_params import JITTER_OPS, describe_record
from .views_geometry import (box_in_original, patch_centres, pick_patches,
                             view2_centres_in_view1)

VIEW_COLOURS = ('#ff3b30', '#00d0ff')
#: Masked patches: tint, hatch and edge in magenta (in no gray view).
MASK_RGB = np.array([255., 0., 255.])


def colour_ops_text(record: Optional[np.ndarray]) -> str:
    """The colour ops of a view's record, e.g. ``jitter c=0.83 → b=1.21;
    blur σ=0.42; solarize ≥128`` (jitter ops in the order applied)."""
    if record is None:
        return 'colour ops not recorded (not Sim* ops)'
    ops = describe_record(record)
    jitter = [f'{o[0][0]}={o[1]:.2f}' for o in ops if o[0] in JITTER_OPS]
    rest = [
        o[0] if len(o) == 1 else f'blur σ={o[1]:.2f}'
        if o[0] == 'blur' else f'solarize ≥{o[1]:g}' for o in ops
        if o[0] not in JITTER_OPS
    ]
    jitter = ['jitter ' + ' → '.join(jitter)] if jitter else []
    return '; '.join(jitter + rest) or 'no colour op'


def mark_masked(view: np.ndarray, mask: np.ndarray,
                scale: int = 1) -> np.ndarray:
    """The view enlarged ``scale`` times; masked patches half magenta, with
    magenta hatch lines and edge (seen on black, white and gray)."""
    img = view.repeat(scale, 0).repeat(scale, 1).astype(np.float32)
    cell = img.shape[0] // mask.shape[0]
    m = mask.repeat(cell, 0).repeat(cell, 1)
    yy, xx = np.indices(m.shape)
    e = max(1, cell // 12)
    pad = np.pad(m, e)
    inner = m.copy()
    for dy, dx in ((-e, 0), (e, 0), (0, -e), (0, e)):
        inner &= pad[e + dy:e + dy + m.shape[0], e + dx:e + dx + m.shape[1]]
    img[m] = 0.5 * img[m] + 0.5 * MASK_RGB
    img[m & (((yy + xx) % 8 < 2) | ~inner)] = MASK_RGB
    return img.round().astype(np.uint8)


def pca_rgb(pred: np.ndarray,
            target: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Both ``(L, D)`` feature sets as ``(g, g, 3)`` images in [0, 1]: one
    joint 3-component PCA, each component stretched over its 1-99 %."""
    feats = np.concatenate([pred, target]).astype(np.float64)
    feats = feats - feats.mean(0)
    comps = feats @ np.linalg.svd(feats, full_matrices=False)[2][:3].T
    comps = np.pad(comps, ((0, 0), (0, 3 - comps.shape[1])))
    lo, hi = np.percentile(comps, [1, 99], axis=0)
    rgb = np.clip((comps - lo) / np.maximum(hi - lo, 1e-12), 0, 1)
    grid = int(round(np.sqrt(len(pred))))
    return (rgb[:len(pred)].reshape(grid, grid, 3),
            rgb[len(pred):].reshape(grid, grid, 3))


def cosine_map(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-patch cosine similarity as a ``(g, g)`` map."""
    num = (pred * target).sum(1)
    den = np.linalg.norm(pred, axis=1) * np.linalg.norm(target, axis=1)
    grid = int(round(np.sqrt(len(pred))))
    return (num / np.maximum(den, 1e-12)).reshape(grid, grid)


def _panel(fig, row: int, col: int, rows: int, img: np.ndarray, title: str,
           caption: str, fs: float, width: float = 0.96, **kw):
    """One image axes: title above, ``caption`` (wrapped) below."""
    ax = fig.add_axes([(col + 0.02) / 3, (rows - row - 0.83) / rows,
                       width / 3, 0.7 / rows])
    w, h = kw.pop('span', img.shape[1::-1])
    ax.imshow(img, extent=(0, w, h, 0), interpolation='nearest', **kw)
    ax.set(xlim=(0, w), ylim=(h, 0), xticks=[], yticks=[])
    ax.set_title(title, fontsize=fs, pad=3)
    chars = int(fig.get_figwidth() * 72 / 3 / (0.6 * fs))
    ax.text(0.5, -0.03, textwrap.fill(caption, chars), fontsize=fs * 0.9,
            ha='center', va='top', transform=ax.transAxes)
    return ax


def render(img_rgb: np.ndarray,
           pair: Dict,
           patch_size: int,
           out: str,
           num_lines: int = 6,
           panel: int = 320,
           features: Optional[Sequence[np.ndarray]] = None) -> Dict:
    """Draw ``pair`` (:func:`~.views_pair.make_views`) to the PNG ``out``;
    ``features`` (:func:`~.views_pair.dense_features`) add a second row.
    Returns ``size``, the joined ``patches`` and their centres ``src`` /
    ``dst``, each panel's ``texts`` (title, caption) and box in the PNG
    (``panels``), and the ``colour_bar``'s tick labels and label."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import ConnectionPatch, Rectangle

    from ..models.utils import RelPos
    size, mask, geo = pair['img_size'], pair['mask'], RelPos(*pair['rel_pos'])
    grid, (H, W) = size // patch_size, img_rgb.shape[:2]
    src = patch_centres(grid, patch_size)
    dst = view2_centres_in_view1(pair['rel_pos'], grid, patch_size)
    chosen = pick_patches(src, dst, size, num_lines)
    rows, fs = 1 + (features is not None), max(6., panel / 34)
    fig = plt.figure(figsize=(3 * panel / 100, rows * panel / 100), dpi=100)
    colour = pair['colour'] if pair['colour'] is not None else [None] * 2
    scale = max(1, int(round(0.7 * panel / size)))
    cells = dict(
        original=(img_rgb, f'original {W}x{H}\nred: crop 1, cyan: crop 2',
                  f'colour route: {pair["route"]}', {}),
        view1=(mark_masked(pair['views'][0], mask, scale),
               f'view 1 (online): {mask.sum()}/{mask.size} masked\n'
               'masked: magenta hatch and edge', colour_ops_text(colour[0]),
               dict(span=(size, size))),
        view2=(pair['views'][1],
               f'view 2 (target)  Δh={geo.dh:.2f} Δw={geo.dw:.2f}\n'
               f'Δi={geo.di:.2f} Δj={geo.dj:.2f} rflip={int(geo.rflip)}',
               colour_ops_text(colour[1]), {}))
    if features is not None:
        (pred, target), cos = pca_rgb(*features), cosine_map(*features)
        cells.update(
            predicted=(pred, 'predicted features of view 2\n(joint PCA)', '',
                       {}),
            target=(target, 'target features of view 2\n(joint PCA)', '', {}),
            cosine=(cos, 'cosine(pred, target) per patch\nmean '
                    f'{cos.mean():.3f}', '',
                    dict(width=0.78, cmap='viridis', vmin=-1, vmax=1)))
    axes = {
        name: _panel(fig, k // 3, k % 3, rows, *cell[:3], fs, **cell[3])
        for k, (name, cell) in enumerate(cells.items())
    }
    ax0, ax1, ax2 = axes['original'], axes['view1'], axes['view2']
    for k, params in enumerate(pair['params']):
        top, left, h, w = box_in_original(params, W)
        ax0.add_patch(Rectangle((left, top), w, h, fill=False, lw=2,
                                ec=VIEW_COLOURS[k]))
        # label 1 in the top-left corner, 2 in the bottom-left one
        ax0.text(left + 0.5, top + 0.5 if k == 0 else top + h - 0.5,
                 f'{k + 1}' + (' (flipped)' if params[0] else ''),
                 color='white', fontsize=fs * 0.9,
                 va='top' if k == 0 else 'bottom',
                 bbox=dict(fc=VIEW_COLOURS[k], ec='none', pad=1, alpha=.8))
    for edge in np.arange(1, grid) * patch_size:
        ax1.axhline(edge, color='0.5', lw=0.4, alpha=0.5)
        ax1.axvline(edge, color='0.5', lw=0.4, alpha=0.5)
    fh, fw = patch_size * geo.dh, patch_size * geo.dw
    for n, idx in enumerate(chosen):
        c, (y2, x2), (y1, x1) = plt.cm.tab10(n % 10), src[idx], dst[idx]
        ax2.add_patch(Rectangle((x2 - patch_size / 2, y2 - patch_size / 2),
                                patch_size, patch_size, fill=False, ec=c,
                                lw=1.5))
        ax1.add_patch(Rectangle((x1 - fw / 2, y1 - fh / 2), fw, fh,
                                fill=False, ec=c, lw=1.5))
        ax1.plot([x1], [y1], 'o', ms=3, color=c)
        ax2.plot([x2], [y2], 'o', ms=3, color=c)
        fig.add_artist(ConnectionPatch((x2, y2), (x1, y1), ax2.transData,
                                       ax1.transData, color=c, lw=1.2))
    if not chosen and num_lines > 0:
        ax2.text(size / 2, size / 2, 'no overlap with view 1', ha='center',
                 color='yellow', fontsize=fs)
    if features is not None:
        bar = fig.colorbar(axes['cosine'].images[0], ticks=[-1, 0, 1],
                           cax=fig.add_axes([0.933, 0.125, 0.013, 0.27]))
        bar.set_label('cosine, from -1 to 1', fontsize=fs * 0.9)
        bar.ax.tick_params(labelsize=fs * 0.9)
        axes['colour_bar'] = bar.ax
    fig.savefig(out)
    summary = dict(size=(3 * panel, rows * panel), patches=chosen,
                   src=src[chosen], dst=dst[chosen], panels={},
                   texts={k: cell[1:3] for k, cell in cells.items()})
    for name, ax in axes.items():  # PNG rows count from the top
        x0, y0, x1, y1 = ax.get_window_extent().extents
        summary['panels'][name] = (x0, fig.bbox.height - y1, x1,
                                   fig.bbox.height - y0)
    if features is not None:
        summary['colour_bar'] = ([t.get_text() for t in
                                  bar.ax.get_yticklabels()],
                                 bar.ax.get_ylabel())
    plt.close(fig)
    return summary
