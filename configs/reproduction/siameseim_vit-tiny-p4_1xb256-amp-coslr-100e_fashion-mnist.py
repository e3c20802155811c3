# Mini-reproduction, SiameseIM row: the Fashion-MNIST demo recipe with the
# encoder the MAE and MoCo-v3 rows use (ViT with embed 192, 6 layers, 3 heads
# at 32 px, patch 4 -> 8x8 grid; the CPU demo shrinks it to 128 x 4 layers),
# predictor depth 2, 38/64 patches masked, trained longer on the full 60k
# train split, batch 256, AMP.
# Every other reproduction config inherits this file and changes only what
# its row is about. See docs/reproduction.md for the plan and commands.
_base_ = ['../demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py']

max_epochs = 100
embed_dims = 192  # MAE and MoCo v3 rows read _base_.embed_dims
model = dict(
    backbone=dict(
        arch=dict(
            embed_dims=embed_dims,
            num_layers=6,
            num_heads=3,
            feedforward_channels=embed_dims * 4)),
    neck=dict(num_heads=6),  # widths follow the encoder
    head=dict(num_heads=6, depth=2))
warmup_epochs = 10
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    pin_memory=True,
    dataset=dict(indices=None))  # the whole train split

# The lr is swept by tools/benchmarks/run_reproduction.sh with
# --cfg-options optim_wrapper.optimizer.lr=...; 1.5e-3 is the centre.
optim_wrapper = dict(
    type='AmpOptimWrapper', loss_scale='dynamic', optimizer=dict(lr=1.5e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-5, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)

# Online kNN only as a health monitor (every 10 epochs); the numbers that
# count come from tools/benchmarks/knn_eval.py after training.
custom_hooks = [
    dict(
        _base_.custom_hooks[0],
        interval=10,
        # plain dict(): nested keys replace, not merge, so spell out both
        train_dataloader=dict(
            _base_.knn_loader,
            dataset=dict(_base_.knn_dataset, split='train', indices=5000)),
        val_dataloader=dict(
            _base_.knn_loader,
            dataset=dict(_base_.knn_dataset, split='test', indices=2000)))
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=10, max_keep_ckpts=1))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=256)
