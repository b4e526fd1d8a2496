# PLIP image tower + shallow visual prompt tuning (CITE: 1 prompt token after CLS, uniform init from the seed)
# + the frozen zero-shot text head; otherwise as the headline. Deep VPT: deep=True (one prompt set per layer).
_base_ = ['../_base_/models/plip.py', '../_base_/experiments/sicapv2_16shot.py']

model = dict(backbone=dict(peft=[dict(type='VisualPromptTuning', num_tokens=1, deep=False, dropout=0.,
                                      init='uniform')]),
             head=_base_.zs_head)
