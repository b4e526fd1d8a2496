from .few_shot_record_hook import FewShotRecordHook
from .merge_lora_hook import MergeLoRAHook
from .trainable_checkpoint_hook import TrainableCheckpointHook

__all__ = ['FewShotRecordHook', 'MergeLoRAHook', 'TrainableCheckpointHook']
