"""The one route that makes a bench config small (projects/study_bench/
sizes.py): the schedule rescaler on the three configs it serves, against
the schedules written out by hand, and the fp32 wrapper."""
import pytest

from projects.study_bench.config_files import load_config
from projects.study_bench.sizes import fp32_optim_wrapper, rescale_schedule

BENCH = 'projects/study_bench/configs/'
SEG = BENCH + ('mmseg/siameseim_vit-mini-p4-upernet_1xb8-800i_'
               'fashion-scenes-64x64.py')
DET = BENCH + ('mmdet/siameseim_vit-mini-p4-vitdet-mask-rcnn_1xb8-500i_'
               'fashion-scenes-64x64.py')
REPRO = BENCH + ('reproduction/siameseim_vit-tiny-p4_1xb256-amp-coslr-100e_'
                 'fashion-mnist.py')


def _spans(cfg):
    return [(s.type, s.begin, s.end, s.get('T_max'), s.get('milestones'))
            for s in cfg.param_scheduler]


def test_epoch_schedule_with_a_given_warmup():
    cfg = rescale_schedule(load_config(REPRO), 8, warmup=1)
    # 100 epochs (10 warm-up) -> 8 epochs (1 warm-up), cosine over 7
    assert _spans(cfg) == [('LinearLR', 0, 1, None, None),
                           ('CosineAnnealingLR', 1, 8, 7, None)]
    assert cfg.train_cfg.max_epochs == 8
    # the kNN monitor's and the checkpoint's 10-epoch intervals are theirs
    assert cfg.default_hooks.checkpoint.interval == 10
    with pytest.raises(ValueError, match='0 < warmup < length'):
        rescale_schedule(load_config(REPRO), 8, warmup=8)


def test_iteration_schedule_with_a_scaled_warmup():
    cfg = rescale_schedule(load_config(SEG), 20)
    # 800 iterations (80 warm-up, then poly) -> 20 (2 warm-up)
    assert _spans(cfg) == [('LinearLR', 0, 2, None, None),
                           ('PolyLR', 2, 20, None, None)]
    assert cfg.train_cfg.max_iters == cfg.train_cfg.val_interval == 20
    assert cfg.default_hooks.checkpoint.interval == 20
    tiny = rescale_schedule(load_config(SEG), 5)
    assert tiny.param_scheduler[0].end == 1  # at least one step


def test_milestones_scale_and_a_kept_warmup():
    cfg = load_config(DET)
    assert _spans(cfg)[1][4] == [445, 480]
    rescale_schedule(cfg, 150, warmup=cfg.param_scheduler[0].end)
    # x0.1 at 89 % and 96 % of the run; the 20 warm-up steps stay
    assert _spans(cfg) == [('LinearLR', 0, 20, None, None),
                           ('MultiStepLR', 0, 150, None, [133, 144])]
    assert cfg.default_hooks.checkpoint.interval == 150


def test_fp32_optim_wrapper_keeps_the_optimizer():
    cfg = load_config(REPRO)
    optimizer = cfg.optim_wrapper.optimizer.to_dict()
    fp32_optim_wrapper(cfg.optim_wrapper)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.optimizer.to_dict() == optimizer
