"""Cache keys change exactly when the numbers would; the cache layer sits below datasets/, models/ and apis/."""
import ast
import glob
import os
import os.path as osp

import torch

from mmmedfm.cache import ShardedArrays, image_cache_key, text_cache_key, weights_fingerprint, write_shards

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PIPE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
PRE = dict(type='VLMDataPreprocessor')


def test_weight_change_changes_image_and_text_keys(tmp_path):
    weights = tmp_path / 'model' / 'model.safetensors'
    weights.parent.mkdir()
    weights.write_bytes(b'0' * 10)
    vision = dict(type='HFCLIPVision', pretrained=str(weights.parent))
    files = [('a.png', 0), ('b.png', 1)]
    before = (image_cache_key(vision, PRE, PIPE, files), text_cache_key(vision, ['x']), weights_fingerprint(
        str(weights.parent)))
    os.utime(weights, ns=(1, 1))  # same bytes count, new mtime: fine-tuned weights copied over the old ones
    after_mtime = (image_cache_key(vision, PRE, PIPE, files), text_cache_key(vision, ['x']), weights_fingerprint(
        str(weights.parent)))
    assert all(a != b for a, b in zip(before, after_mtime))
    weights.write_bytes(b'0' * 11)
    os.utime(weights, ns=(1, 1))
    assert image_cache_key(vision, PRE, PIPE, files) not in (before[0], after_mtime[0])


def test_keys_ignore_order_and_batching_but_not_content():
    vision = dict(type='HFCLIPVision', pretrained='openai-tag')
    files = [('a.png', 0), ('b.png', 1)]
    key = image_cache_key(vision, PRE, PIPE, files)
    assert image_cache_key(vision, PRE, PIPE, files[::-1]) == key
    assert image_cache_key(dict(vision, batch_size=3), PRE, PIPE, files) == key
    assert image_cache_key(vision, PRE, PIPE, [('a.png', 1), ('b.png', 1)]) != key
    assert image_cache_key(vision, PRE, PIPE, files, patch_tokens=True) != key
    assert image_cache_key(vision, PRE, PIPE, files, dtype='float16') != key
    assert image_cache_key(vision, PRE, PIPE[:1], files) != key
    text = dict(type='HFTextEncoder', pretrained='bert-tag')
    assert text_cache_key(text, ['a', 'b'], max_length=8) != text_cache_key(text, ['a', 'b'], max_length=9)
    assert text_cache_key(text, [['a', 'b']]) != text_cache_key(text, ['a', 'b'])  # class prompts vs captions
    assert text_cache_key(dict(text, batch_size=1), ['a']) == text_cache_key(text, ['a'])


def test_shards_resume_and_rank_split(tmp_path):
    rows = torch.arange(10, dtype=torch.float32)[:, None].repeat(1, 3)
    calls = []

    def encode(start, stop):
        calls.append((start, stop))
        return dict(x=rows[start:stop])
    folder = str(tmp_path / 'c')
    write_shards(folder, 10, encode, dict(tag='t'), shard_size=4, rank=1, world_size=2)
    assert calls == [(4, 8)] and not osp.isfile(osp.join(folder, 'index.json'))
    write_shards(folder, 10, encode, dict(tag='t'), shard_size=4, rank=0, world_size=2)
    assert calls == [(4, 8), (0, 4), (8, 10)]
    arrays = ShardedArrays(folder)
    assert arrays.index['sizes'] == [4, 4, 2] and arrays.index['tag'] == 't' and arrays.index['keys'] == {'x': [3]}
    assert torch.equal(arrays.load('x'), rows) and torch.equal(arrays.get('x', 9), rows[9])
    write_shards(folder, 10, encode, dict(tag='t'), shard_size=4)
    assert len(calls) == 3  # every shard exists: nothing is encoded again


def _imports(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:  # relative: resolve against the file's package
                pkg = osp.relpath(osp.dirname(path), ROOT).replace(os.sep, '.').split('.')
                base = '.'.join(pkg[:len(pkg) - node.level + 1] + ([base] if base else []))
            yield base
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_layers_point_down():
    def offenders(package, forbidden):
        return [(f, m) for f in glob.glob(osp.join(ROOT, 'mmmedfm', package, '**', '*.py'), recursive=True)
                for m in _imports(f) if any(m == b or m.startswith(b + '.') for b in forbidden)]
    assert offenders('datasets', ['mmmedfm.apis']) == []
    assert offenders('models', ['mmmedfm.apis']) == []
    assert offenders('cache', ['mmmedfm.apis', 'mmmedfm.datasets', 'mmmedfm.models']) == []
    # Library functions leave registration to entry points (they set the default scope, like mmpretrain's apis).
    calls = [f for f in glob.glob(osp.join(ROOT, 'mmmedfm', '**', '*.py'), recursive=True)
             if 'register_all_modules()' in open(f).read()]
    assert calls == []
