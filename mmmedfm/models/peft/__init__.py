from .builder import apply_peft, build_peft_method, build_tower, count_parameters
from .hf_peft import HFPeft
from .lora import LoRA, LoRALinear, lora_layers, lora_rank_alpha, merge_lora, unmerge_lora
from .lora_mha import LoRAMultiheadAttention
from .selective import BitFit, LastKBlocks, LayerNormAffine, TrainableParams
from .utils import find_blocks
from .vpt import VisualPrompts, VisualPromptTuning

__all__ = ['HFPeft', 'apply_peft', 'build_peft_method', 'build_tower', 'count_parameters', 'LoRA', 'LoRALinear', 'LoRAMultiheadAttention', 'lora_layers',
           'merge_lora', 'unmerge_lora', 'BitFit', 'LastKBlocks', 'LayerNormAffine',
           'TrainableParams', 'find_blocks', 'VisualPrompts', 'VisualPromptTuning']
