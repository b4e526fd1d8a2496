"""Tiny random-initialised models of every supported family, written in their real on-disk formats."""
import json
import os
import os.path as osp

import torch

from mmmedfm.utils.demo_assets import IMAGENET_MEAN, IMAGENET_STD, make_tiny_bert, make_tiny_dinov2  # noqa: F401

def make_tiny_open_clip(out_dir: str, seed: int = 0, safetensors: bool = False) -> str:
    """open_clip model in the hf-hub layout: ``open_clip_config.json`` + ``open_clip_pytorch_model.bin``."""
    import open_clip
    os.makedirs(out_dir, exist_ok=True)
    config = dict(
        model_cfg=dict(embed_dim=16,
                       vision_cfg=dict(image_size=32, layers=1, width=32, head_width=16, patch_size=16),
                       text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)),
        preprocess_cfg=dict(mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3]))
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
