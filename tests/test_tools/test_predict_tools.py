"""tools/predict.py, mmmedfm.apis.predict, tools/analysis/{ensemble,calibrate}.py on the tiny PLIP + SICAPv2."""
import json
import os.path as osp

import numpy as np
import pandas as pd
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmmedfm.apis import init_model, predict
from mmmedfm.registry import DATASETS
from tests.helpers import cli_options, load_tool

DEMO = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'
CLASSES = ['NC', 'G3', 'G4', 'G5']


def _trainable_only_checkpoint(path, opts, seed):
    """A PEFT checkpoint with only the (randomised) LoRA tensors."""
    model = init_model(DEMO, None, 'cpu', opts)
    gen = torch.Generator().manual_seed(seed)
    state = {n: torch.randn(p.shape, generator=gen) * 0.5 for n, p in model.named_parameters() if p.requires_grad}
    assert state and all('lora_' in n for n in state)
    torch.save(dict(state_dict=state), path)
    return str(path)


def _reference_probs(opts, checkpoint):
    """Probabilities of the test split by model.test_step on the dataset's own pipeline (MMPretrain path)."""
    model = init_model(DEMO, checkpoint, 'cpu', opts)
    dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
    with torch.no_grad():
        scores = [s.pred_score for i in range(len(dataset))
                  for s in model.test_step(pseudo_collate([dataset[i]]))]
    paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    wsi = [dataset.get_data_info(i)['wsi_id'] for i in range(len(dataset))]
    return torch.stack(scores).numpy(), paths, wsi


@pytest.mark.e2e
def test_predict_csv_with_trainable_only_checkpoint(tmp_path, demo_cfg_options):
    ckpt = _trainable_only_checkpoint(tmp_path / 'lora_only.pth', demo_cfg_options, seed=0)
    model = init_model(DEMO, ckpt, 'cpu', demo_cfg_options)
    assert model.load_report['unexpected'] == [] and model.load_report['missing_trainable'] == []
    assert model.load_report['missing']  # the frozen foundation weights, filled from the model
    expected, paths, wsi = _reference_probs(demo_cfg_options, ckpt)
    listing = tmp_path / 'list.csv'
    pd.DataFrame(dict(image=[osp.basename(p) for p in paths], slide_id=wsi)).to_csv(listing, index=False)
    out = tmp_path / 'preds.csv'
    tool = load_tool('tools/predict.py')
    tool.main([DEMO, ckpt, str(listing), '--out', str(out), '--batch-size', '5',
               '--img-root', osp.dirname(paths[0]), '--cfg-options', *cli_options(demo_cfg_options)])
    df = pd.read_csv(out)
    assert list(df.columns) == ['path', 'wsi_id', 'pred_label', 'pred_class'] + [f'prob_{c}' for c in CLASSES]
    assert df.path.tolist() == paths and df.wsi_id.tolist() == wsi
    probs = df[[f'prob_{c}' for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(df.pred_label, expected.argmax(1))
    assert df.pred_class.tolist() == [CLASSES[i] for i in expected.argmax(1)]
    with pytest.raises(FileExistsError, match='--overwrite'):
        tool.main([DEMO, ckpt, str(listing), '--out', str(out)])


def test_predict_folder_and_single_image(demo_cfg_options, sicapv2_root):
    folder = osp.join(sicapv2_root, 'images')
    df = predict(DEMO, None, folder, batch_size=16, device='cpu', cfg_options=demo_cfg_options, progress=False)
    assert len(df) == 4 * 12 + 3 + 4 * 6  # train + malformed-row + test images of the fixture
    # the same probabilities as MMPretrain's own inferencer on the same model (our loop adds DataLoader
    # workers, spreadsheet inputs and the raw logits that temperature scaling needs)
    from mmpretrain.apis import ImageClassificationInferencer
    theirs = ImageClassificationInferencer(init_model(DEMO, None, 'cpu', demo_cfg_options))(df.path.tolist()[::9])
    np.testing.assert_allclose(df.filter(like='prob_').to_numpy()[::9], np.stack([r['pred_scores'] for r in theirs]),
                               rtol=1e-4, atol=1e-6)
    one = predict(DEMO, None, df.path[7], device='cpu', cfg_options=demo_cfg_options, progress=False)
    np.testing.assert_allclose(one.filter(like='prob_').to_numpy()[0], df.filter(like='prob_').to_numpy()[7],
                               rtol=1e-4, atol=1e-6)  # batch composition does not change a prediction


def test_init_model_equals_mmpretrain_get_model(tmp_path, demo_cfg_options):
    """A full checkpoint (every key, LoRA randomised): our strict loader gives MMPretrain's model exactly."""
    from mmpretrain.apis import get_model
    model = init_model(DEMO, _trainable_only_checkpoint(tmp_path / 'lora.pth', demo_cfg_options, seed=4), 'cpu',
                       demo_cfg_options)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'full.pth')
    ours = init_model(DEMO, str(tmp_path / 'full.pth'), 'cpu', demo_cfg_options)
    assert ours.load_report['missing'] == []
    cfg = ours.cfg.copy()
    cfg.model = dict(cfg.model, _scope_='mmmedfm')
    theirs = get_model(cfg, pretrained=str(tmp_path / 'full.pth'), device='cpu')
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, mode='tensor'), theirs(x, mode='tensor'), rtol=0, atol=0)
    assert not ours.training and not theirs.training


def test_predict_bad_inputs(tmp_path, demo_cfg_options):
    listing = tmp_path / 'list.csv'
    pd.DataFrame(dict(path=['missing.jpg'])).to_csv(listing, index=False)
    with pytest.raises(FileNotFoundError, match=r'row 2.*missing.jpg'):
        predict(DEMO, None, str(listing), cfg_options=demo_cfg_options)
    pd.DataFrame(dict(name=['a.jpg'])).to_csv(listing, index=False)
    with pytest.raises(KeyError, match='path column'):
        predict(DEMO, None, str(listing), cfg_options=demo_cfg_options)


def test_ensemble_averages_member_probabilities(tmp_path, demo_cfg_options):
    # two runs' checkpoints with the same file name: rows are keyed by path, they must not collide
    for s in (1, 2):
        (tmp_path / f'seed{s}').mkdir()
    ckpts = [_trainable_only_checkpoint(tmp_path / f'seed{s}' / 'epoch_20.pth', demo_cfg_options, seed=s)
             for s in (1, 2)]
    ens = load_tool('tools/analysis/ensemble.py')
    out = ens.main([DEMO, *ckpts, '--out', str(tmp_path / 'ens.csv'),
                    '--cfg-options', *cli_options(demo_cfg_options)])
    members = [_reference_probs(demo_cfg_options, c)[0] for c in ckpts]
    assert not np.allclose(members[0], members[1], atol=1e-3)
    np.testing.assert_allclose(out['mean'], (members[0] + members[1]) / 2, rtol=1e-4, atol=1e-6)
    df = pd.read_csv(tmp_path / 'ens.csv')
    np.testing.assert_allclose(df.filter(like='prob_').to_numpy(), out['mean'], rtol=1e-6)
    assert list(out['table'].index) == ['seed1/epoch_20.pth', 'seed2/epoch_20.pth', 'ensemble']
    with pytest.raises(ValueError, match='listed twice'):
        ens.main([DEMO, ckpts[0], ckpts[0], '--cfg-options', *cli_options(demo_cfg_options)])


@pytest.mark.e2e
def test_calibrate_reports_before_after(tmp_path, demo_cfg_options, capsys):
    ckpt = _trainable_only_checkpoint(tmp_path / 'c.pth', demo_cfg_options, seed=3)
    cal = load_tool('tools/analysis/calibrate.py')
    res = cal.main([DEMO, ckpt, '--out', str(tmp_path / 'cal.json'),
                    '--cfg-options', *cli_options(demo_cfg_options)])
    assert 'are the same' in capsys.readouterr().err  # val == test in the SICAPv2 few-shot config
    # T is fitted on this very split here, so the NLL cannot get worse; accuracy is unchanged.
    assert res['temperature'] > 0 and res['after']['nll'] <= res['before']['nll'] + 1e-9
    assert res['after']['accuracy'] == res['before']['accuracy']
    assert json.loads((tmp_path / 'cal.json').read_text())['temperature'] == pytest.approx(res['temperature'])
    assert res['plot'] == str(tmp_path / 'cal_reliability.png') and osp.getsize(res['plot']) > 10_000
    # the fitted temperature reaches predictions: softmax(logits / T), computed here from the plain probabilities
    ref, paths, _ = _reference_probs(demo_cfg_options, ckpt)
    t = res['temperature']
    expected = torch.softmax(torch.from_numpy(ref).double().log() / t, -1).numpy()
    assert abs(t - 1.) > 1e-3 and not np.allclose(expected, ref, atol=1e-4)
    df = load_tool('tools/predict.py').main([DEMO, ckpt, paths[0],
                                             '--out', str(tmp_path / 'p.csv'), '--temperature',
                                             str(tmp_path / 'cal.json'), '--cfg-options',
                                             *cli_options(demo_cfg_options)])
    np.testing.assert_allclose(df.filter(like='prob_').to_numpy()[0], expected[0], rtol=1e-4, atol=1e-6)
    clean = torch.load(ckpt)
    clean['state_dict'].pop('head.not_a_param', None)  # tools/test.py loads strictly
    torch.save(clean, tmp_path / 'clean.pth')
    load_tool('tools/test.py').main([DEMO, str(tmp_path / 'clean.pth'), '--temperature', str(tmp_path / 'cal.json'), '--work-dir',
                                     str(tmp_path / 'test'), '--out', str(tmp_path / 'preds.pkl'),
                                     '--cfg-options', *cli_options(demo_cfg_options)])
    import mmengine
    scores = np.stack([r['pred_score'].numpy() for r in mmengine.load(str(tmp_path / 'preds.pkl'))])
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)
