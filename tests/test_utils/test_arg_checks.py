"""The shared argument checks, and which ``init_cfg`` counts as pretrained."""
import numpy as np
import pytest
import torch

from mmsiameseim.arg_checks import check_choice, check_int, check_real
from mmsiameseim.checkpoints import pretrained_init
from mmsiameseim.models.necks import SiameseIMProjector


def test_check_int_accepts_ints_in_range_and_names_the_option():
    assert check_int(3, 'x') == 3
    assert check_int(np.int64(0), 'x', 0, 4) == 0
    for bad, text in ((0, 'x must be a positive int, got 0'),
                      (True, 'x must be a positive int, got True'),
                      (2.0, 'x must be a positive int, got 2.0')):
        with pytest.raises(ValueError, match=text):
            check_int(bad, 'x')
    with pytest.raises(ValueError, match=r'O: `n` must be an int in \[0, 4\)'):
        check_int(4, 'O: `n`', 0, 4)
    with pytest.raises(ValueError, match='an int >= 2, got 1'):
        check_int(1, 'x', 2)


def test_check_real_and_check_choice():
    assert check_real(0.5, 't', 0, strict=True) == 0.5
    assert check_real(1, 'a', 1) == 1
    with pytest.raises(ValueError, match='t must be > 0, got 0'):
        check_real(0, 't', 0, strict=True)
    with pytest.raises(ValueError, match="a must be >= 1, got 'x'"):
        check_real('x', 'a', 1)
    assert check_choice('ln', 'norm', ('ln', 'l2')) == 'ln'
    with pytest.raises(ValueError,
                       match=r"norm must be one of \('ln', 'l2'\), got 'bn'"):
        check_choice('bn', 'norm', ('ln', 'l2'))


def test_pretrained_init_finds_the_entry_in_a_dict_or_a_list():
    entry = dict(type='Pretrained', checkpoint='a.pth')
    assert pretrained_init(entry) is entry
    assert pretrained_init([dict(type='Normal'), entry]) is entry
    assert pretrained_init(dict(type='Normal')) is None
    assert pretrained_init(None) is None


def test_a_pretrained_entry_in_a_list_keeps_the_loaded_weights(tmp_path):
    torch.manual_seed(0)
    source = SiameseIMProjector(in_channels=8, embed_dims=8, depth=1,
                                num_heads=2, norm_cfg=dict(type='LN'))
    path = str(tmp_path / 'neck.pth')
    torch.save(source.state_dict(), path)
    neck = SiameseIMProjector(
        in_channels=8, embed_dims=8, depth=1, num_heads=2,
        norm_cfg=dict(type='LN'),
        init_cfg=[dict(type='Pretrained', checkpoint=path)])
    neck.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(neck.state_dict()[key], value), key
