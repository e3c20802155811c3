# ViTDet Mask R-CNN on LVIS v1 with a SiameseIM ViT-B/16 encoder: the recipe
# of the paper's LVIS results (40.5 box / 38.1 mask AP, detectron2's ViTDet
# LVIS "mask_rcnn_vitdet_b_100ep") in an installed mmdet 3.3. Everything of
# the COCO config (backbone, pyramid, heads, LSJ 1024, batch 64, AdamW wd 0.1,
# layer decay 0.7, warm-up, AMP) plus:
# * lr 2e-4, 156,250 iterations (100 epochs), x0.1 at 138,889 and 150,463;
# * repeat-factor sampling with threshold 0.001: mmdet's ClassBalancedDataset
#   (oversample_thr=1e-3) repeats each image max(1, sqrt(0.001 / f_c)) times
#   over its categories c (f_c: fraction of images with c), the rule of
#   detectron2's RepeatFactorTrainingSampler;
# * 1203 classes; long-tail loss: detectron2's ViTDet uses a federated
#   sigmoid loss, which mmdet 3.3 does not have; this config uses the
#   long-tail loss mmdet ships for LVIS, Seesaw loss (p 0.8, q 2.0, with a
#   normalised linear classifier, as mmdet's seesaw_loss configs);
# * at most 300 detections per image, score threshold 0.02;
# * LVIS AP through NumPy2LVISMetric (mmdet's LVISMetric; PyPI's lvis 0.5.3
#   needs np.float, which NumPy 2 removed).
_base_ = ['./siameseim_vit-base-p16-vitdet-mask-rcnn_16xb4-amp-lsj-100e_coco.py']

num_classes = 1203
model = dict(
    roi_head=dict(
        bbox_head=dict(
            num_classes=num_classes,
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
            loss_cls=dict(
                type='SeesawLoss',
                p=0.8,
                q=2.0,
                num_classes=num_classes,
                loss_weight=1.0)),
        mask_head=dict(num_classes=num_classes)),
    test_cfg=dict(rcnn=dict(score_thr=0.02, max_per_img=300)))

dataset_type = 'LVISV1Dataset'
data_root = 'data/lvis_v1/'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=1e-3,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='annotations/lvis_v1_train.json',
            data_prefix=dict(img=''),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=_base_.train_pipeline,
            backend_args=_base_.backend_args)))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img='')))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='NumPy2LVISMetric',
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=2e-4))
max_iters = 156250
# the COCO config's warm-up; x0.1 at 88.9 % and 96.3 % of the new length
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        end=max_iters,
        milestones=[138889, 150463]),
]
# LVIS evaluation is slow: every 30k iterations, as ViTDet
train_cfg = dict(max_iters=max_iters, val_interval=30000)
