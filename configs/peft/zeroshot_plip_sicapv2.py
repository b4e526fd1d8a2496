# Zero-shot PLIP on SICAPv2 (official Test.xlsx): no training, no checkpoint.
#   python tools/test.py configs/peft/zeroshot_plip_sicapv2.py
# Class prototypes = mean of L2-normalised PLIP text embeddings of templates x class descriptions (the seed
# notebook's 4 templates and SICAPv2 descriptions, from SICAPv2Dataset.METAINFO), re-normalised; logits =
# cosine x PLIP's logit scale. Text embeddings are cached in work_dirs/text_embedding_cache. Override the prompts
# with head.prompts (templates=[...], descriptions={'NC': [...], ...}, classes=[...]); a local copy of the model:
#   --cfg-options model.foundation_model=/path/to/plip
_base_ = ['../_base_/models/plip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[]), head=_base_.zs_head)  # frozen: nothing to train, test.py needs no checkpoint
