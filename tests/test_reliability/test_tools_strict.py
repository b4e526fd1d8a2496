"""Tools refuse what would silently do the wrong thing: another model's checkpoint in predict.py, test.py on
an untrained model, wrong-type or mangled --cfg-options, an unreadable experiment.json."""
import argparse
import json

import pandas as pd
import pytest
import torch

from mmmedfm.apis import init_model
from mmmedfm.utils.cli import CfgOptionsAction
from tests.helpers import cli_options, load_tool
from tests.test_reliability.utils import DEMO


def _foreign_checkpoint(path, opts):
    """The demo model's LoRA tensors plus one key the model does not have (another model's checkpoint)."""
    model = init_model(DEMO, None, 'cpu', opts)
    state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    state['head.other_model_weight'] = torch.zeros(3)
    torch.save(dict(state_dict=state, meta=dict()), path)
    return str(path)


def test_predict_refuses_a_foreign_checkpoint_like_test(tmp_path, demo_cfg_options, sicapv2_root):
    ckpt = _foreign_checkpoint(tmp_path / 'other.pth', demo_cfg_options)
    listing = tmp_path / 'list.csv'
    pd.DataFrame(dict(path=[f'{sicapv2_root}/images/x.jpg'])).to_csv(listing, index=False)
    expected = r"1 keys not in the model, e.g. \['head\.other_model_weight'\]"
    with pytest.raises(KeyError, match=rf'{ckpt}: {expected}'):
        load_tool('tools/predict.py').main([DEMO, ckpt, str(listing), '--out', str(tmp_path / 'p.csv'),
                                            '--cfg-options', *cli_options(demo_cfg_options)])
    assert not (tmp_path / 'p.csv').exists()
    with pytest.raises(KeyError, match=expected):
        load_tool('tools/test.py').main([DEMO, ckpt, '--work-dir', str(tmp_path / 't'),
                                         '--cfg-options', *cli_options(demo_cfg_options)])


def test_test_tool_refuses_a_trainable_config_without_checkpoint(tmp_path, demo_cfg_options):
    with pytest.raises(ValueError, match=r'lora-zs_plip_16shot-20e_sicapv2_demo\.py trains 1,536 parameters but no '
                                         r'checkpoint was given.*--untrained'):
        load_tool('tools/test.py').main([DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                                         *cli_options(demo_cfg_options)])


def _parse(*pairs):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    return parser.parse_args(['--cfg-options', *pairs]).cfg_options


def test_cfg_options_values_are_kept_verbatim():
    assert _parse('a=/data/my models/plïp ü', "b=['x y', 2]", 'c=[1,2]', 'd=(64, 64)', 'e=1e-3', 'f=true',
                  'g=None', 'h=[a, b]', 'i="quoted value"') == dict(
        a='/data/my models/plïp ü', b=['x y', 2], c=[1, 2], d=(64, 64), e=1e-3, f=True, g=None, h=['a', 'b'],
        i='quoted value')


def test_cfg_options_path_with_spaces_reaches_the_error(tmp_path, demo_cfg_options, monkeypatch):
    from mmmedfm.models.utils.hub import ModelNotAvailableError
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    missing = str(tmp_path / 'my models' / 'plïp')
    opts = cli_options({k: v for k, v in demo_cfg_options.items() if k != 'model.foundation_model'})
    with pytest.raises(ModelNotAvailableError, match=missing):
        load_tool('tools/train.py').main([DEMO, '--work-dir', str(tmp_path / 'w'), '--cfg-options', *opts,
                                          f'model.foundation_model={missing}'])


@pytest.mark.parametrize('option,expected', [('optim_wrapper.optimizer.lr=fast', 'float'),
                                             ('train_cfg.max_epochs=two', 'int'),
                                             ('train_dataloader.batch_size=true', 'int'),
                                             ('val_dataloader.dataset.test_mode=1', 'bool')])
def test_cfg_options_wrong_type_names_the_expected_type(tmp_path, option, expected):
    key, value = option.split('=')
    with pytest.raises(TypeError, match=rf'--cfg-options {key}=.*: expected {expected}'):
        load_tool('tools/train.py').main([DEMO, '--work-dir', str(tmp_path), '--cfg-options', option])
    assert not list(tmp_path.iterdir())


def test_truncated_experiment_json(tmp_path, demo_cfg_options):
    work = tmp_path / 'work'
    work.mkdir()
    record = work / 'experiment.json'
    record.write_text(json.dumps({'model.type': '"VLMClassifier"'})[:15])
    with pytest.raises(ValueError, match=rf'{record} is not valid JSON .*probably truncated'):
        load_tool('tools/train.py').main([DEMO, '--work-dir', str(work), '--cfg-options',
                                          *cli_options(demo_cfg_options)])
    assert record.read_text() == json.dumps({'model.type': '"VLMClassifier"'})[:15]  # untouched


@pytest.mark.parametrize('content,match', [(b'path\nx.jpg\n', r'cannot be read as an Excel workbook'),
                                           (b'path\n', None)])
def test_predict_input_list_format_errors_name_the_file(tmp_path, demo_cfg_options, content, match):
    from mmmedfm.apis.inference import read_inputs
    listing = tmp_path / ('list.xlsx' if match else 'list.csv')
    listing.write_bytes(content)
    with pytest.raises(ValueError, match=rf'{listing}: ' + (match or 'the table has no data rows')):
        read_inputs(str(listing))
