# configs/adaptor/adaptor_dinov2-b-biolinkbert_20e_patchgastric.py on the offline assets
# (`python tools/misc/make_demo_assets.py`): tiny random DINOv2 + tiny random BERT, synthetic PatchGastric
# (captions name the subtype, so they are determined by the image class); smaller widths, lr 1e-3, 30 epochs.
#   python tools/extract_unimodal.py configs/demo/adaptor_dinov2-b-biolinkbert_20e_patchgastric_demo.py
#   python tools/train.py configs/demo/adaptor_dinov2-b-biolinkbert_20e_patchgastric_demo.py
#   python tools/analysis/eval_adaptor.py configs/demo/adaptor_dinov2-b-biolinkbert_20e_patchgastric_demo.py \
#       work_dirs/adaptor_dinov2-b-biolinkbert_20e_patchgastric_demo/epoch_30.pth
_base_ = ['../adaptor/adaptor_dinov2-b-biolinkbert_20e_patchgastric.py']

data_root = 'data/demo/PatchGastric'
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]
source = dict(type='PatchGastricDataset', data_root=data_root, eval_ratio=0.2, split_seed=0, split_mode='per_class',
              pipeline=pipeline)
unimodal = dict(vision=dict(type='HFVisionBackbone', pretrained='data/demo/tiny-dinov2', pooling='cls'),
                text=dict(type='HFTextEncoder', pretrained='data/demo/tiny-bert', pooling='cls'),
                cache_dir='work_dirs/unimodal_cache', max_length=32, shard_size=64)
model = dict(image_dim=32, text_dim=32, width=64, depth=1, heads=2, embed_dim=32, dropout=0.)
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                        dataset=dict(source=dict(source, split='train'), unimodal=unimodal))
# Checkpoint selection on held-out training slides (`holdout` in the base); evaluation slides only in test.
val_dataloader = dict(batch_size=256, num_workers=0, persistent_workers=False,
                      dataset=dict(source=dict(source, split='train'), unimodal=unimodal))
test_dataloader = dict(batch_size=256, num_workers=0, persistent_workers=False,
                       dataset=dict(source=dict(source, split='test'), unimodal=unimodal))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_epochs=30, val_interval=10)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10))
evaluation = dict(shots=(1, 2, 4), seeds=(0, 1, 2))
