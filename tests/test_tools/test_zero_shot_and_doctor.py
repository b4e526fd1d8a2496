"""Zero-shot via tools/test.py (no checkpoint), one-line backbone swap, and the model doctor."""
import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.helpers import cli_options, load_tool

ZS_DEMO = 'configs/demo/zeroshot_plip_sicapv2_demo.py'


@pytest.mark.e2e
def test_zero_shot_demo_prints_metrics(tmp_path, demo_cfg_options, capsys):
    opts = {k: v for k, v in demo_cfg_options.items() if k.startswith(('model.', 'test_dataloader'))}
    opts['model.head.cache_dir'] = str(tmp_path / 'text')
    metrics = load_tool('tools/test.py').main([ZS_DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                                               *cli_options(opts)])
    # the same numbers from the inference API (another code path) and a hand formula
    from mmmedfm.apis import infer_split, init_model
    logits, y, _ = infer_split(init_model(ZS_DEMO, device='cpu', cfg_options=opts), 'test', progress=False)
    pred = logits.argmax(1)
    assert metrics['cls/accuracy'] == pytest.approx(100. * np.mean(pred == y), abs=1e-4)
    assert metrics['cls/balanced_accuracy'] == pytest.approx(
        100. * np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]), abs=1e-4)
    assert list((tmp_path / 'text').glob('class_*/index.json'))  # class embeddings cached


@pytest.mark.parametrize('base', ['quiltnet', 'biomedclip'])
def test_open_clip_base_swaps_in(tmp_path, base, tiny_open_clip_dir):
    from mmmedfm.registry import MODELS
    cfg = Config.fromfile(f'configs/_base_/models/{base}.py')
    cfg.model.foundation_model = tiny_open_clip_dir
    cfg.model.head.update(num_classes=4, prompts=dict(dataset='SICAPv2Dataset'), cache_dir=str(tmp_path))
    model = MODELS.build(cfg.model).eval()
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx([127.5, 102., 76.5])
    x = torch.rand(2, 3, 32, 32) * 255
    with torch.no_grad():
        logits = model(x, mode='tensor')
    # Independent: open_clip's own towers on the same checkpoint; per class, the prompt embeddings L2-normalised,
    # averaged, re-normalised; logits = logit_scale.exp() * cosine.
    import open_clip
    import torch.nn.functional as F
    from mmmedfm.models.heads.text_embedding_head import resolve_prompts
    ref = open_clip.create_model('local-dir:' + tiny_open_clip_dir).eval()
    tokenizer = open_clip.get_tokenizer('local-dir:' + tiny_open_clip_dir)
    _, prompts = resolve_prompts(dict(dataset='SICAPv2Dataset'))
    with torch.no_grad():
        text = torch.stack([F.normalize(F.normalize(ref.encode_text(tokenizer(p)), dim=-1).mean(0), dim=-1)
                            for p in prompts])
        expected = ref.logit_scale.exp() * F.normalize(ref.encode_image(x), dim=-1) @ text.t()
    assert len(prompts) == 4 and min(len(p) for p in prompts) > 1  # a template ensemble per class
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)


def test_doctor_reports_local_and_missing(tmp_path, tiny_clip_dir, hf_offline, capsys):
    doctor = load_tool('tools/misc/check_models.py')
    results, bad = doctor.main([])
    results = {r['id']: r for r in results}
    assert bad and results['MahmoodLab/CONCH']['status'] == 'missing'
    assert 'data/models/CONCH' in results['MahmoodLab/CONCH']['where']
    assert 'CC-BY-NC-ND' in results['MahmoodLab/CONCH']['licence']
    assert results['openai']['model_name'] == 'ViT-B-16'
    assert results['microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract']['companion_of'].endswith('BiomedCLIP-'
                                                                                                    'PubMedBERT_256-'
                                                                                                    'vit_base_patch16_224')
    assert 'huggingface-cli download vinid/plip' in doctor.check('vinid/plip')['hint']
    only_config = tmp_path / 'plip_config_only'
    only_config.mkdir()
    (only_config / 'config.json').write_text('{}')
    assert doctor.check(str(only_config))['status'] == 'incomplete'
    assert doctor.check(tiny_clip_dir)['status'] == 'local'


def test_doctor_builds_each_part_of_a_config(tmp_path, tiny_clip_dir, tiny_bert_dir, hf_offline, capsys):
    doctor = load_tool('tools/misc/check_models.py')
    cfg = 'configs/peft/zeroshot_plip_sicapv2.py'
    results, bad = doctor.main(['--config', cfg, '--cfg-options', f'model.foundation_model={tiny_clip_dir}'])
    assert not bad and [r['status'] for r in results] == ['ok'] * 3
    assert {r['key'] for r in results} == {'model.foundation_model'}
    only_config = tmp_path / 'plip'
    only_config.mkdir()
    (only_config / 'config.json').write_text(open(f'{tiny_clip_dir}/config.json').read())
    results, bad = doctor.main(['--config', cfg, '--cfg-options', f'model.foundation_model={only_config}'])
    assert bad and {r['part']: r['status'] for r in results}['model.backbone'] != 'ok'
    # CITE: the image tower comes from foundation_model, the text tower has its own key (never the image key)
    results, bad = doctor.main(['--config', 'configs/cite/cite_clip-b16-biolinkbert_16wsi-1000it_patchgastric.py'])
    keys = {r['part']: (r['key'], r['status']) for r in results}
    assert keys['model.text_encoder'] == ('model.head.text_encoder.pretrained', 'missing') and bad
    assert keys['model.backbone'][0] == 'model.foundation_model'
    # adaptor: one key per encoder, reaching the datasets' copies
    from mmmedfm.utils.tiny_models import make_tiny_dinov2
    dinov2 = make_tiny_dinov2(str(tmp_path / 'dinov2'))
    results, bad = doctor.main(['--config', 'configs/adaptor/adaptor_dinov2-b-biolinkbert_20e_patchgastric.py', '--cfg-options',
                                f'unimodal.vision.pretrained={dinov2}',
                                f'unimodal.text.pretrained={tiny_bert_dir}'])
    assert [(r['part'], r['key']) for r in results][:2] == [('unimodal.vision', 'unimodal.vision.pretrained'),
                                                             ('unimodal.text', 'unimodal.text.pretrained')]
    assert [r['status'] for r in results] == ['ok'] * 3 and not bad
