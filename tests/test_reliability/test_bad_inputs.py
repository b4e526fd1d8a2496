"""Bad inputs: each gives one clear error naming the file / row / config key, and nothing is overwritten.
Non-RGB images are not errors: they are converted to 3-channel 8-bit."""
import glob
import os
import os.path as osp
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mmmedfm.datasets.transforms import ImageLoadError
from mmmedfm.registry import DATASETS, TRANSFORMS
from tests.helpers import cli_options, load_tool
from tests.test_reliability.utils import DEMO

TRAIN_XLSX = osp.join('partition', 'Test', 'Train.xlsx')


@pytest.fixture
def data_copy(sicapv2_root, tmp_path):
    """A private copy of the synthetic SICAPv2 that a test may break."""
    return shutil.copytree(sicapv2_root, tmp_path / 'SICAPv2')


def _dataset(root, **kw):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    return DATASETS.build(dict(type='SICAPv2Dataset', data_root=str(root), ann_file=TRAIN_XLSX,
                               pipeline=pipeline, **kw))


def _train(tmp_path, opts, *extra):
    return load_tool('tools/train.py').main([DEMO, '--work-dir', str(tmp_path / 'work'), *extra,
                                             '--cfg-options', *cli_options(opts)])


def _first_image(root):
    name = pd.read_excel(osp.join(root, TRAIN_XLSX))['image_name'][0]
    return osp.join(root, 'images', name), name


def _on_root(opts, root):
    return dict(opts, **{f'{s}_dataloader.dataset.data_root': str(root) for s in ('train', 'val', 'test')})


def test_missing_image_names_the_path(data_copy):
    path, name = _first_image(data_copy)
    os.remove(path)
    ds = _dataset(data_copy)
    idx = [ds.get_data_info(i)['image_name'] for i in range(len(ds))].index(name)
    with pytest.raises(FileNotFoundError, match=rf'Image file not found: {path}.*{name}'):
        ds[idx]


def test_missing_image_stops_training_without_checkpoint(data_copy, tmp_path, demo_cfg_options):
    path, _ = _first_image(data_copy)
    os.remove(path)
    opts = _on_root(dict(demo_cfg_options, **{'train_dataloader.dataset.num_shots': None}), data_copy)
    with pytest.raises(FileNotFoundError, match=path):
        _train(tmp_path, opts)
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


@pytest.mark.parametrize('content', [b'', b'not an image at all', 'truncated'])
def test_corrupt_image_names_the_path(data_copy, content):
    path, name = _first_image(data_copy)
    if content == 'truncated':
        with open(path, 'rb') as f:
            content = f.read()[:100]  # the JPEG header only
    with open(path, 'wb') as f:
        f.write(content)
    ds = _dataset(data_copy)
    idx = [ds.get_data_info(i)['image_name'] for i in range(len(ds))].index(name)
    with pytest.raises(ImageLoadError, match=rf'Cannot decode image file {path}.*{name}'):
        ds[idx]


def _bgr(rgb):
    return np.ascontiguousarray(rgb[..., ::-1])


@pytest.mark.parametrize('kind', ['grey8', 'grey16', 'rgba', 'palette', 'cmyk_jpeg'])
def test_non_rgb_images_become_3_channel_uint8(tmp_path, kind):
    rng = np.random.default_rng(0)
    path = str(tmp_path / ('img.jpg' if kind == 'cmyk_jpeg' else 'img.png'))
    if kind == 'grey8':
        g = rng.integers(0, 256, (12, 10), dtype=np.uint8)
        Image.fromarray(g).save(path)
        expected = np.repeat(g[..., None], 3, axis=2)
    elif kind == 'grey16':
        g = rng.integers(0, 65536, (12, 10)).astype(np.uint16)
        Image.fromarray(g).save(path)  # PIL mode I;16 png
        expected = np.repeat((g >> 8).astype(np.uint8)[..., None], 3, axis=2)  # 16 -> 8 bit: high byte
    elif kind == 'rgba':
        rgba = rng.integers(0, 256, (12, 10, 4), dtype=np.uint8)
        Image.fromarray(rgba, 'RGBA').save(path)
        expected = _bgr(rgba[..., :3])  # alpha dropped
    elif kind == 'palette':
        im = Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).convert('P')
        im.save(path)
        expected = _bgr(np.asarray(Image.open(path).convert('RGB')))
    else:
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).convert('CMYK').save(path,
                                                                                               quality=100)
        expected = None  # decoded by OpenCV's own CMYK handling; only the format is checked
    img = TRANSFORMS.build(dict(type='LoadImageFromFile'))(dict(img_path=path))['img']
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    if expected is not None:
        np.testing.assert_array_equal(img, expected)


@pytest.mark.parametrize('drop,rename', [(['G5'], {}), ([], {'image_name': 'filename'})])
def test_wrong_xlsx_columns_name_file_and_column(data_copy, drop, rename):
    xlsx = osp.join(data_copy, TRAIN_XLSX)
    pd.read_excel(xlsx).drop(columns=drop).rename(columns=rename).to_excel(xlsx, index=False)
    missing = drop or list(rename)
    with pytest.raises(KeyError, match=rf"Train\.xlsx: missing column\(s\) \['{missing[0]}'\]"):
        _dataset(data_copy)


def test_missing_partition_file(data_copy):
    os.remove(osp.join(data_copy, TRAIN_XLSX))
    with pytest.raises(FileNotFoundError, match=r'partition/Test/Train\.xlsx'):
        _dataset(data_copy)


def test_unknown_backbone_type(tmp_path, demo_cfg_options):
    with pytest.raises(KeyError, match='HFCLIPVisoin'):
        _train(tmp_path, dict(demo_cfg_options, **{'model.backbone.type': 'HFCLIPVisoin'}))


def test_missing_local_weights(tmp_path, demo_cfg_options, monkeypatch):
    from mmmedfm.models.utils.hub import ModelNotAvailableError
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    missing = str(tmp_path / 'no-such-plip')
    with pytest.raises(ModelNotAvailableError, match=rf"{missing}.*model\.foundation_model"):
        _train(tmp_path, dict(demo_cfg_options, **{'model.foundation_model': missing}))


@pytest.mark.e2e
@pytest.mark.parametrize('key', ['model.backbon.peft', 'train_dataloader.datset.num_shots'])
def test_bad_cfg_options_key(tmp_path, key):
    bad = key.split('.')[1]
    with pytest.raises(KeyError, match=rf"--cfg-options {key}.*'[a-z_]*\.{bad}'"):
        load_tool('tools/train.py').main([DEMO, '--work-dir', str(tmp_path), '--cfg-options', f'{key}=1'])
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize('num_classes', [3, 5])
def test_num_classes_not_matching_prompts(tmp_path, demo_cfg_options, num_classes):
    with pytest.raises(ValueError, match=rf'model\.head\.num_classes`={num_classes}'):
        _train(tmp_path, dict(demo_cfg_options, **{'model.head.num_classes': num_classes}))


def test_prompts_missing_a_class(tmp_path, demo_cfg_options):
    # Class list without G5 while the dataset's descriptions still describe G5.
    opts = dict(demo_cfg_options, **{'model.head.prompts.classes': ['NC', 'G3', 'G4']})
    with pytest.raises(KeyError, match=r"unknown classes \['G5'\]"):
        _train(tmp_path, opts)


@pytest.mark.e2e
def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='configs/nope.py'):
        load_tool('tools/train.py').main(['configs/nope.py', '--work-dir', str(tmp_path)])


def test_resume_from_truncated_checkpoint(tmp_path, demo_cfg_options):
    ckpt = tmp_path / 'epoch_1.pth'
    ckpt.write_bytes(b'PK\x03\x04' + b'\0' * 64)
    with pytest.raises(RuntimeError, match=r'epoch_1\.pth.*truncated'):
        _train(tmp_path, demo_cfg_options, '--resume', str(ckpt))
    assert ckpt.read_bytes() == b'PK\x03\x04' + b'\0' * 64


def test_work_dir_of_another_experiment_is_refused(tmp_path, demo_cfg_options):
    opts = dict(demo_cfg_options, **{'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1})
    _train(tmp_path, opts)
    work = tmp_path / 'work'
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in work.rglob('*') if p.is_file()}
    other = dict(opts, **{'train_dataloader.dataset.num_shots': 2})
    with pytest.raises(FileExistsError, match=rf'{work} holds another experiment.*\n.*'
                                               r'train_dataloader\.dataset\.num_shots: 4 -> 2'):
        _train(tmp_path, other)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in work.rglob('*') if p.is_file()}
    assert after == before  # nothing written, nothing overwritten
    # The same experiment again (e.g. a re-run with other loader workers) is fine; so are --resume and --force.
    _train(tmp_path, dict(opts, **{'train_dataloader.num_workers': 0}))
    _train(tmp_path, dict(opts, **{'train_cfg.max_epochs': 2}), '--resume')
    _train(tmp_path, other, '--force')
