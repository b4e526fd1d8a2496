"""WSI-disjoint validation part carved from the training slides (checkpoint selection off the evaluation split)."""
import pytest

from mmmedfm.datasets.cached_pairs import holdout_rows


def test_holdout_rows_are_wsi_disjoint_per_class_and_seeded():
    # class 0: 10 slides x 3 patches, class 1: 5 slides x 2 patches, class 2: a single slide.
    items = ([dict(gt_label=0, wsi_id=f'a{i}') for i in range(10) for _ in range(3)]
             + [dict(gt_label=1, wsi_id=f'b{i}') for i in range(5) for _ in range(2)] + [dict(gt_label=2, wsi_id='c')])
    train, val = holdout_rows(items, 'train', 0.2, seed=3), holdout_rows(items, 'val', 0.2, seed=3)
    assert sorted(train + val) == list(range(len(items)))
    slides = {p: {items[i]['wsi_id'] for i in rows} for p, rows in (('train', train), ('val', val))}
    assert not slides['train'] & slides['val']
    # round(0.2 * 10) = 2 slides of class 0, max(1, round(0.2 * 5)) = 1 of class 1, none of a 1-slide class.
    assert sorted(w[0] for w in slides['val']) == ['a', 'a', 'b']
    assert holdout_rows(items, 'val', 0.2, seed=3) == val and holdout_rows(items, 'val', 0.2, seed=4) != val
    with pytest.raises(ValueError, match='holdout.part'):
        holdout_rows(items, 'test')
