"""Test-only components, imported by subprocess runs through ``custom_imports`` in a generated config."""
import time

from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook

from mmmedfm.registry import HOOKS, METRICS


@METRICS.register_module()
class SampleCount(BaseMetric):
    """How many samples (and distinct ``sample_idx``) reached the metric after the distributed gather."""

    default_prefix = 'count'

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            self.results.append(int(s['sample_idx']))

    def compute_metrics(self, results) -> dict:
        return dict(samples=len(results), unique=len(set(results)), idx_sum=sum(results))


@HOOKS.register_module()
class SleepInSaveHook(Hook):
    """Sleep inside the checkpoint save of epoch ``at_epoch`` (1-based), after MMEngine has built the checkpoint
    and before it is written; a half-written ``<name>.part`` (the first bytes of a zip) mimics a write in
    progress. ``<work_dir>/sleeping`` tells the test when to kill the run."""

    priority = 'LOWEST'

    def __init__(self, at_epoch: int = 2, seconds: float = 60.):
        self.at_epoch, self.seconds = at_epoch, seconds

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if runner.epoch + 1 != self.at_epoch:
            return
        with open(f'{runner.work_dir}/epoch_{self.at_epoch}.pth.part', 'wb') as f:
            f.write(b'PK\x03\x04' + b'\0' * 60)
        open(f'{runner.work_dir}/sleeping', 'w').close()
        time.sleep(self.seconds)
