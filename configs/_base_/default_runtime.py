# Runtime defaults: mmpretrain's, switched to the mmmedfm scope (our registries, with mmpretrain's as parents).
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_scope = 'mmmedfm'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    # Few-shot runs are short: keep the last checkpoint only.
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1),
)

# Checkpoints hold only the trainable parameters (+ base-weights identity in meta['mmmedfm_base']); loading
# puts them on top of the pretrained weights the constructor loads. Add dict(type='MergeLoRAHook') to merge
# LoRA into the base weights at the end of training. A config that sets custom_hooks must keep this one.
custom_hooks = [dict(type='TrainableCheckpointHook')]

env_cfg = dict(dist_cfg=dict(backend='nccl'))

# Few-shot results are compared across seeds: always seed.
randomness = dict(seed=0, deterministic=False)
