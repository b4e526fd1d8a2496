"""tools/dataset_converters/check_dataset.py: counts on good data, non-zero exit on every kind of error."""
import shutil

import pandas as pd

from tests.helpers import cli_options, load_tool

DEMO = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'
PG = 'configs/_base_/datasets/patchgastric_fewshot.py'


def _opts(root, **extra):
    opts = {f'{s}_dataloader.dataset.data_root': root for s in ('train', 'val', 'test')}
    if 'SICAPv2' in root:  # the fixture has 12 images per class; the demo config asks for 16
        opts['train_dataloader.dataset.num_shots'] = 4
    return cli_options(dict(opts, **extra))


def test_counts_on_good_data(sicapv2_root, capsys):
    tool = load_tool('tools/dataset_converters/check_dataset.py')
    assert tool.main([DEMO, '--cfg-options', *_opts(sicapv2_root, **{'train_dataloader.dataset.num_shots': 5})]) == 0
    out = capsys.readouterr().out
    assert '[train] SICAPv2Dataset: 20 images, 12 WSIs' in out
    # Test split: 6 images per class over 3 slides per class (independent: the spreadsheet, grouped by pandas).
    test = pd.read_excel(f'{sicapv2_root}/partition/Test/Test.xlsx')
    test['wsi'] = test['image_name'].str.split('_Block').str[0]
    assert f'[val] SICAPv2Dataset: {len(test)} images, {test["wsi"].nunique()} WSIs' in out
    assert '[test] same dataset as [val]' in out and '0 error(s)' in out


def test_patchgastric_counts(patchgastric_root, capsys):
    tool = load_tool('tools/dataset_converters/check_dataset.py')
    assert tool.main([PG, '--cfg-options', *_opts(patchgastric_root, **{'train_dataloader.dataset.num_wsis': 2})]) == 0
    out = capsys.readouterr().out
    assert "[train] PatchGastricDataset:" in out and "6 WSIs (few-shot support: {'num_wsis': 2" in out


def test_errors_exit_non_zero(sicapv2_root, tmp_path, capsys):
    tool = load_tool('tools/dataset_converters/check_dataset.py')
    root = str(tmp_path / 'SICAPv2')
    shutil.copytree(sicapv2_root, root)
    names = pd.read_excel(f'{root}/partition/Test/Test.xlsx')['image_name']
    (tmp_path / 'SICAPv2' / 'images' / names[0]).unlink()
    (tmp_path / 'SICAPv2' / 'images' / names[1]).write_bytes(b'not a jpeg')
    assert tool.main([DEMO, '--cfg-options', *_opts(root)]) == 1
    out = capsys.readouterr().out
    assert '1 missing image files' in out and '1 unreadable image files' in out and '2 error(s)' in out
    assert tool.main([DEMO, '--no-read', '--cfg-options', *_opts(root)]) == 1  # the missing file still counts
    capsys.readouterr()
    # A config that cannot be built (k > available) is reported, the other splits are still checked.
    assert tool.main([DEMO, '--cfg-options', *_opts(sicapv2_root, **{'train_dataloader.dataset.num_shots': 99})]) == 1
    out = capsys.readouterr().out
    assert "[train] ERROR: cannot build SICAPv2Dataset: ValueError: num_shots=99 but class 'NC'" in out
    assert '[val] SICAPv2Dataset' in out
