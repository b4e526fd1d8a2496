from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper

from mmmedfm.models.peft.checkpoint import complete_state_dict, plain, trainable_state_dict
from mmmedfm.registry import HOOKS


def base_identity(runner) -> dict:
    """What a trainable-only checkpoint sits on: the foundation model, backbone and PEFT config."""
    model_cfg = runner.cfg.get('model', {})
    backbone = model_cfg.get('backbone', {}) or {}
    return plain(dict(foundation_model=model_cfg.get('foundation_model'), backbone=backbone.get('type'),
                      pretrained=backbone.get('pretrained'), peft=backbone.get('peft')))


@HOOKS.register_module()
class TrainableCheckpointHook(Hook):
    """Save only the trainable parameters (and buffers) in checkpoints, and load checkpoints on top of the
    pretrained weights built by the constructor.

    On save, frozen tensors are dropped from ``checkpoint['state_dict']`` and
    ``checkpoint['meta']['mmmedfm_base']`` records the base weights (foundation model, backbone, PEFT config)
    and how many keys were dropped: a LoRA checkpoint of a ViT-B is ~1 MB instead of ~600 MB. On load
    (``load_from``, ``--resume``, ``tools/test.py``), missing frozen keys are filled from the model; keys the model
    lacks, shape mismatches (e.g. another LoRA rank) and missing trainable parameters raise, naming them.

    Args:
        save_frozen (bool): Keep the full state dict (no dropping). Loading stays checked. Defaults to False.
    """

    priority = 'VERY_LOW'  # after other hooks have edited the checkpoint

    def __init__(self, save_frozen: bool = False):
        self.save_frozen = save_frozen

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # test-time wrappers (--tta, --temperature): MMEngine loads the checkpoint into the wrapped model
        return model.module if isinstance(model, BaseTTAModel) else model

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.save_frozen:
            return
        kept, dropped = trainable_state_dict(self._model(runner), checkpoint['state_dict'])
        checkpoint['state_dict'] = kept
        checkpoint.setdefault('meta', {})['mmmedfm_base'] = dict(
            base_identity(runner), trainable_only=True, num_frozen_dropped=len(dropped))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = runner._load_from if isinstance(getattr(runner, '_load_from', None), str) else 'checkpoint'
        checkpoint['state_dict'] = complete_state_dict(self._model(runner), checkpoint['state_dict'], source)
