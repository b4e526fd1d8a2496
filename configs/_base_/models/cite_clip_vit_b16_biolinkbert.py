# CITE (Zhang et al., MICCAI 2023): frozen OpenAI CLIP ViT-B/16 image tower + shallow visual prompt tuning
# (1 prompt token after CLS, the only trainable part of the tower) + a linear projection neck from the 512-d
# CLIP embedding to BioLinkBERT-large's 1024-d space + cosine logits x 100 against frozen BioLinkBERT pooler
# embeddings of the raw class names (computed once, cached). Trainable: 768 + 512 x 1024 + 1024 ~ 0.5 M.
# Set head.num_classes/prompts for the dataset. Another BERT-family model: change
# head.text_encoder.pretrained and neck.out_channels to its hidden size.
_base_ = ['./clip_vit_b16.py']

model = dict(
    backbone=dict(peft=[dict(type='VisualPromptTuning', num_tokens=1, deep=False, dropout=0., init='uniform')]),
    neck=dict(type='ProjectionNeck', in_channels=512, out_channels=1024),
    head=dict(
        _delete_=True,
        type='TextEmbeddingHead',
        logit_scale=100.,  # CITE: temperature log(100) = 4.6052, fixed
        text_encoder=dict(type='HFTextEncoder', pretrained='michiyasunaga/BioLinkBERT-large', pooling='pooler'),
    ),
)
