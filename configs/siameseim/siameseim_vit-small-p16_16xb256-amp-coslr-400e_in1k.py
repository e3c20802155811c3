# SiameseIM ViT-S/16 (DeiT-S encoder, 384 wide). The projector and predictor
# follow the encoder width, as in the ViT-B recipe; the upstream ViT-S head
# widths are not published, so treat this recipe as ours.
_base_ = ['siameseim_vit-base-p16_16xb256-amp-coslr-400e_in1k.py']
model = dict(backbone=dict(arch='deit-small'))
