"""Tiny random-initialised models of every supported family, written in their real on-disk formats.

Used by the tests and by the offline demo assets (:mod:`mmmedfm.utils.demo_assets`).
"""
import json
import os
import os.path as osp
from typing import Optional, Sequence

import torch

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def make_tiny_open_clip(out_dir: str, seed: int = 0, safetensors: bool = False, image_size: int = 32,
                        patch_size: int = 16, width: int = 32, layers: int = 1, embed_dim: int = 16,
                        mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3), timm_model_name: Optional[str] = None) -> str:
    """open_clip model in the hf-hub layout: ``open_clip_config.json`` + ``open_clip_pytorch_model.bin``.

    With ``image_size=224, patch_size=16`` it has the token layout of OpenAI CLIP ``ViT-B-16`` (1 + 196
    tokens, ``transformer.resblocks``, ``nn.MultiheadAttention``, ``proj``) at toy width. With
    ``timm_model_name`` (e.g. ``'vit_tiny_patch16_224'``; 224 px, the trunk's own size) the image tower is
    BiomedCLIP's kind: an open_clip ``TimmModel`` (timm trunk with fused ``attn.qkv``, linear projection head).
    """
    import open_clip
    os.makedirs(out_dir, exist_ok=True)
    vision_cfg = dict(image_size=image_size, layers=layers, width=width, head_width=16, patch_size=patch_size)
    if timm_model_name:
        vision_cfg = dict(image_size=224, timm_model_name=timm_model_name, timm_model_pretrained=False,
                          timm_pool='', timm_proj='linear')
    config = dict(
        model_cfg=dict(embed_dim=embed_dim,
                       vision_cfg=vision_cfg,
                       text_cfg=dict(context_length=77, vocab_size=49408, width=width, heads=2, layers=layers)),
        preprocess_cfg=dict(mean=list(mean), std=list(std)))
    with open(osp.join(out_dir, 'open_clip_config.json'), 'w') as f:
        json.dump(config, f)
    torch.manual_seed(seed)
    model = open_clip.create_model('local-dir:' + out_dir, load_weights=False)
    with torch.no_grad():
        model.logit_scale.fill_(2.5)
    state = model.state_dict()
    if safetensors:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in state.items()}, osp.join(out_dir, 'open_clip_model.safetensors'))
    else:
        torch.save(state, osp.join(out_dir, 'open_clip_pytorch_model.bin'))
    return out_dir


def conch_parts(width: int = 32, embed_dim: int = 16, image_size: int = 32, seed: int = 0):
    """Independently built modules with CONCH's image-tower layout (timm trunk, attentional pooler...)."""
    from open_clip.transformer import AttentionalPooler
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(seed)
    trunk = VisionTransformer(img_size=image_size, patch_size=16, embed_dim=width, depth=1, num_heads=2,
                              num_classes=0, dynamic_img_size=True)
    pool = AttentionalPooler(d_model=embed_dim, context_dim=width, n_head=2, n_queries=1,
                             norm_layer=torch.nn.LayerNorm)
    ln = torch.nn.LayerNorm(embed_dim)
    torch.nn.init.normal_(ln.weight, 1., .1)
    proj = torch.randn(embed_dim, embed_dim) * embed_dim ** -0.5
    return trunk, pool, ln, proj


def make_tiny_conch(out_dir: str, seed: int = 0) -> str:
    """A CONCH-shaped ``pytorch_model.bin``: ``visual.*`` image tower + caption pooler + text keys."""
    trunk, pool, ln, proj = conch_parts(seed=seed)
    state = {f'visual.trunk.{k}': v for k, v in trunk.state_dict().items()}
    state.update({f'visual.attn_pool_contrast.{k}': v for k, v in pool.state_dict().items()})
    state.update({f'visual.ln_contrast.{k}': v for k, v in ln.state_dict().items()})
    state['visual.proj_contrast'] = proj
    state['visual.ln_caption.weight'] = torch.ones(16)  # captioning / text side: ignored by the image tower
    state['text.token_embedding.weight'] = torch.zeros(10, 16)
    state['logit_scale'] = torch.tensor(4.6)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(state, osp.join(out_dir, 'pytorch_model.bin'))
    return out_dir


def make_tiny_bert(out_dir: str, seed: int = 0, hidden: int = 32, layers: int = 1, intermediate: int = 64,
                   extra_words: Sequence[str] = ()) -> str:
    """BERT (``save_pretrained`` layout, BioLinkBERT's format) with a small WordPiece vocabulary written here
    (+ ``extra_words``)."""
    from transformers import BertConfig, BertModel, BertTokenizer
    os.makedirs(out_dir, exist_ok=True)
    words = ('benign glands atrophic dense cribriform ill formed fused papillary patterns isolated nest cells '
             'without lumen roseting histopathology image of slide showing tissue a the presence on nc g3 g4 g5 '
             'gleason grade well moderately poorly differentiated tubular adenocarcinoma').split() + list(extra_words)
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + sorted(set(words)) + ['##s', '##ed', '##ing']
    vocab_file = osp.join(out_dir, 'vocab.txt')
    with open(vocab_file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    BertTokenizer(vocab_file).save_pretrained(out_dir)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=intermediate, max_position_embeddings=64)
    BertModel(config).save_pretrained(out_dir)
    return out_dir


def make_tiny_dinov2(out_dir: str, seed: int = 0, registers: int = 0) -> str:
    """DINOv2 (``Dinov2Config``/``Dinov2WithRegistersConfig``) + its image processor config."""
    from transformers import BitImageProcessor
    torch.manual_seed(seed)
    kw = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=16)
    if registers:
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel
        model = Dinov2WithRegistersModel(Dinov2WithRegistersConfig(num_register_tokens=registers, **kw))
    else:
        from transformers import Dinov2Config, Dinov2Model
        model = Dinov2Model(Dinov2Config(**kw))
    model.save_pretrained(out_dir)
    BitImageProcessor(image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD).save_pretrained(out_dir)
    return out_dir


def make_tiny_timm(out_dir: str, seed: int = 0, safetensors: bool = False) -> str:
    """A timm ViT checkpoint file (UNI-style: ``init_values`` layer scale), returns the file path."""
    import timm
    torch.manual_seed(seed)
    model = timm.create_model('vit_tiny_patch16_224', **TIMM_KWARGS)
    os.makedirs(out_dir, exist_ok=True)
    if safetensors:
        from safetensors.torch import save_file
        path = osp.join(out_dir, 'model.safetensors')
        save_file(model.state_dict(), path)
    else:
        path = osp.join(out_dir, 'pytorch_model.bin')
        torch.save(model.state_dict(), path)
    return path


TIMM_KWARGS = dict(img_size=32, depth=1, init_values=1e-5, num_classes=0)


BIOMEDBERT_ID = 'microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract'


def make_tiny_biomedclip(out_dir: str, bert_dir: str, seed: int = 0, image_size: int = 224,
                         embed_dim: int = 16) -> str:
    """BiomedCLIP's hf-hub layout: ``open_clip_config.json`` whose ``text_cfg`` names an HF BERT
    (``hf_model_name``/``hf_tokenizer_name`` = ``microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract``), the
    BERT tokenizer files beside it and ``open_clip_pytorch_model.bin``; the image tower is a timm ViT.

    ``bert_dir`` is a tiny BERT folder (:func:`make_tiny_bert`): the companion model whose config open_clip
    needs to build the text tower.
    """
    import shutil

    import open_clip
    os.makedirs(out_dir, exist_ok=True)
    text_cfg = dict(hf_model_name=BIOMEDBERT_ID, hf_tokenizer_name=BIOMEDBERT_ID, hf_proj_type='mlp',
                    hf_pooler_type='cls_last_hidden_state_pooler', context_length=32)
    vision_cfg = dict(timm_model_name='vit_tiny_patch16_224', timm_model_pretrained=False, timm_pool='',
                      timm_proj='linear', image_size=image_size)
    config = dict(model_cfg=dict(embed_dim=embed_dim, vision_cfg=vision_cfg, text_cfg=text_cfg),
                  preprocess_cfg=dict(mean=[0.481, 0.458, 0.408], std=[0.269, 0.261, 0.276]))
    for name in ('vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json'):
        if osp.isfile(osp.join(bert_dir, name)):
            shutil.copy(osp.join(bert_dir, name), out_dir)
    with open(osp.join(out_dir, 'open_clip_config.json'), 'w') as f:
        json.dump(config, f)
    torch.manual_seed(seed)
    model = open_clip.create_model('local-dir:' + out_dir, load_weights=False,
                                   text_cfg=dict(text_cfg, hf_model_name=bert_dir, hf_model_pretrained=False))
    torch.save(model.state_dict(), osp.join(out_dir, 'open_clip_pytorch_model.bin'))
    return out_dir
