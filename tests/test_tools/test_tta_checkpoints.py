"""``tools/test.py CONFIG CKPT --tta`` with the checkpoints training writes: trainable-only and merged LoRA."""
import mmengine
import numpy as np
import pytest

from mmmedfm.utils.compat import safe_torch_load
from tests.helpers import NO_FIGURES, cli_options, load_tool

DEMO = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_clip_dir, sicapv2_root):
    """One short LoRA run that writes both a trainable-only ``epoch_1.pth`` and ``merged.pth``."""
    work = tmp_path_factory.mktemp('tta_run')
    cfg = work / 'cfg.py'
    cfg.write_text(f"_base_ = ['{mmengine.utils.path.osp.abspath(DEMO)}']\n"
                   "custom_hooks = [dict(type='TrainableCheckpointHook'), dict(type='FewShotRecordHook'),\n"
                   "                dict(type='EpochSeedHook'), dict(type='MergeLoRAHook')]\n")
    opts = {'model.foundation_model': tiny_clip_dir, 'train_dataloader.dataset.num_shots': 4,
            'train_dataloader.batch_size': 8, 'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
            'test_dataloader.num_workers': 0, 'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 5,
            'optim_wrapper.optimizer.lr': 0.05,
            'model.data_preprocessor.resize.size': 64, 'model.data_preprocessor.resize.crop_size': 64,
            **NO_FIGURES}
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = sicapv2_root
    train_opts = {k: v for k, v in opts.items() if not k.startswith('tta_')}
    load_tool('tools/train.py').main([str(cfg), '--work-dir', str(work), '--cfg-options', *cli_options(train_opts)])
    return str(cfg), work, opts


def _tta_scores(cfg, ckpt, work, opts, name):
    out = str(work / f'{name}.pkl')
    load_tool('tools/test.py').main([cfg, *([ckpt] if ckpt else ['--untrained']), '--tta', '--work-dir',
                                     str(work / name), '--out', out, '--cfg-options', *cli_options(opts)])
    return np.stack([r['pred_score'].numpy() for r in mmengine.load(out)])


def test_tta_with_trainable_only_and_merged_checkpoints(trained):
    cfg, work, opts = trained
    ckpt = safe_torch_load(str(work / 'epoch_1.pth'))
    meta = ckpt['meta']['mmmedfm_base']
    assert meta['trainable_only'] and meta['num_frozen_dropped'] > 0
    assert any('lora_' in k for k in ckpt['state_dict']) and not any('base_layer' in k for k in ckpt['state_dict'])
    # MergeLoRAHook's file (written after training): plain keys, the frozen weights included, no adapters
    full = safe_torch_load(str(work / 'merged.pth'))
    assert full['meta']['mmmedfm_base']['merged']
    assert not any('lora_' in k or 'base_layer' in k for k in full['state_dict'])
    assert len(full['state_dict']) > len(ckpt['state_dict'])
    lora = _tta_scores(cfg, str(work / 'epoch_1.pth'), work, opts, 'lora')
    merged = _tta_scores(cfg, str(work / 'merged.pth'), work, opts, 'merged')
    untrained = _tta_scores(cfg, None, work, opts, 'untrained')  # LoRA B = 0: the pretrained model
    assert lora.shape == (24, 4)  # 4 classes x 6 test images, one averaged prediction each
    # merging is exact up to rounding; both differ from the model before training (the weights were loaded)
    np.testing.assert_allclose(lora, merged, rtol=1e-4, atol=1e-5)
    assert np.abs(lora - untrained).max() > 1e-3
