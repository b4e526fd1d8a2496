"""Demo figures written in READMEs are what the commands print today: re-run the listed rows and compare.

The rows checked are listed in ``CHECKED`` (the headline demo and a zero-shot demo); the README table is parsed by
its header names, so reordering rows or columns keeps the test valid. When a recipe changes, re-run the command
and copy the printed numbers into the table.
"""
import glob
import json
import os.path as osp
import re

import pytest

from tests.helpers import ROOT, load_tool

README = osp.join(ROOT, 'configs', 'demo', 'README.md')
COLUMNS = {'patch acc.': 'cls/accuracy', 'balanced acc.': 'cls/balanced_accuracy', 'WSI acc.': 'wsi/accuracy'}
CHECKED = {'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py': 'train',
           'configs/demo/zeroshot_plip_sicapv2_demo.py': 'test'}


def readme_demo_rows(path: str = README) -> dict:
    """``{config path: {metric key: value}}`` from the "Demo numbers" table (config = last backticked path)."""
    text = open(path).read()
    table = text[text.index('**Demo numbers**'):].split('\n\n')[1].splitlines()
    header = [c.strip() for c in table[0].strip('|').split('|')]
    rows = {}
    for line in table[2:]:
        cells = [c.strip() for c in line.strip('|').split('|')]
        config = re.findall(r'`([^`]+\.py)`', cells[0])[-1]
        rows[config] = {COLUMNS[h]: float(cells[i]) for i, h in enumerate(header) if h in COLUMNS}
    return rows


def test_readme_table_parses():
    rows = readme_demo_rows()
    assert set(CHECKED) <= set(rows) and all(len(v) == 3 for v in rows.values())


@pytest.mark.e2e
@pytest.mark.parametrize('config', sorted(CHECKED))
def test_demo_numbers_match_what_the_command_prints(config, tmp_path, demo_assets):
    opts = ['--cfg-options', f"model.head.cache_dir={tmp_path / 'text'}"]
    if CHECKED[config] == 'train':
        load_tool('tools/train.py').main([config, '--work-dir', str(tmp_path), *opts])
        (scalars, ) = glob.glob(str(tmp_path / '*' / 'vis_data' / 'scalars.json'))
        printed = [json.loads(line) for line in open(scalars) if 'cls/accuracy' in line][-1]
    else:
        printed = load_tool('tools/test.py').main([config, '--work-dir', str(tmp_path), *opts])
    written = readme_demo_rows()[config]
    assert {k: round(printed[k], 1) for k in written} == written, f'{config}: README says {written}'
