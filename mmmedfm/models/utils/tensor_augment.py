"""Training augmentation on batched image tensors on the device, seeded per sample.

With the decoded-image cache the CPU only copies uint8 arrays; flips, quarter turns and colour jitter then run
here, on the whole batch at once on the model's device. Every random number of a sample comes from an integer
hash of ``(seed, iteration, sample index)`` computed on the device, so a sample's augmentation does not depend
on the batch it lands in, on the number of dataloader workers, on DDP ranks or on the device type.
"""
from typing import Optional, Sequence

import torch

from mmmedfm.registry import MODELS

_M32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """Chris Wellons' ``lowbias32`` integer hash of int64 values in ``[0, 2**32)`` (wrapping products)."""
    x = x ^ (x >> 16)
    x = (x * 0x7feb352d) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846ca68b) & _M32
    return x ^ (x >> 16)


@torch.compiler.disable  # a few integer ops per sample; inductor's CPU codegen of int64 shifts fails (torch 2.14)
def sample_uniforms(seed: int, step: int, index: torch.Tensor, n: int) -> torch.Tensor:
    """``(N, n)`` float64 uniforms in ``[0, 1)``, a pure function of ``(seed, step, index[i], j)``."""
    h = _mix32(torch.full_like(index, int(seed) & _M32))
    h = _mix32(h ^ (int(step) & _M32))
    h = _mix32(h ^ (index.long() & _M32))
    j = torch.arange(n, device=index.device, dtype=torch.long)
    return _mix32((h[:, None] + j * 0x9e3779b9) & _M32).double() / 2.**32


def _blend(x: torch.Tensor, other: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (factor * x + (1 - factor) * other).clamp_(0, 255)


@MODELS.register_module()
class TensorAugment(torch.nn.Module):
    """Per-sample random flip / quarter turn / colour jitter of a ``(N, 3, H, W)`` batch in 0-255 units.

    The draws follow the CPU transforms of the same names: one of horizontal / vertical / no flip with
    ``flip_prob`` (MMCV ``RandomFlip`` with a list of probabilities), a rotation by ``k`` in {1, 2, 3} quarter
    turns with ``rot90_prob`` (``RandomRot90``), and with ``jitter_prob`` brightness, contrast, saturation and
    hue factors uniform in ``[1 - b, 1 + b]``... (``ColorJitter``; applied in that fixed order, torchvision's
    blend formulas, hue through HSV).

    Args:
        flip_prob (Sequence[float]): Probabilities of a horizontal and of a vertical flip. Defaults to
            ``(0.25, 0.25)``.
        rot90_prob (float): Probability of a quarter turn (square images). Defaults to 0.5.
        jitter_prob (float): Probability of colour jitter. Defaults to 0.
        brightness, contrast, saturation (float): Jitter ranges. Default 0.2.
        hue (float): Hue shift range, a fraction of the colour wheel. Defaults to 0.05.
        seed (int, optional): Base seed. Defaults to None: ``torch.initial_seed()`` at the first batch (the
            run's ``randomness.seed`` under MMEngine).
    """

    def __init__(self, flip_prob: Sequence[float] = (0.25, 0.25), rot90_prob: float = 0.5,
                 jitter_prob: float = 0., brightness: float = 0.2, contrast: float = 0.2, saturation: float = 0.2,
                 hue: float = 0.05, seed: Optional[int] = None):
        super().__init__()
        self.flip_prob = tuple(float(p) for p in flip_prob)
        if len(self.flip_prob) != 2 or sum(self.flip_prob) > 1:
            raise ValueError(f'TensorAugment: flip_prob must be (horizontal, vertical) summing to <= 1, got '
                             f'{flip_prob!r}.')
        self.rot90_prob, self.jitter_prob = float(rot90_prob), float(jitter_prob)
        self.ranges = (float(brightness), float(contrast), float(saturation), float(hue))
        self.seed = seed

    def forward(self, x: torch.Tensor, index: torch.Tensor, step: int = 0, bgr: bool = False) -> torch.Tensor:
        """Augment ``x`` (``(N, 3, H, W)``, 0-255) given each sample's dataset ``index`` ``(N,)``.

        Flips and quarter turns move pixels only, so they run in ``x``'s own dtype (uint8 from the decoded
        cache: a quarter of float's bytes) and touch only the samples drawn for them; the result is float only
        when colour jitter is on. The input is never modified."""
        if self.seed is None:
            self.seed = torch.initial_seed()
        u = sample_uniforms(self.seed, step, index.to(x.device), 8).cpu()
        ph, pv = self.flip_prob
        hflip, vflip = u[:, 0] < ph, (u[:, 0] >= ph) & (u[:, 0] < ph + pv)
        k = torch.where(u[:, 1] < self.rot90_prob, 1 + (u[:, 2] * 3).long().clamp(max=2), 0)
        if bool((k > 0).any()) and x.shape[-1] != x.shape[-2]:
            raise ValueError(f'TensorAugment: quarter turns need square images, got {tuple(x.shape[-2:])}.')
        # Indexed copies of the drawn samples (the draws live on the CPU: no device sync per branch).
        moves = [(hflip, lambda t: t.flip(-1)), (vflip, lambda t: t.flip(-2))] + \
            [(k == turns, lambda t, turns=turns: torch.rot90(t, turns, dims=(-2, -1))) for turns in (1, 2, 3)]
        out = x
        for sel, move in moves:
            rows = sel.nonzero().flatten()
            if len(rows):
                if out is x:
                    out = x.clone()
                rows = rows.to(x.device)
                out[rows] = move(out[rows])
        if self.jitter_prob > 0:
            out = self._jitter(out.float(), u.to(x.device), bgr)
        return out

    def _jitter(self, x: torch.Tensor, u: torch.Tensor, bgr: bool) -> torch.Tensor:
        on = (u[:, 3] < self.jitter_prob).to(x.dtype)[:, None, None, None]
        b, c, s, h = [((2 * u[:, 4 + i] - 1) * r).to(x.dtype)[:, None, None, None] for i, r in
                      enumerate(self.ranges)]
        if bgr:
            x = x.flip(1)
        gray_w = torch.tensor([0.2989, 0.587, 0.114], device=x.device, dtype=x.dtype)[None, :, None, None]
        out = (x * (1 + b)).clamp(0, 255)
        gray = (out * gray_w).sum(1, keepdim=True)
        out = _blend(out, gray.mean((2, 3), keepdim=True), 1 + c)
        out = _blend(out, (out * gray_w).sum(1, keepdim=True), 1 + s)
        if self.ranges[3] > 0:
            from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv
            hsv = _rgb_to_hsv(out / 255.)
            hsv = torch.cat([(hsv[:, :1] + h) % 1.0, hsv[:, 1:]], dim=1)
            out = _hsv_to_rgb(hsv) * 255.
        out = on * out + (1 - on) * x
        return out.flip(1) if bgr else out
