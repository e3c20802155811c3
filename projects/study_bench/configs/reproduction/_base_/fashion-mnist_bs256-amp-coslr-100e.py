# Data and runtime shared by every row of the mini-reproduction: the demo's
# Fashion-MNIST data (SiameseIM's two-view pipeline unless a row replaces
# it) on the full 60k train split, batch 256, fp16 AMP, 100 epochs with a
# 10-epoch warm-up then cosine, kNN monitor every 10 epochs. The lr is swept
# by tools/benchmarks/run_reproduction.sh with
# --cfg-options optim_wrapper.optimizer.lr=...; 1.5e-3 is the centre.
_base_ = [
    '../../../../../configs/demo/_base_/fashion-mnist_bs64-coslr-4e.py'
]

# the encoder of every row (SiameseIM, MAE, MoCo v3): a ViT 192 wide with 6
# blocks and 3 heads at 32 px, patch 4 -> the 8 x 8 grid of the data
encoder = dict(
    embed_dims=192, num_layers=6, num_heads=3, feedforward_channels=192 * 4)
patch_size = 4

max_epochs = 100
warmup_epochs = 10
train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    pin_memory=True,
    dataset=dict(indices=None))  # the whole train split

optim_wrapper = dict(
    type='AmpOptimWrapper', loss_scale='dynamic', optimizer=dict(lr=1.5e-3))
# the demo's warm-up and cosine, stretched to this run
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(_base_.param_scheduler[1], T_max=max_epochs - warmup_epochs,
         begin=warmup_epochs, end=max_epochs),
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
            dataset=dict(
                _base_.knn_dataset,
                split='test',
                test_mode=True,
                indices=2000)))
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=10, max_keep_ckpts=1))
randomness = dict(seed=0, diff_rank_seed=True)
auto_scale_lr = dict(base_batch_size=256)
