from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from torch import nn

from mmmedfm.registry import DATASETS, MODELS
from ..utils.text_cache import cached_class_embeddings
from ..utils.zero_shot import build_class_prompts


def resolve_prompts(prompts: dict) -> Tuple[List[str], List[List[str]]]:
    """Turn a head's ``prompts`` config into ``(class_names, per-class prompt lists)``.

    ``prompts`` keys: ``classes`` (list) or ``dataset`` (a registered dataset type whose ``METAINFO`` has
    ``classes`` and optionally ``descriptions``/``templates``); ``templates`` (list with ``[CLS]``);
    ``descriptions`` (``{class: [text, ...]}``). Explicit keys override the dataset's.
    """
    prompts = dict(prompts)
    unknown = set(prompts) - {'classes', 'dataset', 'templates', 'descriptions'}
    if unknown:
        raise KeyError(f'Unknown keys {sorted(unknown)} in `model.head.prompts`; expected classes, dataset, '
                       'templates, descriptions.')
    meta = {}
    if 'dataset' in prompts:
        meta = dict(DATASETS.get(prompts['dataset']).METAINFO)
    classes = prompts.get('classes') or meta.get('classes')
    if not classes:
        raise KeyError('`model.head.prompts` needs `classes` or a `dataset` whose METAINFO lists classes.')
    descriptions = prompts.get('descriptions', meta.get('descriptions'))
    templates = prompts.get('templates', meta.get('templates'))
    return list(classes), build_class_prompts(classes, templates, descriptions)


@MODELS.register_module()
class TextEmbeddingHead(ClsHead):
    """Cosine classifier against class embeddings from a text encoder (CITE's head; zero-shot when untrained).

    Class embeddings are the prompt-ensemble mean of L2-normalised text embeddings (re-normalised), computed
    once at build time with the encoder in ``torch.no_grad``; the encoder is then released, so no step ever
    re-encodes text. They are cached on disk per (encoder config + weights fingerprint, prompts), so later
    runs do not even load the text tower. ``logits = scale * normalize(x) @ normalize(W)^T``.

    Args:
        num_classes (int): Number of classes; must match the prompts.
        text_encoder (dict): Config of a text encoder with ``encode(list[str]) -> (N, D)`` and, optionally,
            ``logit_scale`` (e.g. ``dict(type='HFCLIPText', pretrained=...)``).
        prompts (dict): See :func:`resolve_prompts`.
        logit_scale (float, optional): Fixed scale; ``None`` takes the encoder's (CLIP: ``logit_scale.exp()``),
            or 100 if it has none.
        learnable_scale (bool): Learn ``log(scale)``. Defaults to False (frozen, as in the seeds).
        trainable_embeddings (bool): Train the class embeddings (ZS-initialised linear probe). Defaults to
            False (CITE: frozen text embeddings).
        loss (dict): Loss config. Defaults to cross-entropy. MMPretrain's losses cover the variants: class
            weights ``dict(type='CrossEntropyLoss', class_weight=[1., 2., 1.])``, label smoothing
            ``dict(type='LabelSmoothLoss', label_smooth_val=0.1)``.
        cache_dir (str, optional): Text-embedding cache folder (see :func:`cached_class_embeddings`).
            Defaults to ``'work_dirs/text_embedding_cache'``; ``None`` disables it.

    Shapes:
        input: tuple whose last item is ``(N, D)``; output: ``(N, num_classes)`` logits. ``D`` is the text
        width: when the image width differs (CITE: 512 image, 1024 BioLinkBERT-large), a neck
        (``ProjectionNeck``) maps one to the other.

    Example (CITE's head: class names through BioLinkBERT-large, frozen, fixed scale 100)::

        head = dict(type='TextEmbeddingHead', num_classes=3, logit_scale=100.,
                    text_encoder=dict(type='HFTextEncoder', pretrained='michiyasunaga/BioLinkBERT-large',
                                      pooling='pooler'),
                    prompts=dict(dataset='PatchGastricDataset', templates=['[CLS]']))
    """

    def __init__(self,
                 num_classes: int,
                 text_encoder: dict,
                 prompts: dict,
                 logit_scale: Optional[float] = None,
                 learnable_scale: bool = False,
                 trainable_embeddings: bool = False,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 cache_dir: Optional[str] = 'work_dirs/text_embedding_cache',
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        self.class_names, class_prompts = resolve_prompts(prompts)
        if len(self.class_names) != num_classes:
            raise ValueError(f'`model.head.num_classes`={num_classes} but the prompts define '
                             f'{len(self.class_names)} classes {self.class_names}.')
        self.num_classes = num_classes
        weights, encoder_scale = cached_class_embeddings(text_encoder, class_prompts, cache_dir)
        if logit_scale is None:
            logit_scale = 100. if encoder_scale is None else encoder_scale
        if trainable_embeddings:
            self.class_embeddings = nn.Parameter(weights)
        else:
            self.register_buffer('class_embeddings', weights)
        log_scale = torch.tensor(float(logit_scale)).log()
        if learnable_scale:
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer('log_logit_scale', log_scale)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        x = F.normalize(self.pre_logits(feats), dim=-1)
        if x.shape[-1] != self.class_embeddings.shape[-1]:
            raise ValueError(f'TextEmbeddingHead: image features have width {x.shape[-1]} but the class text '
                             f'embeddings {self.class_embeddings.shape[-1]}; add or fix a projection neck '
                             f"(model.neck=dict(type='ProjectionNeck', in_channels={x.shape[-1]}, "
                             f'out_channels={self.class_embeddings.shape[-1]})).')
        w = F.normalize(self.class_embeddings, dim=-1)
        return x @ w.t().to(x.dtype) * self.log_logit_scale.exp()
