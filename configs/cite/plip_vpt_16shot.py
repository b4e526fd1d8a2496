# PLIP image tower + shallow visual prompt tuning (CITE: 1 prompt token after CLS, uniform init from the seed)
# + text-embedding head; otherwise as plip_lora_16shot.py. Deep VPT: deep=True (one prompt set per layer).
_base_ = ['./plip_lora_16shot.py']

model = dict(backbone=dict(peft=[dict(type='VisualPromptTuning', num_tokens=1, deep=False, dropout=0.,
                                      init='uniform')]))
