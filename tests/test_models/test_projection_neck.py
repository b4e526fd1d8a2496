import pytest
import torch

from mmmedfm.registry import MODELS


@pytest.mark.parametrize('num_layers', [1, 2])
@pytest.mark.parametrize('dims', [(8, 16), (16, 8), (8, 8)])
def test_identity_init(num_layers, dims):
    d_in, d_out = dims
    neck = MODELS.build(dict(type='ProjectionNeck', in_channels=d_in, out_channels=d_out, num_layers=num_layers))
    neck.init_weights()
    x = torch.randn(5, d_in)
    (y, ) = neck((x, ))
    expected = torch.zeros(5, d_out)
    k = min(d_in, d_out)
    expected[:, :k] = x[:, :k]
    torch.testing.assert_close(y, expected)


def test_trainable_and_param_count():
    neck = MODELS.build(dict(type='ProjectionNeck', in_channels=512, out_channels=1024))
    # CITE's neck: 512 x 1024 weights + 1024 biases
    assert sum(p.numel() for p in neck.parameters() if p.requires_grad) == 512 * 1024 + 1024


def test_bad_layers():
    with pytest.raises(ValueError, match='num_layers'):
        MODELS.build(dict(type='ProjectionNeck', in_channels=4, out_channels=4, num_layers=3))
