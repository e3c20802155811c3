"""mmengine's optimizer constructor, one line instead of one WARNING per
frozen tensor (in SiameseIM frozen by design: the EMA target, the fixed
tables, the patch embedding; about 70 lines at the demo's size)."""
import logging

from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS

_SKIPPED = 'is skipped since its requires_grad=False'


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class QuietOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """The default constructor (same parameter groups), with the skipped
    frozen parameters counted in one INFO line."""

    def __call__(self, model):
        """Build the optim wrapper of ``model``."""
        skipped = []

        def keep(record: logging.LogRecord) -> bool:
            if _SKIPPED in record.getMessage():
                skipped.append(record.getMessage().split(' ')[0])
                return False
            return True

        logger = MMLogger.get_current_instance()
        logger.addFilter(keep)
        try:
            wrapper = super().__call__(model)
        finally:
            logger.removeFilter(keep)
        if skipped:
            print_log(
                f'{len(skipped)} parameters with requires_grad=False are not '
                'optimised (the EMA target, fixed tables, frozen layers)',
                logger='current',
                level=logging.INFO)
        return wrapper
