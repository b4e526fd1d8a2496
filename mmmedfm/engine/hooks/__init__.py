from .atomic_checkpoint_hook import AtomicCheckpointHook
from .epoch_seed_hook import EpochSeedHook, epoch_seed, seed_worker
from .few_shot_record_hook import FewShotRecordHook
from .merge_lora_hook import MergeLoRAHook
from .trainable_checkpoint_hook import TrainableCheckpointHook

__all__ = ['AtomicCheckpointHook', 'EpochSeedHook', 'FewShotRecordHook', 'MergeLoRAHook', 'TrainableCheckpointHook',
           'epoch_seed', 'seed_worker']
