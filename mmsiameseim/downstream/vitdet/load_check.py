"""What "the encoder arrived" means for :class:`WindowedViT`.

Registered for ``check_backbone_load`` (``PretrainedLoadCheckHook``,
``tools/analysis/check_pretrained_load.py``). The source is an encoder
file in the ``vitdet`` layout (``siameseim_to_backbone.py --layout
vitdet``): bare mmpretrain names, no cls token, no final norm. After
``init_weights()`` every tensor of it must be in the backbone unchanged,
``pos_embed`` included (the backbone keeps the pretraining-size table and
resizes it at every forward, as detectron2's ViTDet); the only tensors that
start fresh are the relative position tables ``layers.{i}.attn.rel_pos_{h,w}``
(zero).
"""
from ...checkpoints import BackboneLoadSpec, register_load_spec

#: Backbone keys no pretrained encoder sets.
VITDET_FRESH = (r'layers\.\d+\.attn\.rel_pos_[hw]', )


@register_load_spec('WindowedViT')
def windowed_vit_load_spec(backbone) -> BackboneLoadSpec:
    """Fresh keys of ``WindowedViT``; every file tensor compared as is."""
    return BackboneLoadSpec(expected_fresh=VITDET_FRESH, source_prefix='')
