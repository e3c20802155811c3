"""The ``mmsiameseim`` registry scope: empty children of mmpretrain's.

Our modules register into mmpretrain's registries, and our configs build
under ``default_scope = 'mmpretrain'``. A config that inherits one of ours
through ``_base_ = ['mmsiameseim::...']`` is different: mmengine marks
every top-level dict of a ``pkg::`` base with ``_scope_ = 'pkg'``, and
builds such a dict from the registry whose scope is ``mmsiameseim``
(importing ``mmsiameseim.registry`` to find it). Without these children it
warns and falls back to mmengine's root registries, which do not know
``SiameseIM``.

Each child holds nothing itself: a name is looked up in mmpretrain's
registry and then in mmengine's, so everything resolves as under the
``mmpretrain`` scope. Looking a name up first imports mmpretrain's module
for that registry and :mod:`mmsiameseim` (``locations``).
"""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

SCOPE = 'mmsiameseim'

#: mmpretrain 1.2's registries, each of which gets an ``mmsiameseim`` child.
REGISTRY_NAMES = ('RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS',
                  'LOG_PROCESSORS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
                  'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'DATASETS',
                  'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS',
                  'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
                  'TOKENIZER', 'METRICS', 'EVALUATORS', 'VISUALIZERS',
                  'VISBACKENDS')


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
