"""Fail a downstream run loudly if its backbone did not get the encoder."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
# Registered in mmengine's root registry so that mmseg / mmdet runners
# (whose registries are children of it) find it by its plain name.
from mmengine.registry import HOOKS

from ...checkpoints import check_backbone_load


@HOOKS.register_module()
class PretrainedLoadCheckHook(Hook):
    """Compare the backbone with its pretrained file before training starts.

    mmseg's ``MAE`` / ``BEiT`` backbones load ``pretrained=`` with
    ``strict=False`` and discard the result; mmengine's ``Pretrained`` init
    logs mismatched keys at INFO. A run whose encoder silently stayed random
    looks like any other run until its numbers come in. This hook runs
    :func:`~mmsiameseim.checkpoints.check_backbone_load` after the
    model's ``init_weights()`` (mmengine calls it before ``before_train``):
    every tensor of the file must be in the backbone (position tables after
    the documented resize) and exactly the documented keys may start fresh.
    It logs the account and raises ``RuntimeError`` on a failure.

    The check is skipped when the run resumes or loads ``load_from`` (the
    backbone then holds those weights, not the pretrained file's).

    Args:
        source (str, optional): The encoder file. Defaults to the
            backbone's ``pretrained`` / ``init_cfg`` checkpoint.
        raise_on_failure (bool): Raise instead of only logging an error.
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, source=None, raise_on_failure: bool = True) -> None:
        self.source = source
        self.raise_on_failure = raise_on_failure

    def before_train(self, runner) -> None:
        """Run the check (first start of the run only)."""
        if runner.cfg.get('resume', False) or runner.cfg.get('load_from'):
            runner.logger.info('PretrainedLoadCheckHook: skipped (the run '
                               'resumes or loads load_from)')
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        report = check_backbone_load(model.backbone, self.source)
        if report.ok:
            runner.logger.info('Pretrained backbone check:\n' +
                               report.summary())
            return
        runner.logger.error('Pretrained backbone check:\n' + report.summary())
        if self.raise_on_failure:
            report.raise_if_failed('the pretrained backbone')
