# Adaptor-VL-SSL's hyper-parameters (holajoa/Adaptor-VL-SSL shell/pretrain.sh, utils/args.py, models/adaptor.py)
# on our architecture: asymmetric loss (image weight 0.75), width/projection 768, 12 heads, 2 layers, FFN 2048,
# dropout 0.1, unclamped logit scale from 1/0.07, AdamW lr 2e-5 weight decay 0.01 on every parameter, linear
# warm-up over 2% of the steps then linear decay to 0, 50 epochs, batch 1024. What stays ours (co-attention
# layers, null-token context, same-caption mask): see configs/adaptor/README.md, "Fidelity".
#   python tools/train.py configs/adaptor/adaptor-vlssl_dinov2-b-biolinkbert_50e_patchgastric.py
_base_ = ['./adaptor_dinov2-b-biolinkbert_20e_patchgastric.py']

model = dict(width=768, embed_dim=768, heads=12, depth=2, mlp_ratio=2048 / 768, dropout=0.1, image_weight=0.75,
             max_logit_scale=None, logit_scale_init=1 / 0.07)
train_dataloader = dict(batch_size=1024)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.01),
                     paramwise_cfg=dict(custom_keys={'logit_scale': dict(decay_mult=1.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, end_factor=1., by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),  # 1 of 50 epochs = the release's 2% warm-up
    dict(type='LinearLR', start_factor=1., end_factor=0., by_epoch=True, begin=1, end=50,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=5)
