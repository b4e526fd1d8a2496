"""Tiny random ViTs of the four families the PEFT methods support (built directly, no downloads)."""
import torch


def timm_vit(**kw):
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    return VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=0, **kw)


def open_clip_vit():
    from open_clip.transformer import VisionTransformer
    torch.manual_seed(0)
    return VisionTransformer(image_size=32, patch_size=8, width=32, layers=2, heads=2, mlp_ratio=2., output_dim=16)


def mmpretrain_vit():
    from mmpretrain.models import VisionTransformer
    torch.manual_seed(0)
    return VisionTransformer(arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
                             img_size=32, patch_size=8)


def hf_clip_vision():
    from transformers import CLIPVisionConfig, CLIPVisionModel
    torch.manual_seed(0)
    return CLIPVisionModel(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                            num_attention_heads=2, image_size=32, patch_size=8))


def randomize_lora(module, std=0.1, seed=1):
    """Give every LoRA weight a non-zero value (B = 0 at init would hide errors in the update)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in module.named_parameters():
            if 'lora_' in n:
                p.copy_(torch.randn(p.shape, generator=g) * std)
