"""Whole-slide inference on synthetic pyramidal TIFFs that OpenSlide reads (mmmedfm.apis.slide/wsi/wsi_io and
tools/predict_wsi.py)."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image

from mmmedfm.apis import (SlideError, heatmap, init_model, open_slide, predict, predict_slide, slide_mpp,
                          thumbnail, tile_grid, tissue_mask)
from mmmedfm.utils.synthetic_slides import rectangles_image, write_pyramid_tiff
from tests.helpers import cli_options, load_tool

DEMO = 'configs/demo/lora-zs_plip_16shot-20e_sicapv2_demo.py'
CLASSES = ['NC', 'G3', 'G4', 'G5']
SHAPE = (1024, 1536)          # level 0, 0.5 µm/px
TISSUE = (256, 384, 768, 1152)  # y0, x0, y1, x1 (level 0): 4 x 6 tiles of 128 level-0 px (64 px at 1 µm/px)


@pytest.fixture(scope='module')
def slides(tmp_path_factory):
    root = tmp_path_factory.mktemp('slides')
    image = rectangles_image(SHAPE, [(*TISSUE, 0)])
    blank = rectangles_image(SHAPE, [])
    paths = dict(image=image, tissue=write_pyramid_tiff(str(root / 'good' / 'a.tif'), image, mpp=0.5),
                 no_mpp=write_pyramid_tiff(str(root / 'no_mpp.tif'), image, mpp=None),
                 blank=write_pyramid_tiff(str(root / 'blank.tif'), blank, mpp=0.5))
    paths['second'] = str(root / 'good' / 'b.tif')
    shutil.copy(paths['tissue'], paths['second'])
    paths['garbage'] = str(root / 'garbage.tif')
    with open(paths['garbage'], 'wb') as f:
        f.write(b'II*\x00' + os.urandom(200))
    return paths


@pytest.fixture(scope='module')
def opts(tiny_clip_dir, sicapv2_root):
    return {'model.foundation_model': tiny_clip_dir, 'test_dataloader.dataset.data_root': sicapv2_root,
            'model.data_preprocessor.resize.size': 64, 'model.data_preprocessor.resize.crop_size': 64}


@pytest.fixture(scope='module')
def model(opts):
    return init_model(DEMO, None, 'cpu', opts)


@pytest.mark.parametrize('mpp, tile, level, read_size', [
    (1.0, 64, 1, 64),    # 128 level-0 px, read exactly at level 1 (downsample 2)
    (0.5, 64, 0, 64),    # native
    (2.0, 100, 2, 100),  # 400 level-0 px = 100 px at level 2 (downsample 4)
    (1.5, 64, 1, 96),    # 192 level-0 px: read 96 px at level 1, resized to 64
])
def test_tile_grid_coordinates_and_counts(slides, mpp, tile, level, read_size):
    slide = open_slide(slides['tissue'])
    assert slide_mpp(slide) == pytest.approx(0.5)
    grid = tile_grid(slide, tile, mpp)
    span = tile * mpp / 0.5
    nx, ny = int(SHAPE[1] // span), int(SHAPE[0] // span)
    assert len(grid) == nx * ny
    assert sorted(set(grid.x)) == [round(i * span) for i in range(nx)]
    assert sorted(set(grid.y)) == [round(j * span) for j in range(ny)]
    assert set(grid.level) == {level} and set(grid.read_size) == {read_size} and set(grid.mpp) == {mpp}


def test_tissue_mask_on_slide_with_blank_regions(slides):
    slide = open_slide(slides['tissue'])
    thumb, (dx, dy) = thumbnail(slide, 512)
    assert thumb.shape == (341, 512, 3) and dx == pytest.approx(3.0)
    mask, _ = tissue_mask(thumb)
    y0, x0, y1, x1 = (int(round(v / d)) for v, d in zip(TISSUE, (dy, dx, dy, dx)))
    outside = np.ones_like(mask)
    outside[y0 - 2:y1 + 2, x0 - 2:x1 + 2] = False
    assert not mask[outside].any()  # blank glass is never tissue
    assert mask[y0 + 2:y1 - 2, x0 + 2:x1 - 2].mean() > 0.8  # tissue (glands' open lumens are not)
    grid = tile_grid(slide, 64, 1.0, mask=mask, mask_downsample=(dx, dy), min_tissue=0.5)
    # exactly the tiles inside the tissue rectangle: x in 384..1024, y in 256..640 (level 0, step 128)
    assert sorted(zip(grid.y, grid.x)) == [(y, x) for y in range(256, 768, 128) for x in range(384, 1152, 128)]
    blank_mask, threshold = tissue_mask(thumbnail(open_slide(slides['blank']), 512)[0])
    assert not blank_mask.any() and threshold == 20.  # Otsu on noise is floored by min_threshold


def _otsu(values):
    """Otsu's threshold by hand: the t maximising the between-class variance of {<= t} and {> t}."""
    hist = np.bincount(values.ravel(), minlength=256).astype(float)
    p, levels = hist / hist.sum(), np.arange(256)
    w0 = np.cumsum(p)
    m0 = np.cumsum(p * levels)
    with np.errstate(divide='ignore', invalid='ignore'):
        between = (m0[-1] * w0 - m0) ** 2 / (w0 * (1 - w0))
    return int(np.nanargmax(between[:-1]))


def test_tissue_thresholds_pale_and_dark_tissue():
    """Pale (class 0) and dark (class 3) tissue on glass: Otsu (checked against a hand implementation) cuts
    between the two tissues and loses most of the pale one; the triangle method and a fixed 20 keep both."""
    import cv2
    image = rectangles_image((512, 768), [(64, 64, 448, 320, 0), (64, 448, 448, 704, 3)])
    labels = np.full((512, 768), -1)
    labels[64:448, 64:320], labels[64:448, 448:704] = 0, 3
    mask, threshold = tissue_mask(image)
    assert threshold == _otsu(cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1]) > 20
    assert mask[labels == 0].mean() < 0.5 and mask[labels == 3].mean() > 0.99 and not mask[labels == -1].any()
    for method in ('triangle', 20):
        mask, _ = tissue_mask(image, threshold=method)
        assert mask[labels == 0].mean() > 0.8 and mask[labels == 3].mean() > 0.99  # lumens are glass
        assert mask[labels == -1].mean() < 0.001
    with pytest.raises(ValueError, match="'otsu', 'triangle' or a number"):
        tissue_mask(image, threshold='mean')


def test_slide_prediction_is_mean_of_tile_probabilities(slides, model, opts, tmp_path):
    pred = predict_slide(model, slides['tissue'], tile_size=64, mpp=1.0, progress=False)
    assert len(pred.tiles) == 24 and pred.class_names == CLASSES and pred.aggregate == 'mean'
    # Independent: crop each tile from the level-1 array written to the TIFF, save it losslessly and predict it
    # through the image path (LoadImageFromFile + test pipeline).
    level1 = slides['image'][::2, ::2]
    files = []
    for i, (x, y) in enumerate(zip(pred.tiles.x, pred.tiles.y)):
        files.append(str(tmp_path / f'{i:02d}.png'))
        Image.fromarray(level1[y // 2:y // 2 + 64, x // 2:x // 2 + 64]).save(files[-1])
    ref = predict(DEMO, None, files, device='cpu', cfg_options=opts, progress=False)
    ref_probs = ref[[f'prob_{c}' for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(pred.tiles[[f'prob_{c}' for c in CLASSES]].to_numpy(), ref_probs,
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pred.probs, ref_probs.mean(0), rtol=1e-4, atol=1e-6)
    assert pred.label == ref_probs.mean(0).argmax()
    vote = predict_slide(model, slides['tissue'], tile_size=64, mpp=1.0, aggregate='vote', progress=False)
    np.testing.assert_allclose(vote.probs, np.bincount(ref_probs.argmax(1), minlength=4) / 24)


def test_heatmap_size_and_colours(slides, model):
    pred = predict_slide(model, slides['tissue'], tile_size=64, mpp=1.0, thumb_size=400, progress=False)
    values = pred.tiles['prob_NC'].to_numpy()
    img = heatmap(pred.thumbnail, pred.tiles, values, pred.thumb_downsample, cmap='viridis', alpha=0.5)
    assert img.shape == pred.thumbnail.shape == (267, 400, 3)
    dx, dy = pred.thumb_downsample
    t = pred.tiles.iloc[5]
    cy, cx = int((t.y + 64) / dy), int((t.x + 64) / dx)  # centre of tile 5
    import matplotlib
    expected = 0.5 * pred.thumbnail[cy, cx] + 0.5 * np.array(matplotlib.colormaps['viridis'](values[5])[:3]) * 255
    np.testing.assert_allclose(img[cy, cx], expected, atol=0.51)
    np.testing.assert_array_equal(img[:20, :20], pred.thumbnail[:20, :20])  # glass, no tile: unchanged


@pytest.mark.e2e
@pytest.mark.e2e
def test_tool_writes_outputs_and_resumes(slides, opts, tmp_path):
    tool = load_tool('tools/predict_wsi.py')
    folder, out = osp.dirname(slides['tissue']), str(tmp_path / 'out')
    args = [DEMO, 'none', folder, '--out', out, '--tile-size', '64', '--thumb-size', '512', '--cfg-options',
            *cli_options(opts)]
    summary = tool.main(args)
    assert summary.slide_id.tolist() == ['a', 'b'] and summary.num_tiles.tolist() == [24, 24]
    assert summary.error.fillna('').tolist() == ['', '']
    tiles = pd.read_csv(osp.join(out, 'a', 'tiles.csv'))
    assert list(tiles.columns[:4]) == ['x', 'y', 'level', 'mpp'] and len(tiles) == 24
    np.testing.assert_allclose(summary.loc[0, [f'prob_{c}' for c in CLASSES]].to_numpy(float),
                               tiles[[f'prob_{c}' for c in CLASSES]].mean().to_numpy(), rtol=1e-6)
    for c in CLASSES:
        assert Image.open(osp.join(out, 'a', f'heatmap_{c}.png')).size == (512, 341)
    done = {s: osp.join(out, s, 'prediction.json') for s in 'ab'}
    before = {s: os.stat(p).st_mtime_ns for s, p in done.items()}
    os.remove(done['b'])
    summary2 = tool.main(args)  # resume: a is skipped, b redone
    assert os.stat(done['a']).st_mtime_ns == before['a'] and osp.isfile(done['b'])
    pd.testing.assert_frame_equal(summary, summary2)
    tool.main(args + ['--overwrite'])
    assert os.stat(done['a']).st_mtime_ns != before['a']
    assert json.load(open(done['a']))['pred_class'] == summary.pred_class[0]


def test_bad_slides_one_clear_message_each(slides, model, tmp_path):
    with pytest.raises(SlideError, match=r'garbage\.tif: OpenSlide cannot read'):
        predict_slide(model, slides['garbage'], progress=False)
    with pytest.raises(SlideError, match=r'blank\.tif: no tissue found'):
        predict_slide(model, slides['blank'], tile_size=64, progress=False)
    with pytest.raises(SlideError, match=r'no_mpp\.tif: the slide has no resolution.*--level'):
        predict_slide(model, slides['no_mpp'], tile_size=64, mpp=1.0, progress=False)
    with pytest.raises(SlideError, match=r'a\.tif: level 5 is out of range \(the slide has 3 levels, 0-2\)'):
        predict_slide(model, slides['tissue'], tile_size=64, level=5, progress=False)
    with pytest.raises(FileNotFoundError, match='missing.svs'):
        predict_slide(model, str(tmp_path / 'missing.svs'), progress=False)
    for page, tile, what in ((0, 8, 'tile at x=512, y=256, level 0'), (1, 0, 'thumbnail')):
        corrupt = str(tmp_path / f'corrupt{page}.tif')  # deflate data of one TIFF tile overwritten
        shutil.copy(slides['tissue'], corrupt)
        with tifffile.TiffFile(corrupt) as tif:
            offset, count = tif.pages[page].dataoffsets[tile], tif.pages[page].databytecounts[tile]
        with open(corrupt, 'r+b') as f:
            f.seek(offset)
            f.write(b'\xff' * count)
        with pytest.raises(SlideError, match=rf'corrupt{page}\.tif: cannot read the {what}'):
            predict_slide(model, corrupt, tile_size=64, mpp=0.5, thumb_size=512, progress=False)
    # a slide without mpp works at a named level (mpp unknown)
    pred = predict_slide(model, slides['no_mpp'], tile_size=64, level=1, progress=False)
    assert len(pred.tiles) == 24 and pred.tiles.mpp.isna().all() and set(pred.tiles.level) == {1}


@pytest.mark.e2e
@pytest.mark.e2e
def test_tool_folder_with_a_bad_slide_reports_it(slides, opts, tmp_path):
    folder = tmp_path / 'mixed'
    folder.mkdir()
    shutil.copy(slides['tissue'], folder / 'good.tif')
    shutil.copy(slides['blank'], folder / 'empty.tif')
    out = str(tmp_path / 'out')
    tool = load_tool('tools/predict_wsi.py')
    with pytest.raises(SlideError, match=r'1 slide\(s\) failed: .*empty\.tif: no tissue found'):
        tool.main([DEMO, 'none', str(folder), '--out', out, '--tile-size', '64', '--cfg-options',
                   *cli_options(opts)])
    summary = pd.read_csv(osp.join(out, 'summary.csv'))
    assert summary.slide_id.tolist() == ['empty', 'good']
    assert 'no tissue' in summary.error[0] and pd.isna(summary.error[1]) and summary.num_tiles[1] == 24
    assert not osp.exists(osp.join(out, 'empty', 'prediction.json'))  # retried on the next run


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.dist
@pytest.mark.timeout(900)
@pytest.mark.e2e
@pytest.mark.e2e
@pytest.mark.dist
@pytest.mark.timeout(900)
def test_two_ranks_split_slides_and_match_one_process(slides, opts, tmp_path):
    """``tools/dist_predict_wsi.sh ... 2`` (torchrun, gloo on CPU): each rank predicts its own slide, rank 0
    writes the summary, and the results equal those of one process."""
    import subprocess
    import sys

    from tests.helpers import ROOT
    from tests.test_reliability.utils import env
    folder = osp.dirname(slides['tissue'])
    common = ['--tile-size', '64', '--thumb-size', '512', '--cfg-options', *cli_options(opts)]
    one = load_tool('tools/predict_wsi.py').main([DEMO, 'none', folder, '--out', str(tmp_path / 'one'), *common])
    e = env()
    e.update(PORT=str(_free_port()), PATH=osp.dirname(sys.executable) + os.pathsep + e['PATH'])
    p = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_predict_wsi.sh'), DEMO, 'none', '2', folder,
                        '--out', str(tmp_path / 'two'), *common], cwd=ROOT, env=e, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-6000:]
    log = p.stdout + p.stderr
    assert 'rank 0: a (done)' in log and 'rank 1: b (done)' in log  # one slide a rank
    two = pd.read_csv(tmp_path / 'two' / 'summary.csv')
    pd.testing.assert_frame_equal(two.drop(columns='error'), one.drop(columns='error'), check_dtype=False)


@pytest.mark.e2e
def test_cli_bad_slide_is_one_message(slides, opts, tmp_path, monkeypatch):
    """``python tools/predict_wsi.py ...`` on a bad slide: exit status 1 with one line, no traceback. Run as
    ``__main__`` in this process: ``SystemExit(str)`` is what the interpreter prints alone and exits 1 on."""
    import runpy
    import sys

    from tests.helpers import ROOT
    tool = osp.join(ROOT, 'tools', 'predict_wsi.py')
    monkeypatch.setattr(sys, 'argv', [tool, DEMO, 'none', slides['no_mpp'], '--out', str(tmp_path / 'out'),
                                      '--cfg-options', *cli_options(opts)])
    monkeypatch.setattr(sys, 'path', list(sys.path))
    with pytest.raises(SystemExit) as e:
        runpy.run_path(tool, run_name='__main__')
    message = e.value.code
    assert isinstance(message, str) and '\n' not in message  # a str code: printed alone, exit status 1
    assert message.startswith('predict_wsi: 1 slide(s) failed: ') and \
        'no_mpp.tif: the slide has no resolution' in message


@pytest.mark.slow
def test_demo_slide(tmp_path):
    """The demo slide of make_demo_assets: OpenSlide reads its size, levels and mpp; the demo command's tissue
    settings keep tiles of every region and no tile that is mostly glass (checked on the builder's label map)."""
    from mmmedfm.utils.synthetic_slides import demo_slide_image, make_demo_slide
    path = make_demo_slide(str(tmp_path))['slide']
    slide = open_slide(path)
    assert slide.dimensions == (3072, 2048) and slide.level_count == 3 and slide_mpp(slide) == 1.0
    thumb, down = thumbnail(slide, 1024)
    mask, _ = tissue_mask(thumb, threshold='triangle')
    grid = tile_grid(slide, 256, 1.0, mask=mask, mask_downsample=down)
    _, labels = demo_slide_image()
    regions = [labels[y:y + 256, x:x + 256] for x, y in zip(grid.x, grid.y)]
    assert min((r >= 0).mean() for r in regions) > 0.45  # tissue fraction by the label map
    assert {int(np.bincount(r[r >= 0]).argmax()) for r in regions} == {0, 1, 2, 3}
    full = [(labels[y:y + 256, x:x + 256] >= 0).mean() for y in range(0, 2048, 256) for x in range(0, 3072, 256)]
    assert len(grid) >= sum(f >= 0.7 for f in full)  # every tile that is >= 70 % tissue is kept
