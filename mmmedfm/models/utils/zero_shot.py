"""Prompt-ensemble zero-shot class weights, as small pure functions (prompts are data, no state)."""
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

CLASS_TOKEN = '[CLS]'


def build_class_prompts(class_names: Sequence[str],
                        templates: Optional[Sequence[str]] = None,
                        descriptions: Optional[Dict[str, Sequence[str]]] = None) -> List[List[str]]:
    """Expand templates x descriptions into one prompt list per class.

    Args:
        class_names: Class names in label order.
        templates: Strings containing ``[CLS]`` (or ``{}``); ``None`` uses the bare description.
        descriptions: ``{class_name: [description, ...]}``; a class missing here uses its own name.

    Returns:
        list[list[str]]: ``prompts[c]`` is every template filled with every description of class ``c``.

    Example:
        >>> build_class_prompts(['NC'], ['image of [CLS]'], {'NC': ['benign glands']})
        [['image of benign glands']]
    """
    templates = list(templates) if templates else [CLASS_TOKEN]
    descriptions = descriptions or {}
    unknown = set(descriptions) - set(class_names)
    if unknown:
        raise KeyError(f'Prompt descriptions given for unknown classes {sorted(unknown)}; '
                       f'the dataset classes are {list(class_names)}.')
    prompts = []
    for name in class_names:
        descs = descriptions.get(name) or [name]
        prompts.append([t.replace(CLASS_TOKEN, d).replace('{}', d) for d in descs for t in templates])
    return prompts


@torch.no_grad()
def build_zero_shot_weights(encode_text: Callable[[List[str]], torch.Tensor],
                            class_prompts: Sequence[Sequence[str]]) -> torch.Tensor:
    """Class prototypes: mean of L2-normalised prompt embeddings, re-normalised.

    All prompts are encoded in one batched call.

    Args:
        encode_text: Maps ``N`` strings to an ``(N, D)`` tensor of embeddings.
        class_prompts: ``C`` lists of prompts.

    Returns:
        Tensor: ``(C, D)`` unit-norm class embeddings.
    """
    flat = [p for prompts in class_prompts for p in prompts]
    emb = F.normalize(encode_text(flat).float(), dim=-1)
    out, start = [], 0
    for prompts in class_prompts:
        out.append(emb[start:start + len(prompts)].mean(0))
        start += len(prompts)
    return F.normalize(torch.stack(out), dim=-1)
