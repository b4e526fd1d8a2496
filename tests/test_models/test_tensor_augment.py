"""TensorAugment: per-sample seeded flips / quarter turns / colour jitter on batched tensors."""
import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

from mmmedfm.models.utils import TensorAugment, VLMDataPreprocessor, sample_uniforms


def lowbias32(x: int) -> int:  # reference: plain Python integers
    x ^= x >> 16
    x = (x * 0x7feb352d) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846ca68b) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_uniforms_match_python_hash():
    index = torch.tensor([0, 5, 2**31 + 7])
    u = sample_uniforms(123, 9, index, 3)
    for r, i in enumerate(index.tolist()):
        h = lowbias32(lowbias32(lowbias32(123) ^ 9) ^ i)
        for j in range(3):
            assert u[r, j].item() == lowbias32((h + j * 0x9e3779b9) & 0xFFFFFFFF) / 2**32
    assert ((u >= 0) & (u < 1)).all()


def reference(img: np.ndarray, u: np.ndarray) -> np.ndarray:
    """numpy flips / rot90 of one CHW image, from the same draws."""
    if u[0] < 0.25:
        img = img[:, :, ::-1]
    elif u[0] < 0.5:
        img = img[:, ::-1, :]
    if u[1] < 0.5:
        img = np.rot90(img, 1 + min(int(u[2] * 3), 2), axes=(1, 2))
    return np.ascontiguousarray(img)


def test_flips_and_turns_per_sample_independent_of_batch():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (16, 3, 8, 8)).float()
    index = torch.arange(100, 116)
    aug = TensorAugment(seed=7)
    out = aug(x, index, step=3)
    u = sample_uniforms(7, 3, index, 8).numpy()
    for i in range(16):
        assert np.array_equal(out[i].numpy(), reference(x[i].numpy(), u[i]))
    perm = torch.randperm(16)
    assert torch.equal(aug(x[perm], index[perm], step=3), out[perm])  # batch order does not matter
    assert not torch.equal(aug(x, index, step=4), out)  # another iteration, other draws
    kinds = {(u[i, 0] < 0.5, u[i, 1] < 0.5) for i in range(16)}
    assert len(kinds) >= 3  # the batch exercises several branches


def test_jitter_matches_torchvision_blends():
    torch.manual_seed(1)
    x = torch.randint(0, 256, (6, 3, 10, 10)).float()
    index = torch.arange(6)
    aug = TensorAugment(flip_prob=(0., 0.), rot90_prob=0., jitter_prob=1., seed=3)
    out = aug(x, index)
    u = sample_uniforms(3, 0, index, 8)
    for i in range(6):
        b, c, s, h = [1 + (2 * u[i, 4 + j].item() - 1) * 0.2 for j in range(3)] + [(2 * u[i, 7].item() - 1) * .05]
        ref = TF.adjust_brightness(x[i] / 255, b)
        ref = TF.adjust_saturation(TF.adjust_contrast(ref, c), s)
        ref = TF.adjust_hue(ref, h) * 255
        assert torch.allclose(out[i], ref, atol=0.05), i
    bgr = TensorAugment(flip_prob=(0., 0.), rot90_prob=0., jitter_prob=1., seed=3)(x.flip(1), index, bgr=True)
    assert torch.allclose(bgr.flip(1), out, atol=1e-3)


def test_preprocessor_augments_training_batches_only():
    from mmpretrain.structures import DataSample
    pre = VLMDataPreprocessor(mean=[0., 0., 0.], std=[1., 1., 1.], to_rgb=False, augment=dict(seed=5))
    x = torch.randint(0, 256, (4, 3, 6, 6), dtype=torch.uint8)
    samples = [DataSample(metainfo=dict(sample_idx=i)) for i in (3, 1, 4, 1)]
    test = pre(dict(inputs=x, data_samples=samples), training=False)['inputs']
    train = pre(dict(inputs=x, data_samples=samples), training=True)['inputs']
    assert torch.equal(test, x.float())
    from mmengine.logging import MessageHub
    step = MessageHub.get_current_instance().get_info('iter', 0)  # an earlier test's Runner may have set it
    expected = TensorAugment(seed=5)(x.float(), torch.tensor([3, 1, 4, 1]), step=step)
    assert torch.equal(train, expected)
    with pytest.raises(ValueError, match='flip_prob'):
        TensorAugment(flip_prob=(0.8, 0.8))


def test_fast_normalisation_equals_parent():
    from mmpretrain.models.utils import ClsDataPreprocessor
    from mmpretrain.structures import DataSample
    mean, std = [120., 110., 100.], [60., 50., 40.]
    x = torch.randint(0, 256, (3, 3, 5, 5), dtype=torch.uint8)
    samples = [DataSample().set_gt_label(i) for i in range(3)]
    ours = VLMDataPreprocessor(mean=mean, std=std)(dict(inputs=x, data_samples=samples))
    ref = ClsDataPreprocessor(mean=mean, std=std, to_rgb=True)(dict(inputs=x, data_samples=samples))
    assert torch.equal(ours['inputs'], ref['inputs'])
    assert [s.gt_label.item() for s in ours['data_samples']] == [0, 1, 2]
