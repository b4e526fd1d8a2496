import os.path as osp

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmedfm.models.peft import merge_lora
from mmmedfm.models.peft.checkpoint import merged_state_dict
from mmmedfm.registry import HOOKS
from .trainable_checkpoint_hook import base_identity


@HOOKS.register_module()
class MergeLoRAHook(Hook):
    """Merge the LoRA adapters into the base weights at the end of training (later validation/testing then
    runs the plain, adapter-free computation), optionally writing a full checkpoint with plain keys.

    Args:
        save (bool): Write ``{work_dir}/{filename}`` (``state_dict`` with merged weights, no ``lora_`` keys),
            loadable into the same model built without LoRA. Defaults to True.
        filename (str): Output file name. Defaults to ``'merged.pth'``.
    """

    def __init__(self, save: bool = True, filename: str = 'merged.pth'):
        self.save, self.filename = save, filename

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        n = merge_lora(model)
        if self.save:
            state = merged_state_dict(model)
            if is_main_process():
                path = osp.join(runner.work_dir, self.filename)
                torch.save(dict(meta=dict(mmmedfm_base=dict(base_identity(runner), merged=True)),
                                state_dict=state), path)
                runner.logger.info(f'Merged LoRA weights saved to {path}')
        runner.logger.info(f'Merged {n} LoRA layers into the base weights')
