# Row (j): SiameseIM with the plain L2 loss (lambda = 0). Paper: FT 83.3,
# LIN 76.5.
_base_ = ['_base_/ablation_knobs.py']
model = dict(head=dict(loss=dict(lambda_neg=0.)))
