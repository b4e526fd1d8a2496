"""What our pretrained image towers share: weights loaded in the constructor, one feature pass giving the
pooled feature (and the patch tokens when asked), and the output selection (``out_type``, ``normalize``)."""
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

OUT_TYPES = ('embedding', 'pooled', 'tokens')


def has_forward_hooks(*modules: nn.Module) -> bool:
    """Whether a forward (pre-)hook is registered on any of ``modules`` or globally: code that calls a
    module's parts itself instead of the module (e.g. the CLS-only last layer) must then not bypass it."""
    from torch.nn.modules import module as torch_module
    return bool(torch_module._global_forward_hooks or torch_module._global_forward_pre_hooks) or \
        any(m._forward_hooks or m._forward_pre_hooks for m in modules)


class PretrainedTower(BaseModule):
    """Base class of the image towers that load a foundation model's weights themselves.

    Subclasses load their weights in ``__init__`` (MMEngine calls no ``init_weights`` at test time, and PEFT,
    applied by the model build right after the constructor, must see the pretrained weights), set
    ``embed_dim`` (width of the configured output) and implement :meth:`forward_features` and, if they have a
    joint-space projection, :meth:`project`. PEFT is not a tower argument: ``peft=[...]`` in the tower config
    is applied by the model build (:func:`mmmedfm.models.peft.build_tower`), for every backbone alike.

    Args:
        out_type (str): ``'embedding'`` (pooled feature through the projection; towers with one),
            ``'pooled'`` (before the projection) or ``'tokens'`` (patch tokens, prefix tokens excluded).
        normalize (bool): L2-normalise ``'embedding'``/``'pooled'`` outputs.
        init_cfg (dict, optional): Unused: weights come from the checkpoint.

    Shapes:
        input ``(N, 3, H, W)``; output: a tuple of one tensor, ``(N, embed_dim)`` or ``(N, T, C)`` for tokens.
    """

    out_types: Sequence[str] = OUT_TYPES

    def __init__(self, out_type: str, normalize: bool, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if out_type not in self.out_types:
            raise ValueError(f'{self.__class__.__name__}: out_type must be one of {tuple(self.out_types)}, '
                             f'got {out_type!r}')
        self.out_type, self.normalize = out_type, normalize
        self._is_init = True  # pretrained weights: the Runner's init_weights must leave them alone

    def init_weights(self):
        """Pretrained weights are loaded in ``__init__``; never re-initialise them."""

    @staticmethod
    def load_checked(module: nn.Module, state: Dict[str, torch.Tensor], source: str, what: str) -> None:
        """``module.load_state_dict(state)``, raising one ``KeyError`` naming ``source`` and the mismatching
        keys (``what`` says which checkpoint format was expected)."""
        missing, unexpected = module.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise KeyError(f'{source} is not {what}: missing keys {missing[:8]}{"..." if len(missing) > 8 else ""}'
                           f', unexpected {unexpected[:8]}{"..." if len(unexpected) > 8 else ""}.')

    def forward_features(self, x: torch.Tensor, tokens: bool = False) -> Dict[str, torch.Tensor]:
        """One pass of the tower: ``{'pooled': (N, C)}``, plus ``'tokens': (N, T, C_t)`` (patch tokens only)
        when ``tokens`` is true."""
        raise NotImplementedError

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        """Joint-space projection ``(N, C) -> (N, D)``; towers without one do not offer ``'embedding'``."""
        raise NotImplementedError(f'{self.__class__.__name__} has no projection')

    def output(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The configured output (``out_type``, ``normalize``) from :meth:`forward_features`' result."""
        if self.out_type == 'tokens':
            return feats['tokens']
        feat = self.project(feats['pooled']) if self.out_type == 'embedding' else feats['pooled']
        return F.normalize(feat, dim=-1) if self.normalize else feat

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        return (self.output(self.forward_features(x, tokens=self.out_type == 'tokens')), )
