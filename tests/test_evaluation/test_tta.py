"""Pathology TTA (4 quarter turns x {none, horizontal flip}) through MMPretrain's TTA model."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose, pseudo_collate

from mmmedfm.apis import init_model
from mmmedfm.registry import MODELS, TRANSFORMS
from tests.helpers import NO_FIGURES, cli_options, load_tool

DEMO = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'


def test_rot90_is_numpy_rot90():
    img = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    for k in range(-1, 6):
        out = TRANSFORMS.build(dict(type='Rot90', k=k))(dict(img=img.copy()))
        np.testing.assert_array_equal(out['img'], np.rot90(img, k))
        assert out['img_shape'] == out['img'].shape[:2]
    with pytest.raises(ValueError, match='integer'):
        TRANSFORMS.build(dict(type='Rot90', k=0.5))


def test_tta_is_the_mean_of_the_transformed_predictions(demo_cfg_options, sicapv2_root):
    model = init_model(DEMO, None, 'cpu', demo_cfg_options)
    tta_pipeline = copy.deepcopy(model.cfg.tta_pipeline)
    tta = MODELS.build(dict(model.cfg.tta_model, module=model)).eval()
    paths = sorted(glob.glob(osp.join(sicapv2_root, 'images', '*.jpg')))[:3]
    items = [Compose(tta_pipeline)(dict(img_path=p, gt_label=0, wsi_id='w')) for p in paths]
    assert len(items[0]['inputs']) == 8
    with torch.no_grad():
        merged = tta.test_step(pseudo_collate(items))
    # Independent: the 8 views made with numpy, each predicted on its own, probabilities averaged.
    load_resize = Compose(tta_pipeline[:1])  # loading; the model's data preprocessor resizes
    pack = Compose([dict(type='PackInputs')])
    for path, sample in zip(paths, merged):
        img = load_resize(dict(img_path=path))['img']
        views = [np.ascontiguousarray(np.rot90(img, k)[:, ::-1] if flip else np.rot90(img, k))
                 for k in range(4) for flip in (False, True)]
        with torch.no_grad():
            scores = torch.stack([model.test_step(pseudo_collate([pack(dict(img=v))]))[0].pred_score
                                  for v in views])
        assert scores.std(0).max() > 1e-4  # the views really differ for this (random) model
        torch.testing.assert_close(sample.pred_score, scores.mean(0), rtol=1e-5, atol=1e-6)
        assert sample.wsi_id == 'w'  # slide ids survive the merge, for WSIMetric


@pytest.mark.e2e
def test_test_tool_tta_writes_clinical_figures(tmp_path, demo_cfg_options):
    test = load_tool('tools/test.py')
    opts = {k: v for k, v in demo_cfg_options.items() if k not in NO_FIGURES}  # the figures are the subject
    metrics = test.main([DEMO, '--tta', '--untrained', '--work-dir', str(tmp_path), '--out',
                         str(tmp_path / 'p.pkl'), '--cfg-options', *cli_options(opts)])
    assert metrics['wsi/num_slides'] == 12  # 4 classes x 3 synthetic slides
    from tests.test_tools.test_train_test_tools import _check_against_sklearn
    _check_against_sklearn(metrics, str(tmp_path / 'p.pkl'))
    for name in ('cls_confusion_matrix.png', 'cls_confusion_matrix.csv', 'cls_reliability.png',
                 'wsi_confusion_matrix.png', 'wsi_reliability.png'):
        assert len(glob.glob(str(tmp_path / '*' / 'eval' / name))) == 1, name
