# Runtime defaults: mmpretrain's, switched to the mmmedfm scope (our registries, with mmpretrain's as parents).
_base_ = ['mmpretrain::_base_/default_runtime.py']

default_scope = 'mmmedfm'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    # Few-shot runs are short: keep the last checkpoint only. AtomicCheckpointHook = MMEngine's CheckpointHook
    # writing through a temporary file + fsync + rename and deleting the previous checkpoint only afterwards,
    # so a kill or a full disk during the write never loses the last complete checkpoint.
    checkpoint=dict(type='mmmedfm.AtomicCheckpointHook', interval=1, max_keep_ckpts=1),
)

env_cfg = dict(dist_cfg=dict(backend='nccl'))

# Few-shot results are compared across seeds: always seed.
randomness = dict(seed=0, deterministic=False)

# - TrainableCheckpointHook: checkpoints hold only the trainable parameters (+ base-weights identity in
#   meta['mmmedfm_base']); loading puts them on top of the pretrained weights the constructor loads. Add
#   dict(type='MergeLoRAHook') to merge LoRA into the base weights at the end of training.
# - FewShotRecordHook: every run writes its training images (path, label, class, wsi) to
#   {work_dir}/few_shot_support.csv.
# - EpochSeedHook: reseeds python/numpy/torch (and the dataloader workers) from (seed, epoch, rank) before every
#   epoch, so that `--resume` repeats the random augmentation of an uninterrupted run (exact with
#   num_workers=0 or persistent_workers=False; see mmmedfm/engine/hooks/epoch_seed_hook.py).
# A config that sets its own `custom_hooks` list replaces this one: keep these hooks in it.
custom_hooks = [dict(type='TrainableCheckpointHook'), dict(type='FewShotRecordHook'), dict(type='EpochSeedHook')]
