"""The log records MMLogger's current instance emits while a call runs."""
import logging

from mmengine.logging import MMLogger


def logged_records(run):
    """``(run(), records)``: the result and every ``logging.LogRecord`` the
    current MMLogger emitted meanwhile (any level its handlers pass)."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        result = run()
    finally:
        logger.removeHandler(handler)
    return result, records
