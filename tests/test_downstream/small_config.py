"""Shrink a detection config for a CPU test: small images, few RoIs."""
import copy


def _resize_pipeline(pipeline, size):
    out = copy.deepcopy(pipeline)
    for t in out:
        if t['type'] in ('RandomResize', 'Resize'):
            t['scale'] = (size, size)
            if 'ratio_range' in t:  # LSJ: keep the objects at full size
                t['ratio_range'] = (1.0, 1.0)
        elif t['type'] == 'RandomCrop':
            t['crop_size'] = (size, size)
        elif t['type'] == 'Pad':
            t['size'] = (size, size)
    return out


def _innermost(dataset_cfg):
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def shrink(cfg, work_dir, data_root, ann_file, img_prefix, size=128,
           iters=2, window_size=4, test_images=1):
    """Edit ``cfg`` in place for a 2-core CPU run.

    Input size ``size`` (pipelines with the LSJ scale range at 1.0,
    fixed-size padding, backbone grid), windows of ``window_size`` patches
    (the 14-patch windows would pad the small grid to 14 x 14), ``iters``
    training iterations at batch 1 without validation, fp32, in-process
    data loading, fewer sampled RoIs and proposals, every detection kept
    (score threshold 0, 8 proposals: 8 x 1203 LVIS boxes stay under mmdet's
    10,000-box threshold for class-by-class NMS) so that the metric has
    results to evaluate after two steps, the first ``test_images`` images
    for testing, and the given dataset / annotation file. Model, losses,
    optimiser constructor, schedule types and evaluator are the config's.
    """
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.model.backbone.img_size = size
    cfg.model.backbone.window_size = window_size
    for aug in cfg.model.data_preprocessor.get('batch_augments') or []:
        aug['size'] = (size, size)
    rcnn = cfg.model.train_cfg.rcnn
    rcnn.sampler.num = 16
    cfg.model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    cfg.model.test_cfg.rpn.update(nms_pre=100, max_per_img=8)
    cfg.model.test_cfg.rcnn.update(score_thr=0., max_per_img=8)
    for name in ('train_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(batch_size=1, num_workers=0, persistent_workers=False)
        inner = _innermost(loader.dataset)
        inner.update(data_root=data_root, ann_file=ann_file,
                     data_prefix=dict(img=img_prefix))
        inner.pipeline = _resize_pipeline(inner.pipeline, size)
        inner.pop('filter_cfg', None)
    cfg.test_dataloader.dataset.indices = test_images
    cfg.test_evaluator.ann_file = ann_file
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.train_cfg.update(max_iters=iters, val_interval=10 * iters)
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.pop('loss_scale', None)
    cfg.default_hooks.checkpoint.update(interval=10 * iters, save_last=False)
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.env_cfg.mp_cfg = dict(mp_start_method='fork', opencv_num_threads=0)
    return cfg
