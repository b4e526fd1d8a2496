# Your own data and classes (README "Your own data and classes"): tiles listed in CSV files
# (path,label,slide_id), your class names in label order, your prompts; PLIP + LoRA, 16 shots per class.
#   python tools/train.py configs/examples/lora-zs_plip_16shot-20e_owndata.py --cfg-options data_root=...  (or edit)
_base_ = ['../peft/lora-zs_plip_16shot-20e_sicapv2.py']

data_root = 'data/my_tiles'  # holds train.csv, test.csv and the images (paths in the CSV are relative to it)
classes = ['tumour', 'stroma', 'normal']
# Zero-shot / text-head prompts: every template x every description of a class, embeddings averaged.
prompts = dict(
    classes=classes,
    templates=['a histopathology image of [CLS]', 'an H&E stained tile showing [CLS]', '[CLS]'],
    descriptions=dict(tumour=['tumour cells', 'invasive carcinoma'],
                      stroma=['stroma', 'fibrous connective tissue'],
                      normal=['normal tissue', 'benign glands']))
model = dict(head=dict(num_classes=len(classes), prompts=prompts))

own = dict(type='PatchCSVDataset', data_root=data_root, metainfo=dict(classes=classes))
train_dataloader = dict(dataset=dict(own, ann_file='train.csv', num_shots=16, shot_seed=1))
val_dataloader = dict(dataset=dict(own, ann_file='test.csv'))
test_dataloader = val_dataloader
# Unordered classes: no ordinal metrics (kappa/MAE); patch- and slide-level (slide_id column) metrics.
val_evaluator = [dict(type='ClinicalMetric', num_classes=len(classes)),
                 dict(type='WSIMetric', num_classes=len(classes), aggregate='mean')]
test_evaluator = val_evaluator
