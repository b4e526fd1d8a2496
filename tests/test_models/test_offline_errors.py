"""A model that is neither local nor cached gives one clear error naming the id and how to supply a dir."""
import pytest

from mmmedfm.models.utils.hub import ModelNotAvailableError
from mmmedfm.registry import MODELS

CASES = [
    (dict(type='OpenCLIPVision', pretrained='hf-hub:wisdomik/QuiltNet-B-32-not-here'), 'QuiltNet-B-32-not-here'),
    (dict(type='OpenCLIPText', pretrained='hf-hub:microsoft/BiomedCLIP-not-here'), 'BiomedCLIP-not-here'),
    (dict(type='OpenCLIPVision', pretrained='openai', model_name='ViT-B-16'), "'ViT-B-16'.*'openai'"),
    (dict(type='OpenCLIPVision', pretrained='/no/such/quiltnet'), '/no/such/quiltnet'),
    (dict(type='CONCHVision', pretrained='MahmoodLab/CONCH-not-here'), 'CONCH-not-here'),
    (dict(type='CONCHVision', pretrained='/no/such/conch/pytorch_model.bin'), '/no/such/conch'),
    (dict(type='HFVisionBackbone', pretrained='facebook/dinov2-not-here'), 'dinov2-not-here'),
    (dict(type='TimmViT', model_name='vit_large_patch16_224', pretrained='/no/such/uni.bin'), '/no/such/uni.bin'),
    (dict(type='TimmViT', model_name='vit_large_patch16_224', pretrained='hf-hub:MahmoodLab/UNI-not-here'),
     'UNI-not-here'),
    (dict(type='HFTextEncoder', pretrained='michiyasunaga/BioLinkBERT-not-here'), 'BioLinkBERT-not-here'),
]


@pytest.mark.parametrize('cfg,name', CASES, ids=[c[0]['type'] + str(i) for i, c in enumerate(CASES)])
def test_missing_model_names_id_and_fix(cfg, name, hf_offline):
    with pytest.raises(ModelNotAvailableError, match=name) as err:
        MODELS.build(cfg)
    assert 'cfg-options' in str(err.value)
