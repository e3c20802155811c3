"""kNN features and probe tokens of mmpretrain MAE, MoCo v3, SiameseIM ViTs.

Oracle: the raw, unmasked token sequence of the same backbone, computed by
hand (``out_type='raw'`` and, for MAE, ``mask=None``). Before the shared
reader, the kNN monitor pooled MAE's *masked* output and MoCo v3's cls token
under ``pool='avg'``.
"""
import pytest
import torch
from mmpretrain.models import MAEViT, MoCoV3ViT
from mmpretrain.structures import DataSample

from mmsiameseim.evaluation import backbone_tokens, extract_features
from mmsiameseim.models.backbones import SiameseIMViT
from projects.study_bench.probes.frozen_encoder import FrozenEncoder

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def build(kind):
    torch.manual_seed(0)
    if kind == 'mae':
        backbone = MAEViT(arch=ARCH, img_size=16, patch_size=4,
                          mask_ratio=0.75)
    elif kind == 'mocov3':
        backbone = MoCoV3ViT(arch=ARCH, img_size=16, patch_size=4)
    else:
        backbone = SiameseIMViT(arch=ARCH, img_size=16, patch_size=4)
    backbone.init_weights()
    backbone.eval()  # some mmpretrain backbones' train() returns None
    return backbone


def raw_tokens(backbone, x):
    """Hand-made oracle: the full unmasked (B, 1 + 16, C) sequence."""
    default = backbone.out_type
    backbone.out_type = 'raw'
    try:
        if isinstance(backbone, MAEViT):
            out = backbone(x, mask=None)
        else:
            out = backbone(x)
    finally:
        backbone.out_type = default
    return out[-1]


def batches(x):
    samples = [DataSample().set_gt_label(i % 3) for i in range(len(x))]
    return [dict(inputs=x[:3], data_samples=samples[:3]),
            dict(inputs=x[3:], data_samples=samples[3:])]


@pytest.mark.parametrize('kind', ['mae', 'mocov3', 'siameseim'])
def test_knn_features_are_unmasked_pooled_tokens(kind):
    backbone = build(kind)
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        tokens = raw_tokens(backbone, x)
    assert tokens.shape == (5, 17, 32)
    default_out_type = backbone.out_type
    for pool, expected in (('avg', tokens[:, 1:].mean(1)),
                           ('cls', tokens[:, 0]),
                           ('both', torch.cat([tokens[:, 0],
                                               tokens[:, 1:].mean(1)], 1))):
        feats, labels = extract_features(backbone, batches(x), pool=pool)
        torch.testing.assert_close(feats, expected)
        assert labels.tolist() == [0, 1, 2, 0, 1]
    # the backbone's own settings are left as they were
    assert backbone.out_type == default_out_type


def test_mocov3_avg_is_not_its_default_cls_output():
    backbone = build('mocov3')
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        default = backbone(x)[-1]  # out_type='cls_token': (B, C)
    assert default.shape == (5, 32)
    avg, _ = extract_features(backbone, batches(x), pool='avg')
    cls, _ = extract_features(backbone, batches(x), pool='cls')
    torch.testing.assert_close(cls, default)
    assert (avg - default).abs().max() > 1e-3


def test_mae_features_are_deterministic():
    # a masked forward keeps a random 25 % of the patches: two passes differ
    backbone = build('mae')
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        masked_a = backbone(x)[0][:, 1:].mean(1)
        masked_b = backbone(x)[0][:, 1:].mean(1)
    assert (masked_a - masked_b).abs().max() > 1e-3
    first, _ = extract_features(backbone, batches(x))
    second, _ = extract_features(backbone, batches(x))
    torch.testing.assert_close(first, second, rtol=0, atol=0)


@pytest.mark.parametrize('kind', ['mae', 'mocov3', 'siameseim'])
def test_probe_encoder_and_knn_agree(kind):
    """The probes read their frozen encoder through the same extractor
    (pooled) and the same token reader (the dense probe's patch maps)."""
    backbone = build(kind)
    x = torch.randn(5, 3, 16, 16)
    encoder = FrozenEncoder(backbone)
    cls, patches = backbone_tokens(encoder.backbone, encoder.preprocess(x))
    assert patches.shape == (5, 4, 4, 32)
    for pool, expected in (('avg', patches.flatten(1, 2).mean(1)),
                           ('cls', cls)):
        feats, _ = extract_features(backbone, batches(x), pool=pool)
        probe, _ = extract_features(encoder, batches(x), pool=pool)
        torch.testing.assert_close(probe, feats, rtol=0, atol=0)
        torch.testing.assert_close(feats, expected)


def test_backbone_tokens_rejects_outputs_without_a_patch_map():
    with pytest.raises(RuntimeError, match='patch map'):
        backbone_tokens(torch.nn.Identity(), torch.randn(2, 3, 4, 4)[:, 0])
