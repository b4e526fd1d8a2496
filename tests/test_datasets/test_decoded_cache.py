"""Decoded-image cache: cached samples equal the JPEG path's; a changed image or resize selects a new cache."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from mmmedfm.datasets import DecodedCacheDataset, SICAPv2Dataset, split_pipeline

ANN = 'partition/Test/Train.xlsx'


def pipeline(size=40, interpolation='bicubic', train=False):
    steps = [dict(type='LoadImageFromFile'),
             dict(type='Resize', scale=(size, size), interpolation=interpolation)]
    if train:
        steps += [dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
                  dict(type='RandomRot90', prob=0.5),
                  dict(type='RandomApply', prob=0.5, transforms=[dict(type='ColorJitter', brightness=0.2,
                                                                      contrast=0.2, saturation=0.2, hue=0.05)])]
    return steps + [dict(type='PackInputs')]


def build(root, cache_dir, **kw):
    return SICAPv2Dataset(data_root=root, ann_file=ANN, decoded_cache_dir=str(cache_dir), **kw)


def same_sample(a, b):
    assert torch.equal(a['inputs'], b['inputs'])
    ma, mb = a['data_samples'].metainfo, b['data_samples'].metainfo
    assert set(ma) == set(mb) and all(np.array_equal(np.asarray(ma[k]), np.asarray(mb[k])) for k in ma)
    assert torch.equal(a['data_samples'].gt_label, b['data_samples'].gt_label)


def test_split_pipeline_head_is_load_and_resize():
    head, rest = split_pipeline(pipeline(train=True))
    assert [h['type'] for h in head] == ['LoadImageFromFile', 'Resize']
    assert [r['type'] for r in rest] == ['RandomFlip', 'RandomRot90', 'RandomApply', 'PackInputs']
    with pytest.raises(ValueError, match='starting with LoadImageFromFile'):
        split_pipeline([dict(type='PackInputs')])


@pytest.mark.parametrize('train', [False, True])
def test_cached_samples_equal_jpeg_path(sicapv2_root, tmp_path, train):
    jpeg = build(sicapv2_root, tmp_path, pipeline=pipeline(train=train), cache_decoded=False)
    cached = build(sicapv2_root, tmp_path, pipeline=pipeline(train=train), cache_decoded=True)
    assert jpeg.decoded_cache is None and cached.decoded_cache is not None
    assert len(os.listdir(tmp_path)) == 1
    for i in range(len(jpeg)):
        np.random.seed(i)  # the random tail draws the same numbers on both paths
        a = jpeg[i]
        np.random.seed(i)
        b = cached[i]
        same_sample(a, b)
    # Independent check of one image: PIL decode, cv2 bicubic resize to 40x40, BGR channel order, CHW.
    if not train:
        import cv2
        rgb = np.asarray(Image.open(jpeg.get_data_info(0)['img_path']).convert('RGB'))
        ref = cv2.resize(rgb[..., ::-1], (40, 40), interpolation=cv2.INTER_CUBIC)
        diff = np.abs(cached[0]['inputs'].permute(1, 2, 0).numpy().astype(int) - ref.astype(int))
        assert diff.max() <= 2  # decoders (libjpeg-turbo in cv2 vs PIL) may differ by rounding


def test_second_build_hits_and_workers_decode_the_same(sicapv2_root, tmp_path):
    first = build(sicapv2_root, tmp_path / 'a', pipeline=pipeline(), cache_decoded=True)
    parallel = build(sicapv2_root, tmp_path / 'b', pipeline=pipeline(), cache_decoded=True,
                     decoded_cache_workers=2)
    for i in range(len(first)):
        assert torch.equal(first[i]['inputs'], parallel[i]['inputs'])
    again = build(sicapv2_root, tmp_path / 'a', pipeline=pipeline(), cache_decoded=True)
    assert again.decoded_cache.root == first.decoded_cache.root
    assert len(os.listdir(tmp_path / 'a')) == 1


def test_invalidation_on_image_or_resize_change(sicapv2_root, tmp_path):
    import shutil
    root = str(tmp_path / 'data')
    shutil.copytree(sicapv2_root, root)
    base = build(root, tmp_path / 'c', pipeline=pipeline(), cache_decoded=True).decoded_cache.root
    resized = build(root, tmp_path / 'c', pipeline=pipeline(size=48), cache_decoded=True)
    assert resized.decoded_cache.root != base and resized[0]['inputs'].shape == (3, 48, 48)
    interp = build(root, tmp_path / 'c', pipeline=pipeline(interpolation='bilinear'), cache_decoded=True)
    assert interp.decoded_cache.root not in (base, resized.decoded_cache.root)
    # Rewrite one image with other pixels: a new cache, holding the new pixels.
    ds = build(root, tmp_path / 'c', pipeline=pipeline(), cache_decoded=False)
    path = ds.get_data_info(3)['img_path']
    Image.fromarray(np.full((64, 64, 3), 7, np.uint8)).save(path)
    os.utime(path, ns=(1, 1))
    changed = build(root, tmp_path / 'c', pipeline=pipeline(), cache_decoded=True)
    assert changed.decoded_cache.root != base
    same_sample(changed[3], ds[3])
    assert int(changed[3]['inputs'].float().mean().round()) == 7


def test_few_shot_supports_cached_by_default(sicapv2_root, tmp_path):
    support = build(sicapv2_root, tmp_path, pipeline=pipeline(), num_shots=2)
    full = build(sicapv2_root, tmp_path, pipeline=pipeline())
    no_pipeline = build(sicapv2_root, tmp_path, pipeline=[], num_shots=2)
    assert support.decoded_cache is not None and len(support.decoded_cache) == 8
    assert full.decoded_cache is None and no_pipeline.decoded_cache is None


def test_wrapper_on_a_plain_dataset(sicapv2_root, tmp_path):
    cfg = dict(type='SICAPv2Dataset', data_root=sicapv2_root, ann_file=ANN, pipeline=pipeline(), cache_decoded=False)
    wrapped = DecodedCacheDataset(cfg, cache_dir=str(tmp_path))
    plain = build(sicapv2_root, tmp_path, pipeline=pipeline(), cache_decoded=False)
    assert len(wrapped) == len(plain) and wrapped.metainfo == plain.metainfo
    for i in range(len(plain)):
        same_sample(wrapped[i], plain[i])
    assert osp.isfile(osp.join(wrapped.cache.root, 'index.json')) and len(wrapped.cache) == len(plain)
