"""The CITE PatchGastric config as a whole: trainable parameters, deterministic test time, WSI accuracy."""
import glob

import numpy as np
import pandas as pd
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmmedfm.registry import DATASETS, MODELS
from tests.helpers import NO_FIGURES, cli_options, load_tool

CITE = 'configs/cite/cite_clip-b16-biolinkbert_16wsi-1000it_patchgastric.py'
CITE_DEMO = 'configs/demo/cite_clip-b16-biolinkbert_16wsi-1000it_patchgastric_demo.py'


def test_cite_trainable_parameters_on_vit_b16(tmp_path, monkeypatch):
    """CITE's design: prompt (1 x 768) + neck (512 x 1024 + 1024) ~ 0.5 M trainable, on the real ViT-B/16 shape."""
    import open_clip
    from mmmedfm.models.backbones import open_clip_vision
    from mmmedfm.utils.tiny_models import make_tiny_bert

    # The open_clip ViT-B-16 architecture, randomly initialised (no weights needed offline).
    monkeypatch.setattr(open_clip_vision, 'load_open_clip',
                        lambda pretrained, model_name=None, quick_gelu=None: open_clip.create_model(
                            model_name, pretrained=None, force_quick_gelu=bool(quick_gelu)))
    bert = make_tiny_bert(str(tmp_path / 'bert'), hidden=1024, intermediate=64)  # BioLinkBERT-large's width
    cfg = Config.fromfile(CITE)
    cfg.model.head.text_encoder.pretrained = bert
    cfg.model.head.cache_dir = None
    model = MODELS.build(cfg.model)
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'backbone.vpt.prompts': 768, 'neck.proj.weight': 512 * 1024, 'neck.proj.bias': 1024}
    assert sum(trainable.values()) == 526_080
    total = sum(p.numel() for p in model.parameters())
    assert 86e6 < total < 87e6  # the ViT-B/16 image tower + neck; the text side is a frozen buffer
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224), mode='tensor')
    assert out.shape == (1, 3)


@pytest.fixture
def cite_opts(tiny_open_clip_dir, tiny_bert_dir, patchgastric_root, tmp_path):
    """--cfg-options pointing the CITE demo config at the test fixtures (16-d image, 32-d text, 32 px)."""
    opts = {'model.foundation_model': tiny_open_clip_dir, 'model.neck.in_channels': 16,
            'model.neck.out_channels': 32, 'model.head.text_encoder.pretrained': tiny_bert_dir,
            'model.head.cache_dir': str(tmp_path / 'text_cache'), 'train_dataloader.batch_size': 8,
            'train_cfg.max_iters': 4, 'train_cfg.val_interval': 4, 'default_hooks.checkpoint.interval': 4,
            **NO_FIGURES}
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.num_workers'] = 0
        opts[f'{split}_dataloader.dataset.data_root'] = patchgastric_root
        opts[f'{split}_dataloader.dataset.pipeline.1.scale'] = (32, 32)
    return opts


def test_test_time_is_deterministic(cite_opts):
    """Same image -> same logits twice through the test pipeline and the full model (VPT included)."""
    cfg = Config.fromfile(CITE_DEMO)
    cfg.merge_from_dict(cite_opts)
    assert not [t['type'] for t in cfg.test_dataloader.dataset.pipeline if 'Random' in t['type']]
    model = MODELS.build(cfg.model).eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    runs = []
    for _ in range(2):
        batch = pseudo_collate([dataset[i] for i in range(4)])
        with torch.no_grad():
            runs.append(torch.stack([s.pred_score for s in model.test_step(batch)]))
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
    # A model built again from the same config and seed gives the same prompts (never data-initialised).
    torch.manual_seed(0)
    a = MODELS.build(cfg.model).backbone.vpt.prompts
    torch.manual_seed(0)
    torch.testing.assert_close(a, MODELS.build(cfg.model).backbone.vpt.prompts)


@pytest.mark.e2e
def test_wsi_accuracy_equals_pandas_groupby(tmp_path, cite_opts):
    """WSIMetric's slide accuracy (mean softmax per slide) equals pandas on per-patch predictions of the run."""
    from mmmedfm.apis import predict
    opts = dict(cite_opts, **{'train_dataloader.dataset.num_wsis': 2})
    load_tool('tools/train.py').main([CITE_DEMO, '--work-dir', str(tmp_path), '--cfg-options', *cli_options(opts)])
    ckpt = glob.glob(str(tmp_path / 'iter_4.pth'))[0]
    metrics = load_tool('tools/test.py').main([CITE_DEMO, ckpt, '--work-dir', str(tmp_path / 'test'),
                                               '--cfg-options', *cli_options(opts)])
    cfg = Config.fromfile(CITE_DEMO)
    cfg.merge_from_dict(opts)
    data = pd.DataFrame(DATASETS.build(cfg.test_dataloader.dataset).load_data_list())
    preds = predict(cfg, ckpt, data['img_path'].tolist(), progress=False)
    df = data.merge(preds, left_on='img_path', right_on='path')
    prob_cols = [c for c in preds.columns if c.startswith('prob_')]
    per_slide = df.groupby('wsi_id').agg({**{c: 'mean' for c in prob_cols}, 'gt_label': 'first'})
    slide_acc = 100. * np.mean(per_slide[prob_cols].to_numpy().argmax(1) == per_slide['gt_label'].to_numpy())
    patch_acc = 100. * np.mean(df['pred_label'] == df['gt_label'])
    assert metrics['wsi/num_slides'] == len(per_slide) == data['wsi_id'].nunique()
    assert metrics['wsi/accuracy'] == pytest.approx(slide_acc)
    assert metrics['cls/accuracy'] == pytest.approx(patch_acc)
    # per-class accuracy = recall of the class
    # (metric names use the dataset's class names; the head's prompt texts are CITE's spelling)
    for label, name in enumerate(DATASETS.get('PatchGastricDataset').METAINFO['classes']):
        rows = df[df['gt_label'] == label]
        assert ' ' not in ''.join(metrics)  # metric keys have no spaces ('well differentiated' -> '_')
        assert metrics[f"cls/recall_{name.replace(' ', '_')}"] == pytest.approx(100. * np.mean(rows['pred_label'] == label))
