"""Offline demo assets: a tiny random-initialised PLIP-format checkpoint, synthetic SICAPv2 and PatchGastric.

Both use the real on-disk formats (HF ``save_pretrained`` files; SICAPv2 ``images/`` + ``partition/*.xlsx``
with the real columns), so they exercise exactly the code path that real weights and data take.
"""
import gzip
import os
import os.path as osp
from functools import lru_cache
from typing import Dict, List, Sequence, Tuple

import numpy as np

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


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


def make_tiny_bert(out_dir: str, seed: int = 0, extra_words: Sequence[str] = ()) -> str:
    """BERT (``save_pretrained`` layout) with a small WordPiece vocabulary written here (+ ``extra_words``)."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer
    os.makedirs(out_dir, exist_ok=True)
    words = ('benign glands atrophic dense cribriform ill formed fused papillary patterns isolated nest cells '
             'without lumen roseting histopathology image of slide showing tissue a the presence on nc g3 g4 g5 '
             'gleason grade well moderately poorly differentiated adenocarcinoma').split() + list(extra_words)
    vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + sorted(set(words)) + ['##s', '##ed', '##ing']
    vocab_file = osp.join(out_dir, 'vocab.txt')
    with open(vocab_file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    BertTokenizer(vocab_file).save_pretrained(out_dir)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(out_dir)
    return out_dir


def make_tiny_dinov2(out_dir: str, seed: int = 0, registers: int = 0) -> str:
    """DINOv2 (``Dinov2Config``/``Dinov2WithRegistersConfig``) + its image processor config."""
    import torch
    from transformers import BitImageProcessor
    torch.manual_seed(seed)
    kw = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=16)
    if registers:
        from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel
        model = Dinov2WithRegistersModel(Dinov2WithRegistersConfig(num_register_tokens=registers, **kw))
    else:
        from transformers import Dinov2Config, Dinov2Model
        model = Dinov2Model(Dinov2Config(**kw))
    model.save_pretrained(out_dir)
    BitImageProcessor(image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD).save_pretrained(out_dir)
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


# PatchGastric demo caption words missing from the tiny BERT vocabulary (so captions are not all [UNK]).
DEMO_CAPTION_WORDS = ('tubular', 'in', 'non', 'solid', 'type', 'signet', 'ring', 'cell', 'carcinoma', ',', '-', '.')


def make_demo_assets(root: str = 'data/demo', force: bool = False) -> Dict[str, str]:
    """Build ``{root}/tiny-plip``, ``{root}/SICAPv2``, ``{root}/PatchGastric`` and the adaptor demo's unimodal
    encoders ``{root}/tiny-dinov2`` (vision) and ``{root}/tiny-bert`` (text) unless they already exist."""
    paths = dict(model=osp.join(root, 'tiny-plip'), sicapv2=osp.join(root, 'SICAPv2'),
                 patchgastric=osp.join(root, 'PatchGastric'), dinov2=osp.join(root, 'tiny-dinov2'),
                 bert=osp.join(root, 'tiny-bert'))
    if force or not osp.isfile(osp.join(paths['model'], 'model.safetensors')):
        make_tiny_clip(paths['model'])
    if force or not osp.isfile(osp.join(paths['sicapv2'], 'partition', 'Validation', 'Val4', 'Test.xlsx')):
        make_sicapv2(paths['sicapv2'])
    if force or not osp.isfile(osp.join(paths['patchgastric'], 'captions.csv')):
        make_patchgastric(paths['patchgastric'], wsis_per_subtype=10, min_patches=3, max_patches=8)
    if force or not osp.isfile(osp.join(paths['dinov2'], 'model.safetensors')):
        make_tiny_dinov2(paths['dinov2'])
    if force or not osp.isfile(osp.join(paths['bert'], 'model.safetensors')):
        make_tiny_bert(paths['bert'], extra_words=DEMO_CAPTION_WORDS)
    return paths
