"""CITE's head: logits against BERT pooler embeddings of the class names, losses from the config, widths."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmmedfm.registry import MODELS

CLASSES = ['Well differentiated tubular adenocarcinoma', 'Moderately differentiated tubular adenocarcinoma',
           'Poorly differentiated adenocarcinoma']


def _cite_head(bert_dir, **kwargs):
    return MODELS.build(dict(type='TextEmbeddingHead', num_classes=3, logit_scale=100., cache_dir=None,
                             text_encoder=dict(type='HFTextEncoder', pretrained=bert_dir, pooling='pooler'),
                             prompts=dict(classes=CLASSES, templates=['[CLS]']), **kwargs))


def _bert_pooler(bert_dir, text):
    """Independent computation: one class name at a time (no padding), transformers directly."""
    from transformers import AutoModel, AutoTokenizer
    tok, model = AutoTokenizer.from_pretrained(bert_dir), AutoModel.from_pretrained(bert_dir).eval()
    with torch.no_grad():
        return model(**tok(text, return_tensors='pt')).pooler_output[0]


def test_cite_logits_equal_hand_computation(tiny_bert_dir):
    head = _cite_head(tiny_bert_dir)
    neck = MODELS.build(dict(type='ProjectionNeck', in_channels=16, out_channels=32))  # image 16 -> text 32
    neck.init_weights()
    x = torch.randn(5, 16)
    logits = head(neck((x, )))
    text = torch.stack([_bert_pooler(tiny_bert_dir, c) for c in CLASSES])  # (3, 32)
    projected = F.pad(x, (0, 16))  # identity init: the first 16 coordinates pass through, the rest are 0
    expected = 100. * (projected / projected.norm(dim=-1, keepdim=True)) @ (text / text.norm(dim=-1,
                                                                                          keepdim=True)).t()
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-4)
    # frozen text side: a buffer, not a parameter
    assert [n for n, _ in head.named_parameters()] == []
    assert head.class_embeddings.shape == (3, 32)


def test_width_mismatch_names_the_neck(tiny_bert_dir):
    head = _cite_head(tiny_bert_dir)
    with pytest.raises(ValueError, match=r"ProjectionNeck', in_channels=16, out_channels=32"):
        head((torch.randn(2, 16), ))


def _samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


@pytest.mark.parametrize('loss', [dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
                                  dict(type='CrossEntropyLoss', class_weight=[1., 3., 0.5])])
def test_head_trains_with_the_configured_loss(tiny_bert_dir, loss):
    """Our head's part: the config's ``loss`` (mmpretrain's module, not ours to test) gets the head's scaled
    cosine logits and the samples' labels; the default loss is not used in its place."""
    from mmmedfm.registry import MODELS
    head = _cite_head(tiny_bert_dir, loss=loss)
    feats, y = torch.randn(6, 32), torch.tensor([0, 1, 2, 2, 1, 0])
    logits = head((feats, ))
    expected = MODELS.build(loss)(logits, y, avg_factor=len(y))
    torch.testing.assert_close(head.loss((feats, ), _samples(y))['loss'], expected)
    assert not torch.allclose(expected, F.cross_entropy(logits, y))


def test_learnable_scale(tiny_bert_dir):
    head = _cite_head(tiny_bert_dir, learnable_scale=True)
    assert [n for n, p in head.named_parameters() if p.requires_grad] == ['log_logit_scale']
    torch.testing.assert_close(head.log_logit_scale.exp(), torch.tensor(100.))
