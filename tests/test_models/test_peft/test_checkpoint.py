"""Trainable-only checkpoints: what is saved, loading on top of pretrained weights, clear refusals, and the
merge tool; end to end through tools/train.py, tools/test.py and tools/misc/merge_peft.py."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch

from mmmedfm.models.peft.checkpoint import complete_state_dict, load_trainable, trainable_state_dict
from mmmedfm.registry import MODELS
from mmmedfm.utils.compat import safe_torch_load
from tests.helpers import cli_options, load_tool
from tests.test_models.test_peft._tiny import timm_vit

DEMO = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'


def _lora_vit(rank=4):
    from mmmedfm.models.peft import apply_peft
    m = timm_vit()
    apply_peft(m, [dict(type='LoRA', rank=rank, targets=['qkv'])])
    return m


def test_complete_state_dict_checks():
    m = _lora_vit()
    kept, dropped = trainable_state_dict(m, m.state_dict())
    assert set(kept) == {n for n, p in m.named_parameters() if p.requires_grad} and dropped
    with pytest.raises(ValueError, match='LoRA rank mismatch: checkpoint rank 4, model rank 8'):
        complete_state_dict(_lora_vit(rank=8), kept)
    with pytest.raises(KeyError, match='trainable parameters missing'):
        complete_state_dict(m, {k: v for k, v in kept.items() if 'blocks.1.' not in k})
    with pytest.raises(KeyError, match='LoRA weights the model lacks'):
        complete_state_dict(timm_vit(), kept)


def test_load_trainable_equals_mmengine_load_checkpoint(tmp_path):
    """A full DDP-prefixed file: the same tensors as MMEngine's own ``load_checkpoint``; a trainable-only file:
    MMEngine's non-strict load of it (frozen keys untouched); another config's file: refused."""
    from mmengine.runner import load_checkpoint
    torch.manual_seed(0)
    src = _lora_vit()
    for p in src.parameters():
        p.data.normal_()
    full = tmp_path / 'full.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in src.state_dict().items()}), full)
    trainable = tmp_path / 'trainable.pth'
    kept, frozen = trainable_state_dict(src, src.state_dict())
    torch.save(dict(state_dict=kept), trainable)
    for path, frozen_missing in ((full, []), (trainable, frozen)):
        ours, theirs = _lora_vit(), _lora_vit()
        theirs.load_state_dict(ours.state_dict())  # same frozen start
        _, missing = load_trainable(ours, str(path))
        load_checkpoint(theirs, str(path), map_location='cpu', strict=False)
        assert missing == frozen_missing
        for k, v in theirs.state_dict().items():
            torch.testing.assert_close(ours.state_dict()[k], v, rtol=0, atol=0)
    with pytest.raises(KeyError, match='LoRA weights the model lacks'):
        load_trainable(timm_vit(), str(trainable))


@pytest.mark.e2e
def test_trainable_only_roundtrip_and_merge(tmp_path, demo_cfg_options):
    train, test = load_tool('tools/train.py'), load_tool('tools/test.py')
    opts = dict(demo_cfg_options, **{'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1})
    runner = train.main([DEMO, '--work-dir', str(tmp_path), '--cfg-options', *cli_options(opts)])
    ckpt_path = glob.glob(str(tmp_path / 'epoch_*.pth'))[0]
    ckpt = safe_torch_load(ckpt_path)
    trainable = {n for n, p in runner.model.named_parameters() if p.requires_grad}
    buffers = {n for n, _ in runner.model.named_buffers()}
    assert trainable <= set(ckpt['state_dict']) <= trainable | buffers
    base = ckpt['meta']['mmmedfm_base']
    assert base['trainable_only'] and base['foundation_model'] == demo_cfg_options['model.foundation_model']
    assert base['peft'][0]['type'] == 'LoRA' and base['num_frozen_dropped'] > 0
    # tools/test.py puts the adapters on top of the pretrained weights: same logits as the trained model
    runner.model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        trained = runner.model(x, mode='tensor')
    metrics = test.main([DEMO, ckpt_path, '--work-dir', str(tmp_path / 't'), '--cfg-options', *cli_options(opts)])
    # ... and the metric of tools/test.py equals a hand computation on the in-memory trained model
    loader = runner.build_dataloader(runner._test_dataloader)
    labels, preds = [], []
    with torch.no_grad():
        for batch in loader:
            for sample in runner.model.test_step(batch):
                labels.append(int(sample.gt_label))
                preds.append(int(sample.pred_label))
    y, p = np.array(labels), np.array(preds)
    expected = 100. * np.mean([np.mean(p[y == c] == c) for c in np.unique(y)])
    assert metrics['cls/balanced_accuracy'] == pytest.approx(expected, abs=1e-4)
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict(opts)
    fresh = MODELS.build(cfg.model).eval()
    fresh.load_state_dict(complete_state_dict(fresh, ckpt['state_dict']))
    with torch.no_grad():
        torch.testing.assert_close(fresh(x, mode='tensor'), trained, rtol=0, atol=1e-6)
    # another LoRA rank is refused with a message naming it
    bad = dict(opts, **{'model.backbone.peft.0.rank': 2})
    with pytest.raises(ValueError, match='LoRA rank mismatch: checkpoint rank 4, model rank 2'):
        test.main([DEMO, ckpt_path, '--work-dir', str(tmp_path / 'bad'), '--cfg-options', *cli_options(bad)])
    # merged checkpoint: plain keys, loads strictly into the model without LoRA, same logits
    out = str(tmp_path / 'merged.pth')
    load_tool('tools/misc/merge_peft.py').main([DEMO, ckpt_path, '--out', out, '--cfg-options',
                                                *cli_options(opts)])
    merged = safe_torch_load(out)
    cfg.model.backbone.peft = []
    plain = MODELS.build(cfg.model).eval()
    plain.load_state_dict(merged['state_dict'], strict=True)
    with torch.no_grad():
        assert (plain(x, mode='tensor') - trained).abs().max() <= 1e-5
    assert osp.getsize(ckpt_path) < osp.getsize(out)
