"""Time a training step of our PEFT path against an HF peft reference loop on the same model and batch.

    python tools/analysis/benchmark_peft.py [CONFIG] [--foundation-model DIR] [--batch-size 32] [--amp]

Rows: ours (``VLMClassifier`` built from CONFIG with LoRA, and with full fine-tuning) and HF peft
(``peft.get_peft_model`` on a ``CLIPModel`` from the same weights, LoRA on the same targets/rank; and the plain
``CLIPModel`` fully fine-tuned). Each step = forward, cross-entropy on cosine logits, backward, Adam step.
Reports img/s and peak memory: ``torch.cuda.max_memory_allocated`` on GPU, the peak resident-set growth
(sampled) on CPU. Without ``--foundation-model`` a PLIP-shaped (ViT-B/32 layout, 224 px) but
narrow random CLIP is written to a temporary directory (``--width``, ``--layers``).
"""
import argparse
import contextlib
import copy
import multiprocessing
import os.path as osp
import resource
import sys
import tempfile
import threading
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Benchmark our LoRA/full fine-tuning step against HF peft')
    p.add_argument('config', nargs='?', default='configs/peft/lora-zs_plip_16shot-20e_sicapv2.py')
    p.add_argument('--foundation-model', help='CLIPModel directory (default: a random PLIP-shaped one)')
    p.add_argument('--width', type=int, default=256, help='hidden width of the random model')
    p.add_argument('--layers', type=int, default=4, help='depth of the random model')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--amp', action='store_true', help='bf16 autocast (GPU, or CPU where supported)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    return p.parse_args(argv)


def _rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class PeakMemory:
    """Peak memory of a block: CUDA allocator peak on GPU; on CPU the peak resident set size above the level
    at entry, sampled every 2 ms by a thread (torch's CPU tensors are not seen by tracemalloc)."""

    def __init__(self, device):
        self.device = torch.device(device)

    def _sample(self):
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, _rss_mib())

    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self._base = self._peak = _rss_mib()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
            self.peak_mib = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mib = max(self._peak, _rss_mib()) - self._base


def run(step, args) -> dict:
    """Peak memory over warm-up + timed steps (grads, optimizer state, activations); time over timed steps."""
    with PeakMemory(args.device) as mem:
        for _ in range(args.warmup):
            step()
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    return dict(img_s=args.steps * args.batch_size / dt, peak_mib=mem.peak_mib)


def autocast(args):
    if not args.amp:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16)


def ours_step(cfg, peft, args, images, labels):
    from mmpretrain.structures import DataSample

    from mmmedfm.registry import MODELS
    cfg = copy.deepcopy(cfg)
    cfg.model.backbone.peft = peft
    model = MODELS.build(cfg.model).to(args.device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]

    def step():
        with autocast(args):
            loss = model.loss(images, samples)['loss']
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step, model.head


def peft_step(model_dir, lora, args, images, labels, class_emb, scale):
    from peft import LoraConfig, get_peft_model
    from transformers import CLIPModel
    clip = CLIPModel.from_pretrained(model_dir, attn_implementation='sdpa')
    vision, proj = clip.vision_model, clip.visual_projection
    tower = torch.nn.ModuleDict(dict(vision_model=vision, visual_projection=proj)).to(args.device)
    if lora is not None:
        tower = get_peft_model(tower, LoraConfig(r=lora['rank'], lora_alpha=lora['alpha'],
                                                 target_modules=lora['targets']))
        net = tower.base_model.model
    else:
        net = tower
    tower.train()
    opt = torch.optim.Adam([p for p in tower.parameters() if p.requires_grad], lr=1e-4)

    def step():
        with autocast(args):
            feat = F.normalize(net['visual_projection'](net['vision_model'](pixel_values=images).pooler_output), dim=-1)
            loss = F.cross_entropy(scale * feat @ class_emb.t(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


ROWS = [('ours', 'LoRA'), ('HF peft', 'LoRA'), ('ours', 'full FT'), ('HF (no peft)', 'full FT')]


def _row(who: str, method: str, args) -> dict:
    from mmengine.config import Config

    from mmmedfm.utils import register_all_modules
    register_all_modules()
    # Tiny gradients of a random model make Adam's second moments denormal; on CPU that costs 10x per step.
    torch.set_flush_denormal(True)
    cfg = Config.fromfile(args.config)
    cfg.model.foundation_model = args.foundation_model
    lora = dict(cfg.model.backbone.peft[0])
    assert lora['type'] == 'LoRA', f'{args.config}: the first PEFT entry must be LoRA'
    lora.setdefault('alpha', lora.get('rank', 4))
    torch.manual_seed(0)
    images = torch.randn(args.batch_size, 3, 224, 224, device=args.device)
    labels = torch.randint(0, cfg.model.head.num_classes, (args.batch_size, ), device=args.device)
    peft = [lora] if method == 'LoRA' else None  # full fine-tuning: no PEFT
    step, head = ours_step(cfg, peft, args, images, labels)
    if who != 'ours':  # same class embeddings and scale as our head, HF model from the same weights
        class_emb, scale = head.class_embeddings.detach(), float(head.log_logit_scale.exp())
        del step, head
        step = peft_step(args.foundation_model, lora if method == 'LoRA' else None, args, images, labels,
                         class_emb, scale)
    return run(step, args)


def main(argv=None):
    args = parse_args(argv)
    from mmmedfm.utils.demo_assets import make_tiny_clip
    tmp = None
    if args.foundation_model is None:
        tmp = tempfile.TemporaryDirectory()
        args.foundation_model = make_tiny_clip(tmp.name, image_size=224, patch_size=32, hidden=args.width,
                                               layers=args.layers, heads=max(1, args.width // 64), proj_dim=512)
    # Each row runs in a fresh process: CPU memory freed by one row would otherwise be reused by the next
    # (RSS never shrinks), and allocator/cache state would leak between timings.
    ctx = multiprocessing.get_context('spawn')
    rows = []
    for who, method in ROWS:
        with ctx.Pool(1) as pool:
            rows.append((who, method, pool.apply(_row, (who, method, args))))
    mem = 'peak CUDA MiB' if args.device.startswith('cuda') else 'peak CPU MiB'
    print(f'\ndevice={args.device} amp={args.amp} batch={args.batch_size} steps={args.steps} '
          f'model={args.foundation_model}')
    print(f'| path | method | img/s | {mem} |\n|---|---|---|---|')
    for who, method, r in rows:
        print(f'| {who} | {method} | {r["img_s"]:.1f} | {r["peak_mib"]:.0f} |')
    if tmp is not None:
        tmp.cleanup()
    return rows


if __name__ == '__main__':
    main()
