"""End-to-end runs of tools/train.py and tools/test.py on the tiny PLIP checkpoint and synthetic SICAPv2."""
import glob
import os.path as osp

import pandas as pd
import pytest
import torch

from mmmedfm.utils.compat import safe_torch_load
from tests.helpers import cli_options, load_tool

DEMO = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'


@pytest.mark.e2e
def test_demo_trains_and_tests(tmp_path, demo_cfg_options):
    train = load_tool('tools/train.py')
    runner = train.main([DEMO, '--work-dir', str(tmp_path), '--cfg-options', *cli_options(demo_cfg_options)])
    ckpts = glob.glob(str(tmp_path / 'epoch_*.pth'))
    assert [osp.basename(c) for c in ckpts] == ['epoch_2.pth']
    # FewShotRecordHook (default runtime) wrote the 4-shot x 4-class support.
    support = pd.read_csv(tmp_path / 'few_shot_support.csv')
    assert support.groupby('label').size().tolist() == [4, 4, 4, 4]
    # LoRA is the only trainable part of the backbone; the text embeddings are a frozen buffer.
    trainable = {n for n, p in runner.model.named_parameters() if p.requires_grad}
    assert trainable and all('lora_' in n for n in trainable)
    test = load_tool('tools/test.py')
    metrics = test.main([DEMO, ckpts[0], '--work-dir', str(tmp_path / 'test'), '--out', str(tmp_path / 'p.pkl'),
                         '--cfg-options', *cli_options(demo_cfg_options)])
    _check_against_sklearn(metrics, str(tmp_path / 'p.pkl'))


def _check_against_sklearn(metrics, predictions):
    """The logged metrics (percent) equal sklearn's on the predictions ``tools/test.py --out`` dumped."""
    import mmengine
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    preds = mmengine.load(predictions)
    y = [int(p['gt_label']) for p in preds]
    y_pred = [int(p['pred_score'].argmax()) for p in preds]
    assert metrics['cls/accuracy'] == pytest.approx(100. * accuracy_score(y, y_pred), abs=1e-6)
    assert metrics['cls/balanced_accuracy'] == pytest.approx(100. * balanced_accuracy_score(y, y_pred), abs=1e-6)


@pytest.mark.e2e
def test_resume_reaches_the_same_state(tmp_path, demo_cfg_options):
    train = load_tool('tools/train.py')
    opts = demo_cfg_options  # the notebook's pipeline has no random augmentation (numpy RNG is not checkpointed)
    train.main([DEMO, '--work-dir', str(tmp_path / 'full'), '--cfg-options', *cli_options(opts)])
    half = dict(opts, **{'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1})
    train.main([DEMO, '--work-dir', str(tmp_path / 'cut'), '--cfg-options', *cli_options(half)])
    train.main([DEMO, '--work-dir', str(tmp_path / 'cut'), '--resume', '--cfg-options', *cli_options(opts)])
    full = safe_torch_load(tmp_path / 'full' / 'epoch_2.pth')
    resumed = safe_torch_load(tmp_path / 'cut' / 'epoch_2.pth')
    assert full['meta']['iter'] == resumed['meta']['iter']
    for k, v in full['state_dict'].items():
        torch.testing.assert_close(resumed['state_dict'][k], v, rtol=0, atol=0, msg=k)


@pytest.mark.e2e
def test_missing_model_is_a_clear_error(tmp_path, demo_cfg_options, hf_offline):
    from mmmedfm.models.utils.hub import ModelNotAvailableError
    train = load_tool('tools/train.py')
    opts = dict(demo_cfg_options, **{'model.foundation_model': 'vinid/plip-not-downloaded'})
    with pytest.raises(ModelNotAvailableError, match=r"'vinid/plip-not-downloaded'.*--cfg-options"):
        train.main([DEMO, '--work-dir', str(tmp_path), '--cfg-options', *cli_options(opts)])


@pytest.mark.e2e
def test_bad_cfg_option_key_is_refused(tmp_path, demo_cfg_options):
    train = load_tool('tools/train.py')
    with pytest.raises(KeyError, match='trian_dataloader'):
        train.main([DEMO, '--work-dir', str(tmp_path), '--cfg-options', 'trian_dataloader.batch_size=4'])


@pytest.mark.e2e
def test_amp_on_cpu_runs_the_forward_in_bf16_and_trains(tmp_path, demo_cfg_options, monkeypatch):
    """``--amp`` without a GPU: MMEngine's autocast (bf16, the only CPU autocast dtype) is active in the training
    forward, the fp32 parameters still get updated."""
    from mmmedfm.models.backbones import HFCLIPVision
    seen = []
    plain_forward = HFCLIPVision.forward_features

    def recording(self, x, tokens=False):  # the dtype a linear layer of the tower computes in
        linear = next(m for m in self.modules() if isinstance(m, torch.nn.Linear))
        dtypes = []
        handle = linear.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
        out = plain_forward(self, x, tokens)
        handle.remove()
        seen.append((self.training, torch.is_autocast_enabled('cpu'), dtypes[0]))
        return out

    monkeypatch.setattr(HFCLIPVision, 'forward_features', recording)
    opts = dict(demo_cfg_options, **{'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
                                     'optim_wrapper.optimizer.lr': 0.05})
    runner = load_tool('tools/train.py').main([DEMO, '--amp', '--work-dir', str(tmp_path),
                                               '--cfg-options', *cli_options(opts)])
    assert type(runner.optim_wrapper).__name__ == 'AutocastOptimWrapper'
    train_steps = [s for s in seen if s[0]]
    assert len(train_steps) == 2  # 16 support images, batch 8
    assert all(enabled and dtype == torch.bfloat16 for _, enabled, dtype in train_steps)
    assert all(enabled for training, enabled, _ in seen if not training)  # validation autocasts too
    lora = {n: p for n, p in runner.model.named_parameters() if p.requires_grad}
    assert all(p.dtype == torch.float32 for p in lora.values())
    lora_b = [p for n, p in lora.items() if 'lora_B' in n]
    assert lora_b and all(p.abs().max() > 0 for p in lora_b)  # B starts at 0: the bf16 steps updated it
