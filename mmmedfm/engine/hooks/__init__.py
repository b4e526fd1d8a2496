from .merge_lora_hook import MergeLoRAHook
from .trainable_checkpoint_hook import TrainableCheckpointHook

__all__ = ['MergeLoRAHook', 'TrainableCheckpointHook']
