"""Model builds and preprocessing against their references: QuickGELU for OpenAI weights (open_clip's
``-quickgelu`` configs), each model base's resize (HF CLIPImageProcessor, open_clip's transform, torchvision),
the pooler refusal, CITE's neck init and CITE's "token" prompt init."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image
from torch import nn

from mmmedfm.models.backbones import HFTextEncoder, OpenCLIPText, OpenCLIPVision
from mmmedfm.models.necks.projection_neck import ProjectionNeck
from mmmedfm.models.peft import apply_peft
from mmmedfm.models.utils.data_preprocessor import VLMDataPreprocessor
from mmmedfm.models.utils.open_clip_loader import tag_wants_quick_gelu

TINY = dict(embed_dim=16, vision_cfg=dict(image_size=32, layers=2, width=32, head_width=16, patch_size=8),
            text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))


@pytest.fixture(scope='module')
def tiny_openai_file(tmp_path_factory):
    """A tiny built-in-style open_clip config 'TinyViT' (+ its '-quickgelu' twin, as open_clip ships
    ViT-B-16 / ViT-B-16-quickgelu) and a state-dict checkpoint file for it."""
    from open_clip.factory import _MODEL_CONFIGS
    _MODEL_CONFIGS['TinyViT'] = copy.deepcopy(TINY)
    _MODEL_CONFIGS['TinyViT-quickgelu'] = dict(copy.deepcopy(TINY), quick_gelu=True)
    import open_clip
    torch.manual_seed(0)
    model = open_clip.create_model('TinyViT-quickgelu')
    with torch.no_grad():  # larger pre-activations, so GELU and QuickGELU differ clearly
        for p in model.parameters():
            p.mul_(4.)
    path = str(tmp_path_factory.mktemp('tiny_openai') / 'tiny_openai.bin')
    torch.save(model.state_dict(), path)
    yield path
    _MODEL_CONFIGS.pop('TinyViT')
    _MODEL_CONFIGS.pop('TinyViT-quickgelu')


def test_quick_gelu_build_equals_open_clip_quickgelu_model(tiny_openai_file):
    import open_clip
    ref = open_clip.create_model('TinyViT-quickgelu', pretrained=tiny_openai_file).eval()
    x = torch.randn(2, 3, 32, 32)
    tokens = open_clip.get_tokenizer('TinyViT')(['a', 'poorly differentiated adenocarcinoma'])
    with torch.no_grad():
        ref_img = nn.functional.normalize(ref.encode_image(x), dim=-1)
        ref_txt = nn.functional.normalize(ref.encode_text(tokens), dim=-1)
        ours = OpenCLIPVision(tiny_openai_file, model_name='TinyViT', quick_gelu=True).eval()
        assert (ours(x)[0] - ref_img).abs().max() <= 1e-6
        text = OpenCLIPText(tiny_openai_file, model_name='TinyViT', quick_gelu=True)
        assert (text.encode(['a', 'poorly differentiated adenocarcinoma']) - ref_txt).abs().max() <= 1e-6
        gelu = OpenCLIPVision(tiny_openai_file, model_name='TinyViT', quick_gelu=False).eval()
        assert (gelu(x)[0] - ref_img).abs().max() > 1e-4  # the plain GELU build is a different network


def test_openai_tag_asks_for_quick_gelu_and_the_clip_base_sets_it():
    assert tag_wants_quick_gelu('ViT-B-16', 'openai')
    assert not tag_wants_quick_gelu('ViT-B-16', 'laion2b_s34b_b88k')
    assert not tag_wants_quick_gelu('ViT-B-16', '/some/file.bin')
    cfg = Config.fromfile('configs/_base_/models/clip_vit_b16.py')
    assert cfg.model.backbone.quick_gelu and cfg.model.head.text_encoder.quick_gelu


def _tile(size=300, seed=0):
    """A textured RGB tile (smooth blobs + fine noise), uint8."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((size // 10, size // 10, 3))
    img = np.array(Image.fromarray((coarse * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC), float)
    img += rng.normal(0, 20, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _ours(base, rgb, mean, std):
    """The model base's resize through VLMDataPreprocessor, on the image as LoadImageFromFile gives it (BGR)."""
    resize = Config.fromfile(f'configs/_base_/models/{base}.py').image_resize
    pre = VLMDataPreprocessor(mean=[255 * m for m in mean], std=[255 * s for s in std], resize=resize)
    bgr = torch.from_numpy(np.ascontiguousarray(rgb[..., ::-1])).permute(2, 0, 1)
    return pre(dict(inputs=[bgr]))['inputs'][0]


def test_plip_resize_equals_hf_clip_image_processor():
    from transformers import CLIPImageProcessor
    # vinid/plip's preprocessor_config.json values (HF CLIP defaults: shortest edge 224, bicubic, crop 224).
    proc = CLIPImageProcessor(size={'shortest_edge': 224}, crop_size={'height': 224, 'width': 224}, resample=3)
    rgb = _tile()
    ref = torch.from_numpy(proc(Image.fromarray(rgb), return_tensors='np')['pixel_values'][0])
    ours = _ours('plip', rgb, proc.image_mean, proc.image_std)
    assert ours.shape == ref.shape == (3, 224, 224)
    assert (ours - ref).abs().mean() <= 1e-2


@pytest.mark.parametrize('base', ['clip_vit_b16', 'quiltnet', 'biomedclip'])
def test_open_clip_bases_resize_equal_open_clip_transform(base):
    import open_clip
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    transform = open_clip.image_transform(224, is_train=False, mean=mean, std=std)
    rgb = _tile(seed=1)
    ref = transform(Image.fromarray(rgb))
    ours = _ours(base, rgb, mean, std)
    assert ours.shape == ref.shape == (3, 224, 224)
    assert (ours - ref).abs().mean() <= 1e-2


def test_conch_resize_equals_its_torchvision_transform():
    from torchvision import transforms as T
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    transform = T.Compose([T.Resize(448, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(448),
                           T.ToTensor(), T.Normalize(mean, std)])
    rgb = _tile(seed=2)[:, :280]  # non-square: the centre crop matters
    ref = transform(Image.fromarray(rgb))
    ours = _ours('conch', rgb, mean, std)
    assert ours.shape == ref.shape == (3, 448, 448)
    assert (ours - ref).abs().mean() <= 1e-2


def test_dinov2_style_resize_equals_torchvision():
    from torchvision import transforms as T
    from mmmedfm.utils.image_resize import resize_image
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    transform = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
                           T.ToTensor(), T.Normalize(mean, std)])
    rgb = _tile(seed=3)
    ref = transform(Image.fromarray(rgb))
    out = resize_image(torch.from_numpy(rgb).permute(2, 0, 1), 256, 224) / 255.
    ours = (out - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    assert (ours - ref).abs().mean() <= 1e-2


def test_pooler_refused_without_pooler_weights(tmp_path, tiny_bert_dir):
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    mlm = AutoModelForMaskedLM.from_pretrained(tiny_bert_dir)
    mlm.save_pretrained(tmp_path / 'mlm')
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(tmp_path / 'mlm')
    with pytest.raises(ValueError, match="pooling='cls'"):
        HFTextEncoder(str(tmp_path / 'mlm'), pooling='pooler')
    cls_a = HFTextEncoder(str(tmp_path / 'mlm'), pooling='cls').encode(['tubular adenocarcinoma'])
    cls_b = HFTextEncoder(str(tmp_path / 'mlm'), pooling='cls').encode(['tubular adenocarcinoma'])
    torch.testing.assert_close(cls_a, cls_b, rtol=0, atol=0)
    pooled = HFTextEncoder(tiny_bert_dir, pooling='pooler').encode(['tubular adenocarcinoma'])  # BertModel export
    torch.testing.assert_close(pooled, HFTextEncoder(tiny_bert_dir, pooling='pooler').encode(
        ['tubular adenocarcinoma']), rtol=0, atol=0)


def test_neck_normal_identity_equals_cite_init():
    """CITE's ProjectionNeck(init='normal_identity'): nn.Linear, then weight ~ N(0, 0.02), + I on the square."""
    torch.manual_seed(7)
    ref = nn.Linear(24, 40)
    nn.init.normal_(ref.weight, std=0.02)
    with torch.no_grad():
        ref.weight[:24, :24] += torch.eye(24)
    torch.manual_seed(7)
    ours = ProjectionNeck(24, 40, init='normal_identity')
    torch.testing.assert_close(ours.proj.weight, ref.weight, rtol=0, atol=0)
    torch.testing.assert_close(ours.proj.bias, ref.bias, rtol=0, atol=0)
    assert ref.bias.abs().max() > 0 and ref.bias.abs().max() <= 1 / 24 ** 0.5


def test_vpt_token_init_is_the_first_batch_mean_token(tiny_openai_file):
    """CITE's prompt_init='token': prompt = 0 + mean over batch and tokens of the first block's input
    (CLIP: conv1 -> [CLS; patches] + positions -> ln_pre), taken on the first training forward only."""
    tower = OpenCLIPVision(tiny_openai_file, model_name='TinyViT', quick_gelu=True)
    tower.requires_grad_(False)
    apply_peft(tower, [dict(type='VisualPromptTuning', num_tokens=1, init='token')])
    assert tower.vpt.prompts.abs().max() == 0
    x = torch.randn(3, 3, 32, 32)
    v = tower.visual
    with torch.no_grad():
        patches = v.conv1(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([v.class_embedding.expand(3, 1, -1), patches], 1) + v.positional_embedding
        expected = v.ln_pre(tokens).mean(dim=(0, 1))
    tower.eval()
    tower(x)
    assert tower.vpt.prompts.abs().max() == 0  # evaluation never initialises from data
    tower.train()
    tower(x)
    torch.testing.assert_close(tower.vpt.prompts[0, 0], expected, rtol=1e-5, atol=1e-6)
    tower(torch.randn(3, 3, 32, 32))  # only the first batch
    torch.testing.assert_close(tower.vpt.prompts[0, 0], expected, rtol=1e-5, atol=1e-6)
    state = {k: v.clone() for k, v in tower.vpt.state_dict().items()}
    fresh = OpenCLIPVision(tiny_openai_file, model_name='TinyViT', quick_gelu=True)
    apply_peft(fresh, [dict(type='VisualPromptTuning', num_tokens=1, init='token')])
    fresh.vpt.load_state_dict(state)  # a loaded prompt is never re-initialised from data
    fresh.train()
    fresh(torch.randn(3, 3, 32, 32))
    torch.testing.assert_close(fresh.vpt.prompts, state['prompts'], rtol=0, atol=0)
