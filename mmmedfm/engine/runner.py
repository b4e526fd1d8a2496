"""``ConciseRunner``: MMEngine's ``Runner`` whose screen shows what a user needs; the log file keeps everything."""
import logging
import re

from mmengine.runner import Runner

from mmmedfm.registry import RUNNERS

# Records that stay in the log file only (the screen gets nothing or one line).
_FILE_ONLY = ('Hooks will be executed in the following order', 'Saving checkpoint at',
              # MMEngine's own deprecation and no-op notices, on every run:
              '"FileClient" will be deprecated', '"HardDiskBackend" is the alias', '`save_param_scheduler` is True',
              'Distributed training is not used, all SyncBatchNorm')
_RUNTIME_KEYS = ('seed', 'Distributed launcher', 'Distributed training', 'GPU number')


class ScreenSummaryFilter(logging.Filter):
    """Console filter: the environment and config dumps become one line each, ``_FILE_ONLY`` records none.

    Args:
        handler (logging.Handler): The console handler it filters (the summary lines are emitted through it).
        log_file (str): Where the full records go (named in the summary lines).
    """

    def __init__(self, handler: logging.Handler, log_file: str):
        super().__init__()
        self.handler, self.log_file = handler, log_file

    def _emit(self, record: logging.LogRecord, msg: str) -> None:
        self.handler.handle(logging.makeLogRecord(dict(record.__dict__, msg=msg, args=())))

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if msg.startswith('Config:\n'):
            self._emit(record, f'Config and hooks: see {self.log_file}')
            return False
        if 'System environment:' in msg:
            found = {k: re.search(rf'^\s*{k}: (.*)$', msg, re.M) for k in _RUNTIME_KEYS}
            self._emit(record, 'Runtime: ' + ', '.join(f'{k}: {m.group(1)}' for k, m in found.items() if m))
            return False
        return not any(msg.startswith(p) or p in msg[:80] for p in _FILE_ONLY)


@RUNNERS.register_module()
class ConciseRunner(Runner):
    """``Runner`` with :class:`ScreenSummaryFilter` on its console handler (the log file is unchanged)."""

    def build_logger(self, log_level='INFO', log_file=None, **kwargs):
        logger = super().build_logger(log_level, log_file, **kwargs)
        files = [h.baseFilename for h in logger.handlers if isinstance(h, logging.FileHandler)]
        for h in logger.handlers:
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) and not any(
                    isinstance(f, ScreenSummaryFilter) for f in h.filters):
                h.addFilter(ScreenSummaryFilter(h, files[0] if files else 'the log file'))
        return logger
