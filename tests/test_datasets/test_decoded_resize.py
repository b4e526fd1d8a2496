"""The decoded-image cache stores images at the model's input size (the model's own resize, applied once).

On CPU the numbers are bit-identical to the JPEG path: the cache runs the data preprocessor's own
``resize_image`` (shorter side to ``size``) on the same contiguous ``(C, H, W)`` uint8 tensor, and the
preprocessor is left with the centre crop, a slice. (On a GPU the JPEG path resizes on the device, where
bicubic kernels may round a pixel differently.)
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.evaluator import Evaluator

from mmmedfm.cache import decoded_image_key
from mmmedfm.datasets import SICAPv2Dataset
from mmmedfm.datasets.decoded_dataset import share_model_resize
from mmmedfm.models.utils import VLMDataPreprocessor
from mmmedfm.registry import DATASETS, METRICS, MODELS
from mmmedfm.utils.cli import read_config
from mmmedfm.utils.image_resize import resize_image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo', 'lora-zs_plip_16shot-20e_sicapv2_demo.py')
# Upsample the 64-px fixture tiles to 72 (bicubic, antialiased) and centre-crop the tiny model's 64.
RESIZE = dict(size=72, crop_size=64, interpolation='bicubic')
STORED = dict(size=72, interpolation='bicubic')  # the cache stores the interpolation; the crop is a slice


def run(model, dataset, batch=8):
    """``(N, classes)`` scores of ``model.test_step`` and the samples it returned."""
    out = []
    for lo in range(0, len(dataset), batch):
        out += model.test_step(default_collate([dataset[i] for i in range(lo, min(lo + batch, len(dataset)))]))
    return torch.stack([s.pred_score for s in out]), out


def evaluate(cfg, dataset, samples):
    evaluator = Evaluator([METRICS.build(m) for m in cfg.test_evaluator])
    evaluator.dataset_meta = dataset.metainfo
    evaluator.process(samples)
    return evaluator.evaluate(len(dataset))


def test_logits_and_metrics_equal_the_jpeg_path(demo_cfg_options, tmp_path):
    opts = dict(demo_cfg_options, **{'model.data_preprocessor.resize.size': RESIZE['size']})
    cfg = read_config(DEMO, opts)
    assert dict(cfg.model.data_preprocessor.resize) == RESIZE
    for split in ('train', 'val', 'test'):  # read_config gave every dataset the model's resize
        assert dict(cfg[f'{split}_dataloader'].dataset.decoded_resize) == RESIZE
    model = MODELS.build(cfg.model).eval()
    ds_cfg = cfg.test_dataloader.dataset.to_dict()
    jpeg = DATASETS.build(dict(ds_cfg, cache_decoded=False))
    cached = DATASETS.build(dict(ds_cfg, cache_decoded=True, decoded_cache_dir=str(tmp_path)))
    img, _ = cached.decoded_cache.get(jpeg.get_data_info(0)['img_path'])
    assert img.shape == (72, 72, 3) and cached.decoded_cache.arrays.index['resize'] == STORED
    # The stored image is the preprocessor's interpolation of the decoded JPEG.
    full = jpeg[0]['inputs']
    assert full.shape == (3, 64, 64) and torch.equal(torch.from_numpy(img).permute(2, 0, 1),
                                                     resize_image(full, **STORED).to(torch.uint8))
    with torch.no_grad():
        scores_jpeg, out_jpeg = run(model, jpeg)
        scores_cached, out_cached = run(model, cached)
    assert torch.equal(scores_jpeg, scores_cached)  # exact on CPU
    assert [s.metainfo for s in out_jpeg] == [s.metainfo for s in out_cached]
    metrics = evaluate(cfg, jpeg, out_jpeg)
    assert metrics == evaluate(cfg, cached, out_cached) and 'cls/accuracy' in metrics
    # Few-shot supports are cached by default, resized too; the preprocessed training batch is the same.
    train_cfg = dict(cfg.train_dataloader.dataset.to_dict(), decoded_cache_dir=str(tmp_path))
    support, support_jpeg = DATASETS.build(train_cfg), DATASETS.build(dict(train_cfg, cache_decoded=False))
    assert support.decoded_cache.arrays.index['resize'] == STORED
    batches = [model.data_preprocessor(default_collate([ds[i] for i in range(len(ds))]), training=True)
               for ds in (support_jpeg, support)]
    assert torch.equal(batches[0]['inputs'], batches[1]['inputs'])


def test_resize_not_stored_when_the_pipeline_augments_before_it(sicapv2_root, tmp_path):
    """A flip in the dataset pipeline runs on the full-size image before the model resize: keep that order."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5), dict(type='PackInputs')]
    ds = SICAPv2Dataset(data_root=sicapv2_root, ann_file='partition/Test/Test.xlsx', pipeline=pipeline,
                        test_mode=True, cache_decoded=True, decoded_cache_dir=str(tmp_path), decoded_resize=RESIZE)
    assert ds.decoded_cache.arrays.index['resize'] is None


def test_preprocessor_only_crops_resized_input(monkeypatch):
    import mmmedfm.models.utils.data_preprocessor as module
    mean, std = [120., 110., 100.], [60., 50., 40.]
    sized = torch.randint(0, 256, (2, 3, 72, 80), dtype=torch.uint8)  # shorter side already 72
    # Hand crop of 64 from 72 x 80: torchvision's offsets round((72 - 64) / 2) = 4 and round((80 - 64) / 2) = 8.
    plain = VLMDataPreprocessor(mean=mean, std=std)(dict(inputs=sized[..., 4:68, 8:72].contiguous()))['inputs']
    pre = VLMDataPreprocessor(mean=mean, std=std, resize=RESIZE)
    real = module.resize_image
    monkeypatch.setattr(module, 'resize_image', lambda *a, **k: pytest.fail('interpolated an already-sized batch'))
    assert torch.equal(pre(dict(inputs=sized))['inputs'], plain)
    assert torch.equal(pre(dict(inputs=list(sized)))['inputs'], plain)
    assert torch.equal(torch.stack([real(x, **RESIZE) for x in sized]), sized[..., 4:68, 8:72].float())
    # A full-size batch is resized: the same numbers as resizing first, then normalising.
    monkeypatch.setattr(module, 'resize_image', real)
    big = torch.randint(0, 256, (2, 3, 80, 96), dtype=torch.uint8)
    expected = VLMDataPreprocessor(mean=mean, std=std)(
        dict(inputs=torch.stack([real(x, **RESIZE) for x in big])))['inputs']
    assert torch.allclose(pre(dict(inputs=big))['inputs'], expected, atol=1e-6)


def test_resize_is_part_of_the_key_and_reaches_wrapped_datasets():
    head, files = [dict(type='LoadImageFromFile')], [('a.jpg', 10, 1)]
    assert decoded_image_key(head, files) == decoded_image_key(head, files, None)
    assert decoded_image_key(head, files, RESIZE) != decoded_image_key(head, files)
    assert decoded_image_key(head, files, RESIZE) != decoded_image_key(head, files, dict(RESIZE, size=80))
    cfg = Config(dict(
        model=dict(data_preprocessor=dict(resize=RESIZE)),
        train_dataloader=dict(dataset=dict(type='DecodedCacheDataset', dataset=dict(type='SICAPv2Dataset'))),
        val_dataloader=dict(dataset=dict(type='SICAPv2Dataset', decoded_resize=dict(size=32))),
        test_dataloader=dict(dataset=dict(type='mmpretrain.CustomDataset'))))
    share_model_resize(cfg)
    assert cfg.train_dataloader.dataset.resize == RESIZE
    assert cfg.train_dataloader.dataset.dataset.decoded_resize == RESIZE
    assert cfg.val_dataloader.dataset.decoded_resize == dict(size=32)  # the config's own value is kept
    assert 'decoded_resize' not in cfg.test_dataloader.dataset  # no such key there
