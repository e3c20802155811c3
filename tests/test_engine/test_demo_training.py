"""The demo config trains SiameseIM through mmengine's Runner on real data."""
import os.path as osp

import numpy as np
from mmengine.config import Config
from mmengine.registry import RUNNERS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo',
                'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')


def test_demo_config_trains_with_falling_loss(tmp_path):
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(tmp_path)
    cfg.data_root = osp.join(ROOT, 'data', 'fashion-mnist')
    # the demo itself, on 256 images, batch 16: 16 iterations an epoch
    cfg.train_dataloader.batch_size = 16
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.dataset.indices = 256
    cfg.train_dataloader.dataset.data_root = cfg.data_root
    knn = cfg.custom_hooks[0]
    for loader in (knn.train_dataloader, knn.val_dataloader):
        loader.dataset.indices = 200
        loader.dataset.data_root = cfg.data_root
    knn.interval = 2
    cfg.train_cfg.max_epochs = 2
    cfg.param_scheduler[1].T_max = 1
    cfg.param_scheduler[1].end = 2
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]

    runner = RUNNERS.build(cfg)
    assert type(runner).__name__ == 'SafeResumeRunner'
    runner.train()

    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 32
    assert np.isfinite(losses).all()
    # UniGrad at init: about 2 (random predictions of unit variance vs
    # unit-variance LN targets); training must push it clearly down.
    assert losses[:4].mean() > 1.0
    assert losses[-4:].mean() < 0.8 * losses[:4].mean()
    # the kNN monitor ran at init and after training, on real labels
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'KNNMonitorHook')
    assert [epoch for epoch, _ in hook.history] == [0, 2]
    for _, result in hook.history:
        assert 10.0 < result['knn/top1'] <= 100.0  # above 10-class chance
    assert osp.exists(osp.join(str(tmp_path), 'epoch_2.pth'))
