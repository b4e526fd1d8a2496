"""The documented tracker switch: ``--cfg-options "visualizer.vis_backends=[LocalVisBackend,TensorboardVisBackend]"``
writes TensorBoard event files with the same scalars as MMEngine's JSON log."""
import glob
import json
import os.path as osp

import pytest

from tests.helpers import cli_options, load_tool

DEMO = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'


def test_tensorboard_backend_writes_the_logged_scalars(tmp_path, demo_cfg_options):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    opts = dict(demo_cfg_options, **{'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1})
    load_tool('tools/train.py').main([DEMO, '--work-dir', str(tmp_path), '--cfg-options', *cli_options(opts),
                                      'visualizer.vis_backends=[LocalVisBackend,TensorboardVisBackend]'])
    (events, ) = glob.glob(str(tmp_path / '*' / 'vis_data' / 'events.out.tfevents.*'))
    acc = EventAccumulator(events)
    acc.Reload()
    json_lines = [json.loads(line) for line in open(glob.glob(osp.join(tmp_path, '*', 'vis_data',
                                                                       'scalars.json'))[0])]
    val = next(line for line in json_lines if 'cls/balanced_accuracy' in line)
    (tb_val, ) = acc.Scalars('cls/balanced_accuracy')
    assert tb_val.value == pytest.approx(val['cls/balanced_accuracy'], rel=1e-6)
    loss = [line['loss'] for line in json_lines if 'loss' in line]
    assert [s.value for s in acc.Scalars('loss')] == pytest.approx(loss, rel=1e-6)
