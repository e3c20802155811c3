# Pretraining schedule of SiameseIM (docs/method.md §5): AdamW betas
# (0.9, 0.95), lr = 6.25e-5 x batch / 256, 40-epoch linear warm-up from ~0
# then cosine to 0 (both per iteration), weight decay 0.05 on >=2-D weights
# only (cls and mask tokens are decayed, as upstream), grad clip 1.0, fp16
# AMP.
_base_ = ['mmpretrain::_base_/default_runtime.py']
# the runner, loop, hooks (and the models, datasets, transforms of the
# configs that use this runtime) are registered by mmsiameseim
custom_imports = dict(imports=['mmsiameseim'], allow_failed_imports=False)

runner_type = 'SafeResumeRunner'  # resume our own checkpoints on torch>=2.6
max_epochs = 1600
warmup_epochs = 40
base_batch_size = 4096
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    # mmengine's default constructor; one log line for the frozen parameters
    # (EMA target, fixed tables) instead of one each
    constructor='QuietOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW',
        lr=6.25e-5 * base_batch_size / 256,
        betas=(0.9, 0.95),
        weight_decay=0.05),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(
        bias_decay_mult=0., norm_decay_mult=0., flat_decay_mult=0.))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min=0.,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True),
]
# Exact resume, also from a checkpoint written mid-epoch (needs
# sampler=ResumableSampler, set by the dataset configs); docs/operations.md.
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    # every 50 epochs, all kept (as the original); -1 also keeps this hook
    # out of mmengine's `keep_ckpt_ids` record, which the rolling
    # iteration checkpoints below use
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=-1))
custom_hooks = [
    dict(type='SyncBuffersHook'),
    # NaN/inf losses: skip the step, stop after 3 in a row; keeps fp16
    # overflow steps out of the EMA target
    dict(type='NumericsGuardHook', max_consecutive=3),
    # a rolling checkpoint every 1000 iterations (~3 epochs at batch 4096),
    # usually mid-epoch; mmengine deletes the oldest before writing the
    # next, so 2 are kept
    dict(type='CheckpointHook', by_epoch=False, interval=1000,
         max_keep_ckpts=2),
]
randomness = dict(seed=0, diff_rank_seed=True)
# SiameseIM's projector/predictor BN is TokenBN, which all-reduces its own
# statistics; no SyncBN conversion is needed.
auto_scale_lr = dict(base_batch_size=base_batch_size)
