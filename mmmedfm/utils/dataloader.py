"""The tools' dataloader defaults: MMPretrain's (pinned memory, persistent workers), and no worker processes on
a machine without a GPU.

On a CPU-only machine the model's forward and backward already keep every core busy (PyTorch's intra-op
threads), and dataloader worker processes compete with them for the same cores: an OpenMP thread descheduled
in a parallel region stalls the whole region. Loading in the main process is then faster, most of all with the
decoded-image cache, where a batch costs a few milliseconds. Measured on 2 cores (ViT 4x256 LoRA, batch 16,
decoded cache, ``tools/analysis/benchmark_train.py --rounds 5``, twice): 1.15x and 1.11x the HF peft loop
without workers, 1.10x and 0.96x with 2 kept (``--num-workers 2 --keep-workers``). ``env_cfg.cpu_num_workers``
sets the cap (default 0; ``None`` keeps the loaders' own ``num_workers``).
"""
import logging
from copy import deepcopy

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

CPU_NUM_WORKERS = 0


def cpu_worker_cap(cfg: Config):
    """The most dataloader workers a run without CUDA gets (``env_cfg.cpu_num_workers``, default
    :data:`CPU_NUM_WORKERS`); None with CUDA or when the config sets ``cpu_num_workers=None``."""
    if torch.cuda.is_available():
        return None
    return (cfg.get('env_cfg') or {}).get('cpu_num_workers', CPU_NUM_WORKERS)


def set_dataloader_defaults(cfg: Config, fields, pin_memory: bool = True, persistent_workers: bool = True):
    """MMPretrain's dataloader defaults: pinned memory, persistent workers (when there are workers); without
    CUDA, ``num_workers`` capped at :func:`cpu_worker_cap` (logged when it lowers a loader's value)."""
    cap = cpu_worker_cap(cfg)
    for field in fields:
        if cfg.get(field) is None:
            continue
        loader = ConfigDict(pin_memory=pin_memory and torch.cuda.is_available(),
                            collate_fn=dict(type='default_collate'))
        loader.update(deepcopy(cfg[field]))
        if not pin_memory:
            loader.pin_memory = False
        if cap is not None and loader.get('num_workers', 0) > cap:
            print_log(f'{field}.num_workers {loader.num_workers} -> {cap}: no GPU, so worker processes would '
                      'compete with the training threads for the CPU cores (env_cfg.cpu_num_workers=None keeps '
                      'them).', logger='current', level=logging.INFO)
            loader.num_workers = cap
        loader.persistent_workers = bool(persistent_workers and loader.get('persistent_workers', True)
                                         and loader.get('num_workers', 0) > 0)
        cfg[field] = loader
