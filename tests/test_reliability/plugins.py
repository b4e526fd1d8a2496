"""Test-only components, imported by subprocess runs through ``custom_imports`` in a generated config."""
import time

from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook

from mmmedfm.registry import HOOKS, METRICS


@HOOKS.register_module()
class SleepHook(Hook):
    """Sleep after each training epoch's checkpoint is written, so that a test can kill the run mid-way."""

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW)

    def __init__(self, seconds: float = 1.):
        self.seconds = seconds

    def after_train_epoch(self, runner) -> None:
        time.sleep(self.seconds)


@METRICS.register_module()
class SampleCount(BaseMetric):
    """How many samples (and distinct ``sample_idx``) reached the metric after the distributed gather."""

    default_prefix = 'count'

    def process(self, data_batch, data_samples) -> None:
        for s in data_samples:
            self.results.append(int(s['sample_idx']))

    def compute_metrics(self, results) -> dict:
        return dict(samples=len(results), unique=len(set(results)), idx_sum=sum(results))
