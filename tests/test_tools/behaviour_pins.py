"""What the converters, the size routines and the offline tools produce.

Measured on main before the plugin and its study bench were separated
(issue #20) and kept in ``tests/data/behaviour_pins.json``: moving code and
replacing a routine by the one route that stays must give the same files,
the same configs and the same numbers. ``compute_all()`` measures
everything; the test compares it with the file.

One pin was measured again on purpose: ``linear_probe``, once the
feature-caching loop of the linear probe tool, is now the linear-probing
config run by the Runner (the one linear probe route) on the same tiny
inputs; the Runner's record has no train top-1.
"""
import copy
import hashlib
import json
import os.path as osp
from typing import Dict

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PINS = osp.join(ROOT, 'tests', 'data', 'behaviour_pins.json')
#: keys of a dataset dict that name where the data is, not what is done
_WHERE = {'type', 'data_root', 'split', 'test_mode', 'download', 'lazy_init',
          'serialize_data', 'data_prefix'}


def digest(obj) -> str:
    """sha256 (16 hex) of a JSON-able object, keys sorted."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tensors_digest(state: Dict[str, torch.Tensor]) -> str:
    """Names, shapes, dtypes and values of a state dict."""
    h = hashlib.sha256()
    for key in sorted(state):
        value = state[key]
        h.update(f'{key} {tuple(value.shape)} {value.dtype}'.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


#: Transforms that are part of reading the data, not of what is done with
#: it: mmpretrain's FashionMNIST gives gray images, and GrayToRGB makes the
#: three equal channels the former hand-written reader gave (issue #20).
_READING = ('GrayToRGB', )
#: Settings that change only what is logged: QuietOptimWrapperConstructor
#: builds the default constructor's parameter groups (tested), with one log
#: line for the frozen parameters instead of one each (issue #22).
_LOGGING = {'constructor': 'QuietOptimWrapperConstructor'}


def scrub(obj, parent=None):
    """Drop where-the-data-is keys of dataset dicts and paths of files."""
    if isinstance(obj, (list, tuple)):
        obj = [
            t for t in obj
            if not (isinstance(t, dict) and t.get('type') in _READING)
        ]
    if isinstance(obj, dict):
        return {
            k: scrub(v, k)
            for k, v in obj.items()
            if not (parent == 'dataset' and k in _WHERE)
            and k not in ('work_dir', 'checkpoint', 'pretrained')
            and _LOGGING.get(k, k) != v
        }
    if isinstance(obj, (list, tuple)):
        return [scrub(v, parent) for v in obj]
    return obj


def run_digest(cfg) -> str:
    """What a training run of ``cfg`` does, without where its data is."""
    cfg = cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg
    keys = ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg',
            'train_dataloader', 'custom_hooks', 'default_hooks',
            'randomness', 'auto_scale_lr')
    return digest(scrub({k: copy.deepcopy(cfg.get(k)) for k in keys}))


# ------------------------------------------------------------ converters
def converter_pins(tmp: str) -> Dict[str, str]:
    """The converters' output files on the release key fixture."""
    import pathlib

    from test_tools.test_model_converters import (BACKBONE_TOOL, OFFICIAL_TOOL,
                                                  _official_file,
                                                  release_state_dict)
    tmp = pathlib.Path(tmp)
    src = _official_file(tmp, release_state_dict(seed=3), 'release.pth')
    out = {}

    from tool_modules import load_tool
    tools = {}

    def run(tool, *args):
        if tool not in tools:
            tools[tool] = load_tool(tool)
        assert tools[tool].main([str(a) for a in args]) == 0

    ours = tmp / 'ours.pth'
    run(OFFICIAL_TOOL, src, ours, '--strict')
    out['official_to_mmsiameseim'] = tensors_digest(
        torch.load(ours, weights_only=True)['state_dict'])
    for layout in ('mmpretrain', 'timm', 'vitdet'):
        for source in ('online', 'target'):
            dst = tmp / f'{layout}_{source}.pth'
            run(BACKBONE_TOOL, ours, dst, '--layout', layout, '--source',
                source)
            out[f'backbone_{layout}_{source}'] = tensors_digest(
                torch.load(dst, weights_only=True)['state_dict'])
    dst = tmp / 'release_vitdet.pth'
    run(BACKBONE_TOOL, src, dst, '--layout', 'vitdet')
    out['release_to_vitdet'] = tensors_digest(
        torch.load(dst, weights_only=True)['state_dict'])
    return out


# ------------------------------------------------------------ size routines
SIAMESEIM_CONFIGS = (
    'configs/siameseim/siameseim_vit-base-p16_16xb256-amp-coslr-400e_in1k.py',
    'configs/siameseim/siameseim_vit-small-p16_16xb256-amp-coslr-400e_in1k'
    '.py',
    'configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py',
)
REPRO_ROWS = ('mae', 'mocov3', 'siameseim', 'siameseim-pixel',
              'siameseim-randmask', 'siameseim-sameview')


def find_config(stem: str) -> str:
    from test_configs.config_pins import shipped_configs
    return shipped_configs()[stem]


def repro_stem(row: str) -> str:
    return f'{row}_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist'


def size_pins() -> Dict[str, list]:
    """Tiny test size, demo (mini) size, GPU-study size, CPU transfer."""
    from mmengine.config import Config
    from test_configs.config_pins import model_pin

    from projects.study_bench.sizes import TINY_SIZES, apply_sizes
    out = {}

    def pin(cfg):
        import tempfile
        with tempfile.NamedTemporaryFile('w', suffix='.py') as f:
            f.write(cfg.pretty_text)
            f.flush()
            count, names = model_pin(f.name)
        pipeline = cfg.train_dataloader.dataset.pipeline
        return [count, names, digest(scrub(pipeline.to_dict() if hasattr(
            pipeline, 'to_dict') else list(pipeline)))]

    tiny_keys = dict(mae='mae_model', mocov3='mocov3_model')
    paths = [osp.join(ROOT, p) for p in SIAMESEIM_CONFIGS] + [
        find_config(repro_stem(r)) for r in REPRO_ROWS]
    for path in paths:
        cfg = Config.fromfile(path)
        method = osp.basename(path).split('_')[0]
        apply_sizes(cfg, osp.join(ROOT, TINY_SIZES),
                    model_key=tiny_keys.get(method, 'model'))
        out['tiny/' + osp.basename(path)[:-3]] = pin(cfg)
    from projects.study_bench.studies import gpu_study
    from projects.study_bench.studies.cpu_comparison import (CONFIGS,
                                                             comparison_config)
    from projects.study_bench.transfer.segmentation import seg_config
    for method in sorted(CONFIGS):
        cfg = comparison_config(method)
        out['demo_sized/' + method] = pin(cfg) + [run_digest(cfg)]
    for method in gpu_study.METHODS:
        for size in ('gpu', 'toy'):
            cfg = gpu_study.study_config(method, gpu_study.SIZES[size], 'w', 2)
            out[f'study/{method}/{size}'] = [run_digest(cfg)]
    for pretrained in ('encoder.pth', None):
        cfg = seg_config(pretrained, 'data/fashion_scenes_mmseg', 'w',
                         max_iters=20, batch_size=2)
        out[f'seg_transfer/{pretrained}'] = [run_digest(cfg)]
    return out


# ------------------------------------------------------------ offline tools
def tool_pins(tmp: str) -> Dict[str, list]:
    """kNN, linear and dense probes on the tiny fake Fashion-MNIST."""
    import pathlib

    from test_tools.test_eval_tools import (fake_images, load_bench,
                                            write_config, write_idx)
    tmp = pathlib.Path(tmp)
    root = str(tmp / 'fmnist')
    pathlib.Path(root).mkdir()
    write_idx(root, 'train', *fake_images(80, seed=0))
    write_idx(root, 't10k', *fake_images(40, seed=1))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        common = ['--data-root', root, '--device', 'cpu', '--img-size', '32']
        # real images: random encoders are far from 100 % there
        real = ['--data-root', osp.join(ROOT, 'data', 'fashion-mnist'),
                '--device', 'cpu', '--img-size', '32']
        for name in ('siameseim', 'mae', 'mocov3'):
            for pool in ('avg', 'cls'):
                rec = load_bench('knn_eval').main([
                    write_config(tmp, name), 'none', *real,
                    '--train-size', '300', '--test-size', '100', '--pool',
                    pool
                ])
                out[f'knn_eval/{name}/{pool}'] = [rec['value'],
                                                  rec['knn_top5']]
        rec = load_bench('linear_probe').main([
            write_config(tmp), 'none', *common, '--train-size', '80',
            '--test-size', '40', '--epochs', '20'
        ])
        out['linear_probe'] = [rec['value'], rec.get('train_top1')]
        rec = load_bench('dense_probe').main([
            write_config(tmp), 'none', *common, '--train-size', '16',
            '--test-size', '6', '--epochs', '3'
        ])
        out['dense_probe'] = [rec['value'], rec['iou']]
    finally:
        torch.set_num_threads(threads)
    return out


def compute_all(tmp: str) -> Dict[str, list]:
    pins = {}
    pins.update({k: [v] for k, v in converter_pins(tmp).items()})
    pins.update(size_pins())
    pins.update(tool_pins(tmp))
    return pins
