"""Config values that used to be accepted and silently train the wrong thing are refused, naming the key."""
import pytest
import torch
from torch import nn

from mmmedfm.models.peft.lora import LoRA
from mmmedfm.registry import DATASETS
from tests.helpers import cli_options, load_tool
from tests.test_reliability.utils import DEMO


@pytest.mark.parametrize('alpha', [0, 0., -4])
def test_lora_alpha_must_be_positive(alpha):
    with pytest.raises(ValueError, match=rf'LoRA alpha must be positive .*got {alpha!r}'):
        LoRA(rank=4, alpha=alpha)


def test_lora_alpha_zero_would_train_nothing():
    """Why alpha=0 is refused: the adapter's output and both gradients are exactly 0 (hand computation)."""
    from mmmedfm.models.peft.lora import LoRALinear
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(6, 5), rank=2, alpha=0.)
    layer(torch.randn(3, 6)).sum().backward()
    assert float(layer.lora_B.weight.grad.abs().max()) == 0. and float(layer.lora_A.weight.grad.abs().max()) == 0.


@pytest.mark.e2e
def test_zero_trainable_parameters_is_refused(tmp_path, demo_cfg_options):
    opts = dict(demo_cfg_options, **{'model.backbone.peft': '[]'})
    with pytest.raises(ValueError, match=r'Nothing to train: the model has 0 trainable parameters '
                                         r'\(model\.backbone\.peft=\[\] leaves the backbone frozen; '
                                         r'model\.head \(TextEmbeddingHead\) has none\)'):
        load_tool('tools/train.py').main([DEMO, '--work-dir', str(tmp_path / 'w'),
                                          '--cfg-options', *cli_options(opts)])
    assert not list((tmp_path / 'w').glob('*.pth'))


@pytest.mark.parametrize('key,value', [('num_shots', 0), ('num_shots', 2.5), ('num_shots', 'one'),
                                       ('num_shots', -1), ('num_shots', True), ('num_wsis', 0),
                                       ('num_wsis', 1.5), ('shot_seed', 'one'), ('wsi_seed', 0.5)])
def test_few_shot_keys_are_checked(sicapv2_root, key, value):
    cfg = dict(type='SICAPv2Dataset', data_root=sicapv2_root, ann_file='partition/Test/Train.xlsx', pipeline=[])
    with pytest.raises(ValueError, match=rf'SICAPv2Dataset: `{key}` must be .*, got {value!r}\.'):
        DATASETS.build(dict(cfg, **{key: value}))


def test_few_shot_keys_still_accept_valid_values(sicapv2_root):
    cfg = dict(type='SICAPv2Dataset', data_root=sicapv2_root, ann_file='partition/Test/Train.xlsx', pipeline=[])
    ds = DATASETS.build(dict(cfg, num_shots=2, shot_seed=3, num_wsis=None))
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert sorted(labels) == [0, 0, 1, 1, 2, 2, 3, 3]
