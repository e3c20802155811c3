"""The real ViT-B/16 config at initialisation gives the loss theory predicts.

With unit-variance LN targets ``y`` (``||y||^2 = D``) and predictions ``p``
independent of them at init, ``E||p - y||^2 / D = E[p^2] + 1`` and
``E[p^T C p] / D = E[p^2]`` (``tr C = D``), so the UniGrad loss is about
``1 + (1 + lambda) E[p^2]`` (docs/method.md §4). Measured: 1.911 vs 1.935.
"""
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmsiameseim  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIG = osp.join(ROOT, 'configs', 'siameseim',
                  'siameseim_vit-base-p16_16xb256-amp-coslr-400e_in1k.py')


def test_vit_base_loss_at_init_matches_theory():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cfg = Config.fromfile(CONFIG)
    MessageHub.get_current_instance().update_info('max_iters', 100)
    model = MODELS.build(cfg.model)
    model.init_weights()
    batch = 4
    views = [torch.randn(batch, 3, 224, 224) for _ in range(2)]
    samples = []
    for _ in range(batch):
        mask = np.zeros(196, dtype=bool)
        mask[rng.choice(196, 118, replace=False)] = True
        sample = DataSample()
        sample.set_mask(torch.from_numpy(mask.reshape(14, 14)))
        rel = [rng.uniform(-.5, .5), rng.uniform(-.5, .5), rng.uniform(.5, 2),
               rng.uniform(.5, 2), float(rng.integers(2)), rng.uniform(0, 2)]
        sample.set_field(np.array(rel, dtype=np.float32), 'rel_pos')
        samples.append(sample)
    with torch.no_grad():
        mask, rel_pos = model.gather_meta(samples, torch.device('cpu'))
        latent = model.neck(model.backbone(views[0], mask))
        _, pred = model.head(latent, mask, rel_pos)
        loss = model.loss(views, samples)['loss']
    assert pred.shape == (batch, 196, 768)
    lam = cfg.model.head.loss.lambda_neg
    expected = 1 + (1 + lam) * pred.pow(2).mean()
    assert 1.5 < float(loss) < 2.5
    assert abs(float(loss) / float(expected) - 1) < 0.03
