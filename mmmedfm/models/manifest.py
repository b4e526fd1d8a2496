"""Known foundation models: family, input size, embedding width, licence, and where the weights go offline.

``sha256`` is the expected hash of the main weight file when published; ``None`` when unknown (we never
invent one). ``local_dir`` is where ``tools/misc/check_models.py`` looks and tells you to put the files.
"""
from typing import Dict, List, Optional

MODELS_DIR = 'data/models'

KNOWN_MODELS: List[Dict] = [
    dict(id='vinid/plip', family='hf_clip', backbone='HFCLIPVision', text='HFCLIPText', image_size=224,
         embed_dim=512, licence='MIT (research use; check the model card)', local_dir='data/models/plip',
         files=['config.json', 'model.safetensors|pytorch_model.bin', 'preprocessor_config.json'], sha256=None),
    dict(id='MahmoodLab/CONCH', family='conch', backbone='CONCHVision', text=None, image_size=448, embed_dim=512,
         licence='CC-BY-NC-ND-4.0 (non-commercial, gated)', local_dir='data/models/CONCH',
         files=['pytorch_model.bin'], sha256=None),
    dict(id='hf-hub:wisdomik/QuiltNet-B-32', family='open_clip', backbone='OpenCLIPVision', text='OpenCLIPText',
         image_size=224, embed_dim=512, licence='MIT (research use; check the model card)',
         local_dir='data/models/QuiltNet-B-32',
         files=['open_clip_config.json', 'open_clip_pytorch_model.bin|open_clip_model.safetensors'], sha256=None),
    dict(id='hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224', family='open_clip',
         backbone='OpenCLIPVision', text='OpenCLIPText', image_size=224, embed_dim=512, licence='MIT',
         local_dir='data/models/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224',
         files=['open_clip_config.json', 'open_clip_pytorch_model.bin|open_clip_model.safetensors'], sha256=None,
         companion='microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract',
         note='its text tower is built from microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract: put that '
              'folder beside it (data/models/BiomedNLP-BiomedBERT-base-uncased-abstract) or in the HF cache'),
    dict(id='ViT-B-16/openai', family='open_clip', backbone='OpenCLIPVision', text='OpenCLIPText',
         image_size=224, embed_dim=512, licence='MIT', local_dir='data/models/clip-vit-b16-openai',
         files=['*.bin|*.pt|*.safetensors'], sha256=None),
    dict(id='facebook/dinov2-base', family='hf_vision', backbone='HFVisionBackbone', text=None, image_size=224,
         embed_dim=768, licence='Apache-2.0', local_dir='data/models/dinov2-base',
         files=['config.json', 'model.safetensors', 'preprocessor_config.json'], sha256=None),
    dict(id='MahmoodLab/UNI', family='timm', backbone='TimmViT', text=None, image_size=224, embed_dim=1024,
         licence='CC-BY-NC-ND-4.0 (non-commercial, gated)', local_dir='data/models/UNI',
         files=['pytorch_model.bin'], sha256=None),
    dict(id='michiyasunaga/BioLinkBERT-large', family='hf_text', backbone=None, text='HFTextEncoder',
         image_size=None, embed_dim=1024, licence='Apache-2.0', local_dir='data/models/BioLinkBERT-large',
         files=['config.json', 'pytorch_model.bin|model.safetensors', 'vocab.txt'], sha256=None),
]


def find_model(model_id: str) -> Optional[Dict]:
    """The manifest entry for ``model_id`` (``hf-hub:`` prefix optional), or ``None``."""
    bare = model_id.replace('hf-hub:', '')
    for entry in KNOWN_MODELS:
        if entry['id'].replace('hf-hub:', '') == bare:
            return entry
    return None
