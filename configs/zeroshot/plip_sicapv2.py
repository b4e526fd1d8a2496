# Zero-shot PLIP on SICAPv2 (official Test.xlsx): no training, no checkpoint.
#   python tools/test.py configs/zeroshot/plip_sicapv2.py
# Class prototypes = mean of L2-normalised PLIP text embeddings of templates x class descriptions (the seed
# notebook's 4 templates and SICAPv2 descriptions, from SICAPv2Dataset.METAINFO), re-normalised; logits =
# cosine x PLIP's logit scale. Text embeddings are cached in work_dirs/text_embedding_cache.
# Swap the model with one _base_ line (quiltnet.py, biomedclip.py, clip_vit_b16.py), or point at a local copy:
#   --cfg-options model.foundation_model=/path/to/plip
_base_ = [
    '../_base_/models/plip.py',
    '../_base_/datasets/sicapv2_fewshot.py',
    '../_base_/schedules/adam_20e.py',  # unused by test.py; keeps train_dataloader (feature extraction) valid
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(peft=[]),  # frozen: nothing to train, so tools/test.py needs no checkpoint
    head=dict(
        num_classes=4,
        # Override any of these here: templates=[...], descriptions={'NC': [...], ...}, classes=[...].
        prompts=dict(dataset='SICAPv2Dataset'),
    ))
