"""Adaptor training throughput (pairs/s) from cached embeddings: optimizer steps on random cached-like
tensors (fp16 storage, as read from the cache), no encoder anywhere.

    python tools/analysis/benchmark_adaptor.py --image-dim 768 --text-dim 1024 --batch-size 256
    python tools/analysis/benchmark_adaptor.py --patch-tokens 256   # pooled + 256 patch tokens per image
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--image-dim', type=int, default=768)
    p.add_argument('--text-dim', type=int, default=768)
    p.add_argument('--text-len', type=int, default=64)
    p.add_argument('--patch-tokens', type=int, default=0)
    p.add_argument('--width', type=int, default=256)
    p.add_argument('--depth', type=int, default=2)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--caption-ratio', type=float, default=0.25, help='distinct captions per pair in a batch')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = p.parse_args(argv)
    from mmmedfm.models.alignment import AdaptorVL
    dev = torch.device(args.device)
    model = AdaptorVL(args.image_dim, args.text_dim, width=args.width, depth=args.depth, heads=args.heads).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b = args.batch_size
    shape = (b, 1 + args.patch_tokens, args.image_dim) if args.patch_tokens else (b, args.image_dim)
    image = torch.randn(shape, device=dev).half()
    text = torch.randn(b, args.text_len, args.text_dim, device=dev).half()
    mask = torch.arange(args.text_len, device=dev)[None].expand(b, -1) < torch.randint(8, args.text_len, (b, 1),
                                                                                             device=dev)
    groups = torch.randint(0, max(1, int(b * args.caption_ratio)), (b, ), device=dev)  # shared slide captions
    autocast = torch.autocast('cuda', dtype=torch.bfloat16) if dev.type == 'cuda' else \
        torch.autocast('cpu', enabled=False)
    model.train()
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if dev.type == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
        with autocast:
            loss = model(image, text, mask, groups, mode='loss')['loss']  # (caption_index=groups)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if dev.type == 'cuda':
        torch.cuda.synchronize()
    sec = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    print(f'device={dev} threads={torch.get_num_threads()} params={params / 1e6:.2f}M batch={b} '
          f'patch_tokens={args.patch_tokens} width={args.width} depth={args.depth}: '
          f'{args.steps * b / sec:.0f} pairs/s ({1000 * sec / args.steps:.1f} ms/step)')
    return args.steps * b / sec


if __name__ == '__main__':
    main()
