from .builder import apply_peft, count_parameters
from .lora import LoRA, LoRALinear
from .selective import BitFit, FullFineTune, LayerNormAffine, TrainableParams

__all__ = ['apply_peft', 'count_parameters', 'LoRA', 'LoRALinear', 'BitFit', 'FullFineTune',
           'LayerNormAffine', 'TrainableParams']
