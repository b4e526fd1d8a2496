"""Zero-shot via tools/test.py (no checkpoint), one-line backbone swap, and the model doctor."""
import pytest
import torch
from mmengine.config import Config

from tests.helpers import cli_options, load_tool

ZS_DEMO = 'configs/demo/zeroshot_plip_sicapv2_demo.py'


def test_zero_shot_demo_prints_metrics(tmp_path, demo_cfg_options, capsys):
    opts = {k: v for k, v in demo_cfg_options.items() if k.startswith(('model.', 'test_dataloader'))}
    opts['model.head.cache_dir'] = str(tmp_path / 'text')
    metrics = load_tool('tools/test.py').main([ZS_DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                                               *cli_options(opts)])
    assert set(metrics) >= {'cls/accuracy', 'cls/balanced_accuracy'}
    assert 0. <= metrics['cls/balanced_accuracy'] <= 100.
    assert list((tmp_path / 'text').glob('class_*/index.json'))  # class embeddings cached


@pytest.mark.parametrize('base', ['quiltnet', 'biomedclip'])
def test_open_clip_base_swaps_in(tmp_path, base, tiny_open_clip_dir):
    from mmmedfm.registry import MODELS
    cfg = Config.fromfile(f'configs/_base_/models/{base}.py')
    cfg.model.foundation_model = tiny_open_clip_dir
    cfg.model.head.update(num_classes=4, prompts=dict(dataset='SICAPv2Dataset'), cache_dir=str(tmp_path))
    model = MODELS.build(cfg.model).eval()
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx([127.5, 102., 76.5])
    logits = model(torch.rand(2, 3, 32, 32) * 255, mode='tensor')
    assert logits.shape == (2, 4)


def test_doctor_reports_local_and_missing(tmp_path, tiny_clip_dir, hf_offline, capsys):
    doctor = load_tool('tools/misc/check_models.py')
    results = {r['id']: r for r in doctor.main([])}
    assert results['MahmoodLab/CONCH']['status'] == 'missing'
    assert 'data/models/CONCH' in results['MahmoodLab/CONCH']['where']
    assert 'CC-BY-NC-ND' in results['MahmoodLab/CONCH']['licence']
    assert results['openai']['model_name'] == 'ViT-B-16'
    cfg = Config.fromfile('configs/zeroshot/plip_sicapv2.py')
    cfg.model.foundation_model = tiny_clip_dir
    cfg.dump(str(tmp_path / 'c.py'))
    (res, ) = doctor.main(['--config', str(tmp_path / 'c.py')])
    assert res['status'] == 'local' and res['id'] == tiny_clip_dir
    assert 'huggingface-cli download vinid/plip' in doctor.check('vinid/plip')['hint']
