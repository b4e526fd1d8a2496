"""In-process training cells: same metrics as a separate tools/train.py process; base weights loaded once."""
import pytest

from mmmedfm.models.utils import load_memo
from tests.helpers import NO_FIGURES, load_tool


def cell_setup(sicapv2_root, tiny_clip_dir):
    opts = {'model.foundation_model': tiny_clip_dir, **NO_FIGURES,
            'model.data_preprocessor.resize.size': 64, 'model.data_preprocessor.resize.crop_size': 64}
    for loader in ('train_dataloader', 'val_dataloader'):
        opts.update({f'{loader}.dataset.data_root': sicapv2_root,
                     f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    backbone = dict(name='tiny', config='configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py', cfg_options=opts)
    method = dict(name='LoRA', train_config='configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py',
                  cfg_options={'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
                               'train_dataloader.batch_size': 4})
    return backbone, method


@pytest.mark.e2e
def test_in_process_cells_equal_separate_processes(sicapv2_root, tiny_clip_dir, tmp_path, monkeypatch):
    tool = load_tool('tools/sweep.py')
    backbone, method = cell_setup(sicapv2_root, tiny_clip_dir)
    monkeypatch.setattr(load_memo, '_STORE', None)
    loads = []
    real = load_memo.memoised_load
    monkeypatch.setattr(load_memo, 'memoised_load',
                        lambda key, load: real(key, lambda: loads.append(key) or load()))
    with load_memo.reuse_loaded_models() as store:
        first = tool.run_train_cell(method, backbone, 2, 1, str(tmp_path / 'in1'), in_process=True)
        second = tool.run_train_cell(method, backbone, 2, 2, str(tmp_path / 'in2'), in_process=True)
        clip_keys = [k for k in store if k[0] == 'hf' and k[2] == 'from_pretrained' and 'CLIPModel' in k[1]]
        assert clip_keys and all(store[k] is not load_memo._UNSAFE for k in clip_keys)
    # The CLIP checkpoint was read from disk by the first cell only (vision tower + text tower: one key each).
    assert sorted(set(loads)) == sorted(loads)
    separate = tool.run_train_cell(method, backbone, 2, 2, str(tmp_path / 'sub2'), in_process=False)
    metrics = [k for k in separate if k not in ('wall_time_s', 'time', 'data_time')]  # timings differ
    assert {k: second[k] for k in metrics} == {k: separate[k] for k in metrics}
    assert first['num_support'] == second['num_support'] == 8
    assert any(first[k] != second[k] for k in ('loss', 'accuracy', 'balanced_accuracy', 'auc_macro')
               if k in first) or first != second  # another seed is another run


@pytest.mark.e2e
def test_failed_in_process_cell_names_its_log(sicapv2_root, tiny_clip_dir, tmp_path):
    tool = load_tool('tools/sweep.py')
    backbone, method = cell_setup(sicapv2_root, tiny_clip_dir)
    method = dict(method, cfg_options=dict(method['cfg_options'], **{'model.backbone.type': 'NoSuchTower'}))
    with pytest.raises(RuntimeError, match=r'cell.*train\.log'):
        tool.run_train_cell(method, backbone, 2, 1, str(tmp_path / 'bad'), in_process=True)
