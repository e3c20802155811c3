"""Fail a downstream run loudly if its backbone did not get the encoder."""
from mmengine.hooks import Hook
# Registered in mmengine's root registry so that mmseg / mmdet runners
# (whose registries are children of it) find it by its plain name.
from mmengine.registry import HOOKS

from ...checkpoints import check_backbone_load
from ..runner import unwrap_model


@HOOKS.register_module()
class PretrainedLoadCheckHook(Hook):
    """Run :func:`~mmsiameseim.checkpoints.check_backbone_load` before
    training starts (not on resume or ``load_from``): log the account,
    raise ``RuntimeError`` on a failure.

    Args:
        source (str, optional): The encoder file. Defaults to the
            backbone's ``pretrained`` / ``init_cfg`` checkpoint.
        raise_on_failure (bool): Raise, not only log. Defaults to True.
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
        report = check_backbone_load(
            unwrap_model(runner.model).backbone, self.source)
        if report.ok:
            runner.logger.info('Pretrained backbone check:\n' +
                               report.summary())
            return
        runner.logger.error('Pretrained backbone check:\n' + report.summary())
        if self.raise_on_failure:
            report.raise_if_failed('the pretrained backbone')
