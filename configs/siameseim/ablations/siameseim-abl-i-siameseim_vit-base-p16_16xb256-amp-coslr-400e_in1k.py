# Row (i) = SiameseIM: row (h) with MAE-like (LN) target normalisation.
# Paper: FT 83.7, LIN 76.8, AP^b 49.8, AP^m 44.2. Same as the main 400e config.
_base_ = ['../siameseim_vit-base-p16_16xb256-amp-coslr-400e_in1k.py']
