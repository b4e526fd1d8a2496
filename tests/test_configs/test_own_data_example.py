"""The README's "your own data and classes" example trains and tests on a CSV of tiles with custom prompts."""
import glob
import os.path as osp

import pandas as pd
import torch

from mmmedfm.apis import init_model
from mmmedfm.models.utils.zero_shot import build_class_prompts
from tests.helpers import NO_FIGURES, cli_options, load_tool

CFG = 'configs/examples/lora-zs_plip_16shot-20e_owndata.py'


def test_own_data_example_trains_and_tests(tmp_path, tiny_clip_dir, sicapv2_root):
    images = sorted(glob.glob(osp.join(sicapv2_root, 'images', '*.jpg')))[:36]
    names = ['tumour', 'stroma', 'normal']
    rows = pd.DataFrame(dict(path=images,  # absolute paths work too (relative ones are under data_root)
                             label=[names[i % 3] for i in range(len(images))],
                             slide_id=[f'slide{i % 6}' for i in range(len(images))]))
    rows.iloc[:24].to_csv(osp.join(tmp_path, 'train.csv'), index=False)
    rows.iloc[24:].to_csv(osp.join(tmp_path, 'test.csv'), index=False)
    opts = {'model.foundation_model': tiny_clip_dir, 'model.head.cache_dir': str(tmp_path / 'text'),
            'train_dataloader.dataset.num_shots': 4, 'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
            'train_dataloader.batch_size': 6,
            'model.data_preprocessor.resize.size': 64, 'model.data_preprocessor.resize.crop_size': 64,
            **NO_FIGURES}
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = str(tmp_path)
        opts[f'{split}_dataloader.num_workers'] = 0
    model = init_model(CFG, None, 'cpu', opts)
    # the class embeddings are the prompt-ensemble of the config's templates x descriptions, in label order
    prompts = build_class_prompts(names, model.cfg.prompts.templates, model.cfg.prompts.descriptions)
    assert prompts[0][:2] == ['a histopathology image of tumour cells', 'an H&E stained tile showing tumour cells']
    assert len(prompts[0]) == 6  # 3 templates x 2 descriptions
    from mmmedfm.registry import MODELS
    encoder = MODELS.build(dict(type='HFCLIPText', pretrained=tiny_clip_dir)).eval()
    with torch.no_grad():  # independent: normalise each prompt embedding, average per class, re-normalise
        expected = torch.stack([torch.nn.functional.normalize(
            torch.nn.functional.normalize(encoder.encode(p), dim=-1).mean(0), dim=0) for p in prompts])
    torch.testing.assert_close(model.head.class_embeddings.float(), expected, rtol=1e-4, atol=1e-5)
    load_tool('tools/train.py').main([CFG, '--work-dir', str(tmp_path / 'run'), '--cfg-options',
                                               *cli_options(opts)])
    support = pd.read_csv(tmp_path / 'run' / 'few_shot_support.csv')
    assert sorted(support['class'].unique()) == sorted(names) and len(support) == 12
    metrics = load_tool('tools/test.py').main([CFG, str(tmp_path / 'run' / 'epoch_1.pth'), '--work-dir',
                                               str(tmp_path / 'test'), '--cfg-options', *cli_options(opts)])
    assert metrics['wsi/num_slides'] == 6 and 'cls/recall_tumour' in metrics
