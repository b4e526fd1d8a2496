"""Any Hugging Face peft tuner (DoRA, IA3, LoHa, LoKr, VeRA, OFT, BOFT, FourierFT...) on any torch tower, through
peft's own injection (``peft.inject_adapter_in_model``): the same layers and initialisation as
``peft.get_peft_model``, without wrapping the tower in a ``PeftModel``."""
from typing import List, Optional, Sequence, Union

from torch import nn

from mmmedfm.registry import PEFT_METHODS
from .utils import candidate_names

# Spellings that are not a peft ``PeftType`` name: DoRA is LoRA with ``use_dora=True``.
_ALIASES = {'DORA': ('LORA', dict(use_dora=True))}
# Prompt-learning methods act on a transformers model's inputs, not on a tower's layers.
_PROMPT_METHODS = ('PROMPT_TUNING', 'PREFIX_TUNING', 'P_TUNING', 'MULTITASK_PROMPT_TUNING', 'ADAPTION_PROMPT', 'CPT')


@PEFT_METHODS.register_module()
class HFPeft:
    """One HF peft tuner, configured like its peft config class.

    Args:
        method (str): peft's name for it, any case: ``'LoRA'``, ``'DoRA'``, ``'IA3'``, ``'LoHa'``, ``'LoKr'``,
            ``'VeRA'``, ``'OFT'``, ``'BOFT'``, ``'FourierFT'``, ``'AdaLoRA'``... (``peft.PeftType``).
        targets (str | list[str]): peft's ``target_modules`` (module names or a regex string).
        adapter_name (str): Defaults to ``'default'`` (peft's), so parameter names match a ``PeftModel``'s
            without the ``base_model.model.`` prefix.
        **kwargs: The method's peft config fields (``r``, ``lora_alpha``, ``feedforward_modules``...).

    Parameters enabled by earlier methods in the same ``peft`` list stay trainable (peft's injection would
    freeze them). AdaLoRA's rank reallocation needs ``update_and_allocate`` called every step, which our
    training loop does not do: it trains at its initial rank. For plain LoRA prefer ``type='LoRA'`` (also
    covers fused q/k/v per part and ``nn.MultiheadAttention``, where peft 0.21.2 applies the out_proj delta
    twice, PR #3774).
    """

    def __init__(self, method: str, targets: Optional[Union[str, Sequence[str]]] = None,
                 adapter_name: str = 'default', **kwargs):
        from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING
        key = str(method).upper()
        peft_type, extra = _ALIASES.get(key, (key, {}))
        known = {t.value: c for t, c in PEFT_TYPE_TO_CONFIG_MAPPING.items()}
        if peft_type in _PROMPT_METHODS or peft_type not in known:
            usable = sorted(set(known) - set(_PROMPT_METHODS)) + list(_ALIASES)
            raise ValueError(f'HFPeft method={method!r}: not a layer tuner of peft; use one of {usable}')
        self.method, self.adapter_name = method, adapter_name
        self.config = known[peft_type](target_modules=targets, **extra, **kwargs)

    def apply(self, module: nn.Module) -> List[str]:
        from peft import inject_adapter_in_model
        enabled = {id(p) for p in module.parameters() if p.requires_grad}
        try:
            inject_adapter_in_model(self.config, module, adapter_name=self.adapter_name)
        except ValueError as e:
            if 'not found' not in str(e) and 'target' not in str(e).lower():
                raise
            raise ValueError(f'HFPeft {self.method}: targets {self.config.target_modules} match no layer of '
                             f'{module.__class__.__name__}; its candidates are '
                             f'{candidate_names(module, (nn.Linear, nn.Conv2d, nn.Embedding))}. [{e}]') from None
        for p in module.parameters():
            if id(p) in enabled:
                p.requires_grad_(True)
        return [n for n, p in module.named_parameters() if p.requires_grad and id(p) not in enabled]
