from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from mmmedfm.registry import MODELS
from .base import BaseAdapter, train_epochs


@MODELS.register_module()
class CoOp(BaseAdapter):
    """Context Optimization (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022).

    Prompts ``[SOS] ctx_1 ... ctx_M <class name>. [EOS]`` go through the frozen text tower of a Hugging Face
    CLIP checkpoint (:class:`HFCLIPText`); the ``M`` context vectors (shared by all classes, "unified context",
    class token at the end) are learned in place of the token embeddings of ``M`` placeholder words. Image
    features are the cached ones (the image tower is frozen in CoOp), so only the text tower runs in the loop:
    ``logits = logit_scale * x @ normalize(proj(text_tower(prompts)))^T``.

    Implementation: a forward hook on the tower's ``token_embedding`` swaps the placeholder rows for the learned
    context, so the checkpoint's own embedding/attention/pooling code runs unchanged.

    Hyper-parameters with few labels: fixed, no search; KaiyangZhou/CoOp ``configs/trainers/CoOp/*.yaml`` and
    ``COOP.md`` on Dassl's defaults: SGD lr 2e-3, momentum 0.9, weight decay 5e-4, batch 32 (last incomplete
    batch dropped), cosine set per epoch, the first epoch a warm-up at the constant lr 1e-5,
    ``n_ctx=16`` random init N(0, 0.02) (or ``ctx_init`` words), and epochs by shot count: 50 at 1 shot, 100 at
    2-4 shots, 200 at 8+ shots (``epochs=None``). ``class_names`` must be the words the zero-shot prompts use
    (the sweep passes each class's first description, e.g. "benign glands", not the label "NC").

    Args:
        text_encoder (dict | nn.Module): ``HFCLIPText`` config (``pretrained`` set) or a built one (shared).
        n_ctx (int): Number of context vectors. Defaults to 16 (ignored when ``ctx_init`` is given).
        ctx_init (str, optional): Initialise the context from these words' embeddings (e.g. ``'a photo of a'``).
        epochs (int, optional): ``None`` (default) picks 50/100/200 by shots per class, as above.
        lr (float): Defaults to 2e-3. batch_size (int): Defaults to 32. weight_decay (float): Defaults to 5e-4.
        warmup_epochs (int): Defaults to 1. warmup_lr (float): Defaults to 1e-5.
        seed (int): Seed of the context initialisation and shuffling.
    """

    def __init__(self, text_encoder: Union[dict, nn.Module], n_ctx: int = 16, ctx_init: Optional[str] = None,
                 epochs: Optional[int] = None, lr: float = 2e-3, batch_size: int = 32, warmup_epochs: int = 1,
                 warmup_lr: float = 1e-5, weight_decay: float = 5e-4, seed: int = 0):
        super().__init__(seed)
        encoder = MODELS.build(text_encoder) if isinstance(text_encoder, dict) else text_encoder
        self.encoder = [encoder]  # a list: not a submodule, so state_dict holds only the context
        self.n_ctx, self.ctx_init = n_ctx, ctx_init
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size
        self.warmup_epochs, self.warmup_lr, self.weight_decay = warmup_epochs, warmup_lr, weight_decay

    @staticmethod
    def epochs_for_shots(shots: int) -> int:
        """CoOp's schedule length by shots per class: 50 (1 shot), 100 (2-4 shots), 200 (8+ shots)."""
        return 50 if shots <= 1 else 100 if shots <= 4 else 200

    def _tokenize(self, class_names):
        enc = self.encoder[0]
        embedding = enc.text_model.embeddings.token_embedding
        if self.ctx_init:
            init_ids = enc.tokenizer(self.ctx_init, add_special_tokens=False)['input_ids']
            prefix = self.ctx_init
            ctx = embedding.weight[torch.tensor(init_ids)].detach().clone()
        else:
            prefix = ' '.join(['X'] * self.n_ctx)
            ctx = torch.randn(self.n_ctx, embedding.embedding_dim) * 0.02
        tok = enc.tokenizer([f'{prefix} {name}.' for name in class_names], padding=True, truncation=True,
                            max_length=enc.max_length, return_tensors='pt')
        prefix_ids = enc.tokenizer(prefix, add_special_tokens=False)['input_ids']
        if tok['input_ids'][:, 1:1 + len(prefix_ids)].ne(torch.tensor(prefix_ids)).any():
            raise ValueError(f'CoOp: the context prefix {prefix!r} does not tokenise to the same ids in every '
                             'prompt; use another ctx_init.')
        return tok, nn.Parameter(ctx)

    def text_features(self) -> torch.Tensor:
        """``(C, D)`` unit-norm class embeddings of the current prompts (differentiable w.r.t. ``ctx``)."""
        enc, n = self.encoder[0], len(self.ctx)

        def swap(module, inputs, out):
            return torch.cat([out[:, :1], self.ctx.to(out.dtype).expand(len(out), -1, -1), out[:, 1 + n:]], 1)

        handle = enc.text_model.embeddings.token_embedding.register_forward_hook(swap)
        try:
            pooled = enc.text_model(input_ids=self.tokens['input_ids'],
                                    attention_mask=self.tokens['attention_mask']).pooler_output
        finally:
            handle.remove()
        return F.normalize(enc.text_projection(pooled), dim=-1)

    def _fit(self, x, y, val):
        if self.class_names is None or len(self.class_names) != self.num_classes:
            raise ValueError('CoOp.fit needs class_names (one per zero-shot prototype).')
        self.tokens, self.ctx = self._tokenize(self.class_names)
        self.encoder[0].eval().requires_grad_(False)

        def loss(xb, yb):
            return F.cross_entropy(self.logit_scale * xb @ self.text_features().t(), yb)

        shots = int(torch.bincount(y).max())
        self.epochs_ = self.epochs if self.epochs is not None else self.epochs_for_shots(shots)
        self.history = train_epochs([self.ctx], loss, x, y, self.epochs_, self.batch_size, self.lr, 'SGD',
                                    weight_decay=self.weight_decay, cosine=True, warmup_epochs=self.warmup_epochs,
                                    warmup_lr=self.warmup_lr, dassl=True)
        with torch.no_grad():
            self.register_buffer('class_embeddings', self.text_features())

    def forward(self, x):
        return self.logit_scale * x @ self.class_embeddings.t()
