"""The ``mmsiameseim`` registry scope: empty children of mmpretrain's, so
that the dicts of a ``mmsiameseim::`` base resolve as under ``mmpretrain``
(docs/model_zoo.md)."""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

SCOPE = 'mmsiameseim'

#: mmpretrain's registries (not its ``MMENGINE_*`` names of mmengine's),
#: each of which gets an ``mmsiameseim`` child.
REGISTRY_NAMES = tuple(
    name for name, value in vars(mmpretrain_registry).items()
    if isinstance(value, Registry) and not name.startswith('MMENGINE_'))


def _child_of(parent: Registry) -> Registry:
    # parent._locations: the mmpretrain modules that fill the parent on
    # first use (a child's lookup reads the parent's table directly).
    locations = list(getattr(parent, '_locations', [])) + [SCOPE]
    return Registry(
        parent.name, parent=parent, scope=SCOPE, locations=locations)


#: ``{'MODELS': <the mmsiameseim child of mmpretrain's MODELS>, ...}``.
#: mmengine finds them through the registry tree; code registers into
#: mmpretrain's registries, not into these.
CHILDREN = {
    name: _child_of(getattr(mmpretrain_registry, name))
    for name in REGISTRY_NAMES
}
