"""The one on-disk embedding format: a folder of safetensors shards plus ``index.json`` (never pickle).

``index.json`` holds ``shards`` (file names), ``sizes`` (rows per shard), ``keys`` (tensor name -> row shape)
and the writer's metadata (image ids, labels, captions...). Writing is resumable (finished shards are skipped,
every file is replaced atomically) and distributed (rank ``r`` of ``world_size`` writes shards ``r, r +
world_size, ...``; after a barrier rank 0 checks every shard and writes ``index.json``). Readers open the
shards memory-mapped, through the index: a folder without one is an incomplete cache.
"""
import bisect
import json
import os
import os.path as osp
from typing import Callable, Dict, List

import torch
from mmengine.logging import print_log

INDEX = 'index.json'


def is_complete(folder: str) -> bool:
    """Whether ``folder`` holds a finished cache (its ``index.json`` exists)."""
    return osp.isfile(osp.join(folder, INDEX))


class ShardedArrays:
    """Read-only view of a shard folder: concatenated tensors, memory-mapped through ``safe_open``.

    Args:
        folder (str): Cache folder with ``index.json``.

    Attributes:
        index (dict): The parsed ``index.json`` (``shards``, ``sizes``, ``keys`` and the writer's metadata).
    """

    def __init__(self, folder: str):
        path = osp.join(folder, INDEX)
        if not osp.isfile(path):
            raise FileNotFoundError(f'{folder}: no {INDEX}; the embedding cache is missing or incomplete. Run '
                                    'the extraction tool (tools/extract_features.py, tools/extract_unimodal.py) '
                                    'first.')
        try:
            with open(path) as f:
                self.index = json.load(f)
            sizes = [int(n) for n in self.index['sizes']]
            if len(sizes) != len(self.index['shards']):
                raise ValueError('`sizes` and `shards` differ in length')
            if not isinstance(self.index['keys'], dict) or not all(
                    isinstance(v, list) for v in self.index['keys'].values()):
                raise ValueError('`keys` must map tensor names to row shapes')
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f'{path} is unreadable ({e}); delete {folder} to re-extract.') from None
        self.folder = folder
        self.offsets = [0]
        for n in sizes:
            self.offsets.append(self.offsets[-1] + n)
        self._handles: Dict[int, object] = {}

    def __len__(self) -> int:
        return self.offsets[-1]

    def _handle(self, k: int):
        if k not in self._handles:  # opened lazily per process (safe with forked dataloader workers)
            from safetensors import safe_open
            path = osp.join(self.folder, self.index['shards'][k])
            try:
                handle = safe_open(path, framework='pt')
            except Exception as e:  # safetensors raises its own SafetensorError type
                raise ValueError(f'Cache shard {path} is unreadable ({e}); delete {self.folder} to re-extract.'
                                 ) from None
            expected = {key: [self.index['sizes'][k], *shape] for key, shape in self.index['keys'].items()}
            found = {key: list(handle.get_slice(key).get_shape()) for key in handle.keys()}
            if found != expected:
                raise ValueError(f'Cache shard {path} holds {found} but {INDEX} says {expected}; delete '
                                 f'{self.folder} to re-extract.')
            self._handles[k] = handle
        return self._handles[k]

    def has(self, key: str) -> bool:
        return key in self.index['keys']

    def get(self, key: str, i: int) -> torch.Tensor:
        """Row ``i`` of tensor ``key`` (read from the memory-mapped shard)."""
        k = bisect.bisect_right(self.offsets, i) - 1
        j = i - self.offsets[k]
        return self._handle(k).get_slice(key)[j:j + 1][0]

    def load(self, key: str) -> torch.Tensor:
        """All rows of ``key``, concatenated (in memory); checked against the index sizes."""
        if key not in self.index['keys']:
            raise KeyError(f'{osp.join(self.folder, INDEX)}: no tensor {key!r} (has {sorted(self.index["keys"])}); '
                           f'delete {self.folder} to re-extract.')
        # Shapes are checked against index.json when each shard is opened.
        return torch.cat([self._handle(k).get_tensor(key) for k in range(len(self.index['shards']))])

    def __getstate__(self):  # file handles do not cross process boundaries
        state = dict(self.__dict__)
        state['_handles'] = {}
        return state


def write_shards(folder: str, num_items: int, encode: Callable[[int, int], Dict[str, torch.Tensor]],
                 meta: dict, shard_size: int = 4096, rank: int = 0, world_size: int = 1, progress: bool = False,
                 desc: str = 'encode') -> str:
    """Encode rows ``[0, num_items)`` into ``folder``, ``shard_size`` rows per shard; returns ``folder``.

    Args:
        folder (str): Output folder (created).
        num_items (int): Number of rows.
        encode: ``encode(start, stop) -> {name: (stop - start, ...) tensor}``; called only for missing shards.
        meta (dict): JSON-serialisable metadata stored in ``index.json``.
        shard_size (int): Rows per shard. Defaults to 4096.
        rank, world_size (int): This process's share of the shards.
        progress (bool): Show a progress bar.
        desc (str): Name in log lines and the progress bar.
    """
    from mmengine.dist import barrier
    from safetensors.torch import save_file
    os.makedirs(folder, exist_ok=True)
    n = max(1, -(-num_items // shard_size))
    names = [f'part_{k:05d}-of-{n:05d}.safetensors' for k in range(n)]
    sizes = [max(0, min(shard_size, num_items - k * shard_size)) for k in range(n)]
    mine = range(rank, n, world_size)
    todo = [k for k in mine if not osp.isfile(osp.join(folder, names[k]))]
    if len(mine) > len(todo):
        print_log(f'[cache] {desc}: {len(mine) - len(todo)} finished shard(s) skipped (resume)', logger='current')
    bar = None
    if progress and todo:
        from tqdm import tqdm
        bar = tqdm(total=sum(sizes[k] for k in todo), desc=f'{desc} [rank {rank}]', unit='item', position=rank)
    for k in todo:
        start = k * shard_size
        tensors = encode(start, start + sizes[k])
        tmp = osp.join(folder, names[k] + f'.tmp{os.getpid()}')
        save_file({key: v.contiguous() for key, v in tensors.items()}, tmp)
        os.replace(tmp, osp.join(folder, names[k]))  # atomic: a crash never leaves a half shard
        if bar is not None:
            bar.update(sizes[k])
    if bar is not None:
        bar.close()
    barrier()
    if rank == 0:
        missing = [nm for nm in names if not osp.isfile(osp.join(folder, nm))]
        if missing:
            raise RuntimeError(f'{folder}: shard(s) {missing[:3]} missing after extraction (a rank failed?).')
        from safetensors import safe_open
        with safe_open(osp.join(folder, names[0]), framework='pt') as f:
            keys = {k: list(f.get_slice(k).get_shape()[1:]) for k in f.keys()}
        tmp = osp.join(folder, INDEX + f'.tmp{os.getpid()}')
        with open(tmp, 'w') as f:
            json.dump(dict(meta, shards=names, sizes=sizes, keys=keys), f)
        os.replace(tmp, osp.join(folder, INDEX))
    barrier()
    return folder
