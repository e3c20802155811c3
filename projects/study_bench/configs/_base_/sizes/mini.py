# The demo's sizes for mmpretrain's MAE and MoCo v3 (the CPU comparison,
# tools/benchmarks/cpu_comparison.py): every method gets the demo's encoder
# (siameseim_vit-mini-p4: 128 wide, 4 blocks, 2 heads); MAE's decoder is as
# wide as the encoder, with the demo's projector + predictor depth and the
# predictor's heads; MoCo v3 keeps its projector / predictor MLPs. Merged
# with `projects.study_bench.sizes.apply_sizes` over the reproduction
# rows' models; read from the demo model, so the sizes live there.
_base_ = [
    '../../../../../configs/siameseim/_base_/siameseim_vit-mini-p4.py'
]

mini = _base_.model
mae_model = dict(
    backbone=dict(arch=dict(mini.backbone.arch, _delete_=True)),
    neck=dict(
        embed_dim=mini.backbone.arch.embed_dims,
        decoder_embed_dim=mini.backbone.arch.embed_dims,
        decoder_depth=mini.neck.depth + mini.head.depth,
        decoder_num_heads=mini.head.num_heads))
mocov3_model = dict(
    backbone=dict(arch=dict(mini.backbone.arch, _delete_=True)),
    neck=dict(in_channels=mini.backbone.arch.embed_dims))
