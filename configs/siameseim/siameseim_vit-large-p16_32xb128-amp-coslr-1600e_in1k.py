# SiameseIM ViT-L/16, 1600 epochs, batch 4096. Projector/predictor width 1024
# (following the encoder, as for ViT-B); activation checkpointing on the
# encoder keeps 128 images per GPU within memory.
_base_ = ['siameseim_vit-base-p16_32xb128-amp-coslr-1600e_in1k.py']
model = dict(backbone=dict(arch='l', with_cp=True))
