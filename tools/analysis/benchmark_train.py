"""Training throughput of our ``tools/train.py`` path vs a plain HF peft + autocast loop, same model shape.

Both sides train a PLIP-shape CLIP image tower (random init from a ``CLIPConfig``, no download) with LoRA
(r=4, alpha=4, q/k/v) and a cosine head against frozen class embeddings, Adam lr 1e-3:

* ``mmmedfm``: ``tools/train.py`` on a generated config (the CITE PLIP LoRA experiment pointed at a synthetic
  SICAPv2 at the input size): Runner, ``VLMClassifier``, SDPA attention, the last layer on the CLS token only
  (``HFCLIPVision``'s ``cls_only_last_layer``), bf16 (``--amp``: AMP on GPU, autocast on CPU), optional
  ``torch.compile`` (``cfg.compile``), pinned memory, persistent workers on GPU (none on a CPU-only machine:
  ``env_cfg.cpu_num_workers``, so ``--num-workers`` applies on GPU only). End to end: images read
  from the decoded-image cache (built before timing; ``--jpeg``: decoded every iteration), flips/rot90 on the
  device (``TensorAugment``; ``--cpu-augment``: in the dataset pipeline), collation and host->device copies.
* ``hf-peft``: ``transformers.CLIPModel`` + ``peft.get_peft_model`` in a hand-written loop over batches
  already on the device (model step only), ``torch.autocast`` bf16 when AMP is on.

Throughput counts iterations after ``--warmup``. ``--rounds R`` alternates the sides R times and prints each
round's ratio and their median (a machine whose speed drifts moves one HF-then-ours pair by +-0.15 at 40
iterations; alternating spreads the drift over both sides); peak memory is ``torch.cuda.max_memory_allocated``
per side on GPU, and the process's peak RSS (cumulative: HF side first) on CPU.

Examples::

    python tools/analysis/benchmark_train.py --batch 256 --iters 30 --amp --compile --num-workers 8  # GPU
    python tools/analysis/benchmark_train.py --hidden 256 --layers 4 --heads 4 --batch 16 --iters 40 --warmup 3 \
        --rounds 3                                                                                    # CPU
"""
import argparse
import math
import os
import os.path as osp
import resource
import statistics
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import torch  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402

from mmmedfm.registry import HOOKS  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--image-size', type=int, default=224)
    p.add_argument('--patch-size', type=int, default=32)
    p.add_argument('--hidden', type=int, default=768, help='ViT width (PLIP: 768)')
    p.add_argument('--layers', type=int, default=12)
    p.add_argument('--heads', type=int, default=12)
    p.add_argument('--proj-dim', type=int, default=512)
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--iters', type=int, default=20, help='timed iterations per side')
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--rounds', type=int, default=1,
                   help='alternate the two sides this many times (HF, ours, HF, ours...) and print the median '
                        'ratio: on a shared machine the load drifts between two single timings')
    p.add_argument('--amp', action='store_true', help='bf16 autocast on both sides')
    p.add_argument('--compile', action='store_true', help='cfg.compile=True on our side (torch.compile)')
    p.add_argument('--num-workers', type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument('--images', type=int, default=None,
                   help='synthetic images on disk (reused across iterations); default max(batch, 64)')
    p.add_argument('--skip', choices=['hf', 'ours'], help='run only one side')
    p.add_argument('--jpeg', action='store_true',
                   help='our side decodes JPEGs every iteration (default: the decoded-image cache)')
    p.add_argument('--cpu-augment', action='store_true',
                   help='flips/rot90 in the dataset pipeline on the CPU (default: TensorAugment on the device)')
    p.add_argument('--keep-workers', action='store_true',
                   help='keep --num-workers on a CPU-only machine too (env_cfg.cpu_num_workers=None; by default '
                        'tools/train.py loads in the main process there)')
    p.add_argument('--peak-memory-full', action='store_true',
                   help='also train our side without LoRA (full fine-tuning) and print its peak memory')
    p.add_argument('--work-dir', help='where assets and logs go (default: a temporary dir)')
    return p.parse_args(argv)


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_mib(device):
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Throughput:
    """Timestamps of training iterations, shared by the hook and the HF loop."""

    def __init__(self, warmup, batch):
        self.warmup, self.batch, self.stamps = warmup, batch, []

    def tick(self, device):
        _sync()
        self.stamps.append(time.perf_counter())
        if len(self.stamps) == self.warmup and device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()

    def images_per_s(self):
        timed = self.stamps[self.warmup - 1:]  # from the end of the last warm-up iteration
        return self.batch * (len(timed) - 1) / (timed[-1] - timed[0])


@HOOKS.register_module(force=True)
class BenchmarkThroughputHook(Hook):
    """Records a timestamp after every training iteration into ``BenchmarkThroughputHook.meter``."""

    priority = 'LOWEST'
    meter = None

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.meter.tick(next(runner.model.parameters()).device)


def make_assets(root, args):
    """A PLIP-format CLIP (PLIP shape unless reduced by the flags) and a synthetic SICAPv2 at the input size."""
    from transformers import CLIPConfig, CLIPModel

    import json

    from mmmedfm.utils.demo_assets import make_sicapv2, make_tiny_clip
    n = args.images or max(args.batch, 64)
    shape = dict(image_size=args.image_size, patch_size=args.patch_size, hidden=args.hidden, layers=args.layers,
                 heads=args.heads, proj_dim=args.proj_dim, images=n)
    stamp = osp.join(root, 'assets.json')
    if osp.isfile(stamp):  # a --work-dir reused with the same shape: keep the assets
        with open(stamp) as f:
            if json.load(f) == shape:
                return osp.join(root, 'clip'), osp.join(root, 'SICAPv2')
    model_dir = make_tiny_clip(osp.join(root, 'clip'), image_size=args.image_size, patch_size=args.patch_size,
                               hidden=args.hidden, layers=args.layers, heads=args.heads,
                               proj_dim=args.proj_dim)
    # make_tiny_clip uses an MLP of 2x width; ViT-B/PLIP has 4x: rewrite the weights with the real shape.
    cfg = CLIPConfig.from_pretrained(model_dir)
    for sub in (cfg.vision_config, cfg.text_config):
        sub.intermediate_size = 4 * sub.hidden_size
    torch.manual_seed(0)
    CLIPModel(cfg).save_pretrained(model_dir)
    data_root = make_sicapv2(osp.join(root, 'SICAPv2'), train_per_class=math.ceil(n / 4), test_per_class=1,
                             wsis_per_class=2, size=args.image_size)
    with open(stamp, 'w') as f:
        json.dump(shape, f)
    return model_dir, data_root


def run_hf_peft(model_dir, args, device, amp):
    """Plain loop: HF CLIP image tower + peft LoRA, cosine logits vs frozen class embeddings."""
    import torch.nn.functional as F
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPModel

    clip = CLIPModel.from_pretrained(model_dir, attn_implementation='sdpa')

    class Tower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vision_model, self.visual_projection = clip.vision_model, clip.visual_projection

        def forward(self, x):
            return F.normalize(self.visual_projection(self.vision_model(pixel_values=x).pooler_output), dim=-1)

    model = get_peft_model(Tower(), LoraConfig(r=4, lora_alpha=4, lora_dropout=0.,
                                               target_modules=['q_proj', 'k_proj', 'v_proj'])).to(device)
    text = F.normalize(torch.randn(4, args.proj_dim, device=device), dim=-1)
    optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x = torch.randn(args.batch, 3, args.image_size, args.image_size, device=device)
    y = torch.randint(0, 4, (args.batch, ), device=device)
    meter = Throughput(args.warmup, args.batch)
    for _ in range(args.warmup + args.iters):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(100. * model(x) @ text.t(), y)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        meter.tick(device)
    return meter.images_per_s(), _peak_mib(device)


def run_ours(model_dir, data_root, args, work_dir, full=False):
    """``tools/train.py`` on the CITE PLIP LoRA config pointed at the generated assets (``full``: no LoRA)."""
    cfg_path = osp.join(work_dir, f'benchmark_cfg{"_full" if full else ""}.py')
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    size = args.image_size
    base = osp.join(ROOT, 'configs', 'peft', 'lora-zs_plip_16shot-20e_sicapv2.py')
    from mmengine.config import Config
    hooks = Config.fromfile(base).to_dict().get('custom_hooks', [])  # keep the default hooks of our path
    augment = [dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
               dict(type='RandomRot90', prob=0.5)]
    pipeline = [dict(type='LoadImageFromFile'), *(augment if args.cpu_augment else []), dict(type='PackInputs')]
    # The model's own resize at its input size (PLIP's 224, CONCH's 448), as the model bases set it; the decoded
    # cache stores it (the images are generated at that size, so it is the identity here).
    model = dict(foundation_model=model_dir,
                 data_preprocessor=dict(resize=dict(size=size, crop_size=size, interpolation='bicubic')))
    if not args.cpu_augment:  # the same draws' distributions, on the batch on the device
        model['data_preprocessor']['augment'] = dict(flip_prob=(0.25, 0.25), rot90_prob=0.5)
    if full:
        model['backbone'] = dict(peft=None)
    cache = dict(cache_decoded=not args.jpeg, decoded_cache_dir=osp.join(work_dir, 'decoded'),
                 decoded_cache_workers=args.num_workers)
    fields = dict(
        model=model,
        train_dataloader=dict(batch_size=args.batch, num_workers=args.num_workers,
                              persistent_workers=args.num_workers > 0,
                              sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
                              dataset=dict(data_root=data_root, num_shots=None, pipeline=pipeline, **cache)),
        train_cfg=dict(_delete_=True, by_epoch=False, max_iters=args.warmup + args.iters),
        default_hooks=dict(checkpoint=dict(by_epoch=False, interval=10**9, save_last=False),
                           logger=dict(interval=10**9)),
        custom_hooks=hooks + [dict(type='BenchmarkThroughputHook')],
        compile=bool(args.compile),
        **({'env_cfg': dict(cpu_num_workers=None)} if args.keep_workers else {}),
    )
    with open(cfg_path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n')
        f.writelines(f'{k} = {v!r}\n' for k, v in fields.items())
    meter = BenchmarkThroughputHook.meter = Throughput(args.warmup, args.batch)
    import importlib.util
    spec = importlib.util.spec_from_file_location('train_tool', osp.join(ROOT, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    argv = [cfg_path, '--work-dir', osp.join(work_dir, 'ours_full' if full else 'ours'), '--no-validate', '--force']
    runner = train.main(argv + (['--amp'] if args.amp else []))
    device = next(runner.model.parameters()).device
    return meter.images_per_s(), _peak_mib(device)


def main(argv=None):
    args = parse_args(argv)
    from mmmedfm.utils import register_all_modules
    register_all_modules()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    tmp = None if args.work_dir else tempfile.TemporaryDirectory()
    work_dir = args.work_dir or tmp.name
    os.makedirs(work_dir, exist_ok=True)
    model_dir, data_root = make_assets(work_dir, args)
    shape = (f'ViT {args.layers}x{args.hidden} (heads {args.heads}, mlp {4 * args.hidden}) patch '
             f'{args.patch_size} @{args.image_size}, LoRA r=4 q/k/v, batch {args.batch}, '
             f'{"bf16 AMP" if args.amp else "fp32"}, device {device}'
             + (f' ({torch.cuda.get_device_name()})' if device.type == 'cuda' else f', {torch.get_num_threads()} '
                'threads'))
    rounds = []  # per round: {path: (img/s, peak)}
    for r in range(max(1, args.rounds)):
        results = {}
        if args.skip != 'hf':
            results['hf-peft loop (model step only)'] = run_hf_peft(model_dir, args, device, args.amp)
        if args.skip != 'ours':
            name = 'mmmedfm tools/train.py (end to end)' + (' + compile' if args.compile else '')
            results[name] = run_ours(model_dir, data_root, args, work_dir)
        if args.peak_memory_full and r == 0:
            results['mmmedfm tools/train.py, full fine-tuning'] = run_ours(model_dir, data_root, args, work_dir,
                                                                           True)
        rounds.append(results)
    results = {k: (statistics.median_low(rd[k][0] for rd in rounds if k in rd),
                   max(rd[k][1] for rd in rounds if k in rd)) for k in rounds[0]}
    mem = 'peak GPU MiB' if device.type == 'cuda' else 'peak RSS MiB (process, cumulative)'
    print(f'\n{shape}\n{"path":45s} {"img/s":>9s} {mem:>36s}' + ('  (img/s: median of the rounds)'
                                                                    if len(rounds) > 1 else ''))
    for k, (ips, peak) in results.items():
        print(f'{k:45s} {ips:9.1f} {peak:36.0f}')
    values = list(results.values())
    if args.skip is None:
        ratios = [list(rd.values())[1][0] / list(rd.values())[0][0] for rd in rounds]
        if len(ratios) == 1:
            print(f'ratio mmmedfm / hf-peft: {ratios[0]:.2f}x')
        else:
            print(f'ratio mmmedfm / hf-peft: {statistics.median_low(ratios):.2f}x (median of '
                  f'{len(ratios)} alternating rounds: {", ".join(f"{x:.2f}" for x in ratios)})')
    if args.peak_memory_full:
        print(f'peak memory LoRA / full fine-tuning: {values[-2][1] / values[-1][1]:.2f}x (goal <= 0.7x)')
    if tmp is not None:
        tmp.cleanup()
    return results


if __name__ == '__main__':
    main()
