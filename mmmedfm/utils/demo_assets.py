"""Offline demo assets: tiny random-initialised models (PLIP format; open_clip ViT-B/16 layout; BERT, the format
of BioLinkBERT) and synthetic SICAPv2 and PatchGastric.

Both use the real on-disk formats (HF ``save_pretrained`` files; SICAPv2 ``images/`` + ``partition/*.xlsx``
with the real columns), so they exercise exactly the code path that real weights and data take.
"""
import gzip
import os
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Tuple

import numpy as np

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def _bytes_to_unicode() -> Dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode table (the standard BPE byte alphabet)."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + \
        list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@lru_cache(1)
def clip_bpe_vocab() -> Tuple[Dict[str, int], List[str]]:
    """Build the CLIP tokenizer's ``vocab.json`` and merges from the BPE file that ships inside open_clip.

    The vocabulary is the byte alphabet, the same with ``</w>``, one token per merge and the two special
    tokens: 49,408 entries, identical to OpenAI CLIP's (and PLIP's).
    """
    import open_clip
    path = osp.join(osp.dirname(open_clip.__file__), 'bpe_simple_vocab_16e6.txt.gz')
    merges = gzip.open(path).read().decode('utf-8').split('\n')[1:49152 - 256 - 2 + 1]
    tokens = list(_bytes_to_unicode().values())
    tokens += [t + '</w>' for t in tokens]
    tokens += [''.join(m.split()) for m in merges]
    tokens += ['<|startoftext|>', '<|endoftext|>']
    return {t: i for i, t in enumerate(tokens)}, merges


def make_tiny_clip(out_dir: str, image_size: int = 224, patch_size: int = 32, hidden: int = 128,
                   layers: int = 2, heads: int = 2, proj_dim: int = 64, seed: int = 0) -> str:
    """Write a random-initialised PLIP-format ``CLIPModel`` (+ tokenizer + image processor) to ``out_dir``.

    Same files as ``vinid/plip`` (``config.json``, ``model.safetensors``, ``vocab.json``, ``merges.txt``,
    ``preprocessor_config.json``...), ViT-B/32-like layout at toy width.
    """
    import torch
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer,
                              CLIPTextConfig, CLIPVisionConfig)
    os.makedirs(out_dir, exist_ok=True)
    vocab, merges = clip_bpe_vocab()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split()) for m in merges])
    image_processor = CLIPImageProcessor(size={'shortest_edge': image_size},
                                         crop_size={'height': image_size, 'width': image_size},
                                         image_mean=CLIP_MEAN, image_std=CLIP_STD)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out_dir)
    image_processor.save_pretrained(out_dir)  # preprocessor_config.json, as in vinid/plip
    text = CLIPTextConfig(vocab_size=len(vocab), hidden_size=hidden, intermediate_size=2 * hidden,
                          num_hidden_layers=layers, num_attention_heads=heads, max_position_embeddings=77,
                          bos_token_id=vocab['<|startoftext|>'], eos_token_id=vocab['<|endoftext|>'],
                          pad_token_id=vocab['<|endoftext|>'])
    vision = CLIPVisionConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                              num_attention_heads=heads, image_size=image_size, patch_size=patch_size)
    config = CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=proj_dim)
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(out_dir)
    return out_dir


# Synthetic "tissue": a pink stroma background with class-specific glands, so classes differ visibly.
_CLASS_STYLE = {  # (background RGB, gland radius range, glands per patch, lumen, nuclei density)
    0: ((236, 200, 220), (18, 26), 5, True, 0.002),   # NC: large regular glands with open lumen
    1: ((220, 170, 205), (8, 12), 14, True, 0.004),   # G3: small dense glands
    2: ((200, 140, 190), (20, 30), 4, False, 0.010),  # G4: fused, cribriform-like blobs
    3: ((170, 110, 175), (0, 0), 0, False, 0.030),    # G5: sheets of isolated nuclei, no lumen
}


def synthetic_patch(label: int, rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """An ``(size, size, 3)`` uint8 RGB patch whose appearance depends on ``label`` (0..3)."""
    bg, (rmin, rmax), n_glands, lumen, nuclei = _CLASS_STYLE[label]
    img = np.ones((size, size, 3), np.float32) * np.array(bg, np.float32)
    img += rng.normal(0, 10, img.shape)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(n_glands):
        cy, cx, r = rng.integers(0, size), rng.integers(0, size), rng.integers(rmin, rmax + 1)
        d = np.hypot(yy - cy, xx - cx)
        img[(d < r) & (d >= 0.7 * r)] = (120, 60, 140)
        img[d < 0.7 * r] = (250, 245, 250) if lumen else (150, 90, 160)
    dots = rng.random((size, size)) < nuclei
    img[dots] = (60, 20, 100)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_sicapv2(root: str, train_per_class: int = 40, test_per_class: int = 25, wsis_per_class: int = 4,
                 size: int = 256, seed: int = 0, val_folds: int = 4) -> str:
    """Write a synthetic SICAPv2 in the original layout (``images/``, ``partition/Test/{Train,Test}.xlsx``,
    ``partition/Validation/Val{1..val_folds}/{Train,Test}.xlsx``).

    Train.xlsx also has two rows with no hot label and one with two, which the dataset must drop.
    """
    import pandas as pd
    from PIL import Image
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'partition', 'Test'), exist_ok=True)
    cols = ['NC', 'G3', 'G4', 'G5']

    def write(split: str, per_class: int, slide_offset: int) -> List[dict]:
        rows = []
        for label in range(4):
            for i in range(per_class):
                wsi = f'{16 + label}B{slide_offset + label * 100 + i % wsis_per_class:07d}'
                name = f'{wsi}_Block_Region_{i}_0_0_xini_{1000 * i}_yini_{500 * label}.jpg'
                Image.fromarray(synthetic_patch(label, rng, size)).save(osp.join(root, 'images', name),
                                                                        quality=90)
                row = dict(image_name=name, **{c: int(j == label) for j, c in enumerate(cols)})
                row['G4C'] = int(label == 2 and i % 3 == 0)
                rows.append(row)
        return rows

    train = write('Train', train_per_class, 0)
    for k, hot in enumerate([(), (), ('G3', 'G4')]):  # malformed rows, as found in real spreadsheets
        name = f'19B{9000000 + k:07d}_Block_Region_0_0_0_xini_0_yini_0.jpg'
        Image.fromarray(synthetic_patch(0, rng, size)).save(osp.join(root, 'images', name), quality=90)
        train.append(dict(image_name=name, **{c: int(c in hot) for c in cols}, G4C=0))
    test = write('Test', test_per_class, 50)
    pd.DataFrame(train).to_excel(osp.join(root, 'partition', 'Test', 'Train.xlsx'), index=False)
    pd.DataFrame(test).to_excel(osp.join(root, 'partition', 'Test', 'Test.xlsx'), index=False)
    # Cross-validation folds: Validation/ValN holds out the training slides with index == N - 1 (mod 4).
    train_df = pd.DataFrame(train)
    wsis = sorted(train_df['image_name'].map(lambda n: n.split('_Block')[0]).unique())
    for fold in range(1, val_folds + 1):
        held = {w for i, w in enumerate(wsis) if i % 4 == fold - 1}
        is_val = train_df['image_name'].map(lambda n: n.split('_Block')[0] in held)
        fold_dir = osp.join(root, 'partition', 'Validation', f'Val{fold}')
        os.makedirs(fold_dir, exist_ok=True)
        train_df[~is_val].to_excel(osp.join(fold_dir, 'Train.xlsx'), index=False)
        train_df[is_val].to_excel(osp.join(fold_dir, 'Test.xlsx'), index=False)
    return root


# The four subtype strings CITE keeps (exact captions.csv spelling) and one it excludes (stands for the others).
PATCHGASTRIC_DEMO_SUBTYPES = [
    ('Well differentiated tubular adenocarcinoma', 0),
    ('Moderately differentiated tubular adenocarcinoma', 1),
    ('Poorly differentiated adenocarcinoma, non-solid type', 2),
    ('Poorly differentiated adenocarcinoma, solid type', 2),
    ('Signet ring cell carcinoma', 3),
]


def make_patchgastric(root: str, wsis_per_subtype: int = 5, min_patches: int = 2, max_patches: int = 6,
                      size: int = 300, seed: int = 0) -> str:
    """Write a synthetic PatchGastric in the original layout: ``captions.csv`` + ``patches_captions/{id}_*.jpg``.

    ``wsis_per_subtype`` slides for each of the five subtype strings above (both poorly differentiated strings,
    which form one class, and one excluded subtype); slide ``j`` has ``min_patches + j % (max - min + 1)``
    patches, so slide sizes differ. Two captions.csv rows have no patch files (as in partial downloads).
    """
    import pandas as pd
    from PIL import Image
    rng = np.random.default_rng(seed)
    img_dir = osp.join(root, 'patches_captions')
    os.makedirs(img_dir, exist_ok=True)
    rows = []
    for s, (subtype, style) in enumerate(PATCHGASTRIC_DEMO_SUBTYPES):
        for j in range(wsis_per_subtype):
            wsi = f'{s:02d}{j:03d}AB'
            rows.append(dict(id=wsi, subtype=subtype, text=f'{subtype.lower()} in slide {wsi}.'))
            for p in range(min_patches + j % (max_patches - min_patches + 1)):
                Image.fromarray(synthetic_patch(style, rng, size)).save(
                    osp.join(img_dir, f'{wsi}_{rng.integers(16 ** 8):08x}{p}.jpg'), quality=90)
    rows += [dict(id=f'99{k:03d}ZZ', subtype=PATCHGASTRIC_DEMO_SUBTYPES[k][0], text='no patches.') for k in range(2)]
    pd.DataFrame(rows).to_csv(osp.join(root, 'captions.csv'), index=False)
    return root


# Bump when a builder changes what it writes: make_demo_assets then rebuilds existing assets.
DEMO_ASSETS_VERSION = '2'

# PatchGastric demo caption words missing from the tiny BERT vocabulary (so captions are not all [UNK]).
DEMO_CAPTION_WORDS = ('tubular', 'in', 'non', 'solid', 'type', 'signet', 'ring', 'cell', 'carcinoma', ',', '-', '.')

# Widths of the CITE demo models; configs/demo/_base_/clip-b16_patchgastric.py sets the projection neck to map one
# to the other.
DEMO_CLIP_B16_EMBED_DIM = 64
DEMO_BERT_HIDDEN = 96


def make_demo_models(root: str = 'data/demo', force: bool = False) -> Dict[str, str]:
    """Build the demo models under ``root`` unless they already exist.

    ``tiny-plip`` (HF CLIP, PLIP's files), ``tiny-clip-b16`` (open_clip hf-hub layout, ViT-B/16 token layout at
    224 px, embedding width ``DEMO_CLIP_B16_EMBED_DIM``; stands for OpenAI CLIP ``ViT-B-16``) and
    ``tiny-biolinkbert`` (BERT ``save_pretrained`` layout, hidden ``DEMO_BERT_HIDDEN``; stands for
    BioLinkBERT-large), and the adaptor demo's unimodal encoders ``tiny-dinov2`` (vision) and ``tiny-bert``
    (text, with the PatchGastric caption words in its vocabulary).
    """
    from .tiny_models import make_tiny_bert, make_tiny_dinov2, make_tiny_open_clip
    paths = dict(model=osp.join(root, 'tiny-plip'), clip_b16=osp.join(root, 'tiny-clip-b16'),
                 biolinkbert=osp.join(root, 'tiny-biolinkbert'), dinov2=osp.join(root, 'tiny-dinov2'),
                 bert=osp.join(root, 'tiny-bert'))
    if force or not osp.isfile(osp.join(paths['model'], 'model.safetensors')):
        make_tiny_clip(paths['model'])
    if force or not osp.isfile(osp.join(paths['clip_b16'], 'open_clip_model.safetensors')):
        make_tiny_open_clip(paths['clip_b16'], safetensors=True, image_size=224, patch_size=16, width=32,
                            layers=2, embed_dim=DEMO_CLIP_B16_EMBED_DIM, mean=CLIP_MEAN, std=CLIP_STD)
    if force or not osp.isfile(osp.join(paths['biolinkbert'], 'model.safetensors')):
        make_tiny_bert(paths['biolinkbert'], hidden=DEMO_BERT_HIDDEN, intermediate=2 * DEMO_BERT_HIDDEN)
    if force or not osp.isfile(osp.join(paths['dinov2'], 'model.safetensors')):
        make_tiny_dinov2(paths['dinov2'])
    if force or not osp.isfile(osp.join(paths['bert'], 'model.safetensors')):
        make_tiny_bert(paths['bert'], extra_words=DEMO_CAPTION_WORDS)
    return paths


def make_demo_assets(root: str = 'data/demo', force: bool = False) -> Dict[str, str]:
    """Build the demo models (:func:`make_demo_models`), ``{root}/SICAPv2``, ``{root}/PatchGastric`` and the demo
    whole slide ``{root}/slides/demo_slide.tif`` unless they already exist."""
    from .synthetic_slides import make_demo_slide
    stamp = osp.join(root, 'VERSION')
    stale = not osp.isfile(stamp) or open(stamp).read().strip() != DEMO_ASSETS_VERSION
    if osp.isdir(root) and stale:
        force = True  # assets from an older mmmedfm: rebuild them rather than train on stale models
    paths = make_demo_models(root, force)
    paths.update(sicapv2=osp.join(root, 'SICAPv2'), patchgastric=osp.join(root, 'PatchGastric'),
                 slide=osp.join(root, 'slides', 'demo_slide.tif'))
    if force or not osp.isfile(osp.join(paths['sicapv2'], 'partition', 'Validation', 'Val4', 'Test.xlsx')):
        make_sicapv2(paths['sicapv2'])
    if force or not osp.isfile(osp.join(paths['patchgastric'], 'captions.csv')):
        make_patchgastric(paths['patchgastric'], wsis_per_subtype=10, min_patches=3, max_patches=8)
    if force or not osp.isfile(paths['slide']):
        make_demo_slide(osp.dirname(paths['slide']))
    with open(stamp, 'w') as f:
        f.write(DEMO_ASSETS_VERSION + '\n')
    return paths
