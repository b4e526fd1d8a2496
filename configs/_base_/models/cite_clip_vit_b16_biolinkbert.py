# CITE (Zhang et al., MICCAI 2023): frozen OpenAI CLIP ViT-B/16 image tower + shallow visual prompt tuning
# (1 prompt token after CLS, the only trainable part of the tower) + a linear projection neck from the 512-d
# CLIP embedding to BioLinkBERT-large's 1024-d space + cosine logits x 100 against frozen BioLinkBERT pooler
# embeddings of the raw class names (computed once, cached). Trainable: 768 + 512 x 1024 + 1024 ~ 0.5 M.
# Set head.num_classes/prompts for the dataset. Another BERT-family model: change
# head.text_encoder.pretrained and neck.out_channels to its hidden size.
_base_ = ['./clip_vit_b16.py']

# As CITE's models/prompt_vit.py and clip_models.py: the prompt starts at zero plus the mean input token of the
# first training batch (init='token'); the neck reads the raw (not L2-normalised) CLIP embedding and starts at
# W = I + N(0, 0.02) with nn.Linear's default bias; the head L2-normalises the projected feature.
model = dict(
    backbone=dict(normalize=False,
                  peft=[dict(type='VisualPromptTuning', num_tokens=1, deep=False, dropout=0., init='token')]),
    neck=dict(type='ProjectionNeck', in_channels=512, out_channels=1024, init='normal_identity'),
    head=dict(
        _delete_=True,
        type='TextEmbeddingHead',
        logit_scale=100.,  # CITE: temperature log(100) = 4.6052, fixed
        text_encoder=dict(type='HFTextEncoder', pretrained='michiyasunaga/BioLinkBERT-large', pooling='pooler'),
    ),
)
