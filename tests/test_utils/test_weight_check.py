"""check_loaded_weights: every way a pretrained load can go wrong is seen."""
import torch
import torch.nn.functional as F

from mmsiameseim.checkpoints import check_loaded_weights


def _resize_table(src, dst):
    """(1, 1 + 4, C) -> (1, 1 + 16, C): cls row kept, grid bicubic 2->4."""
    cls, grid = src[:, :1], src[:, 1:]
    c = grid.shape[-1]
    grid = grid.reshape(1, 2, 2, c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(4, 4), mode='bicubic',
                         align_corners=False)
    return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, 16, c)], 1)


def _pair():
    torch.manual_seed(0)
    source = {'a.weight': torch.randn(3, 3), 'a.bias': torch.randn(3),
              'pos_embed': torch.randn(1, 5, 3)}
    model = {k: v.clone() for k, v in source.items()}
    model['pos_embed'] = _resize_table(source['pos_embed'], None)
    model['rel_pos_table'] = torch.zeros(7)
    return source, model


def test_a_good_load_passes():
    source, model = _pair()
    report = check_loaded_weights(
        model, source, expected_fresh=[r'rel_pos_\w+'],
        transforms={'pos_embed': _resize_table})
    assert report.ok, report.summary()
    assert sorted(report.equal) == ['a.bias', 'a.weight', 'pos_embed']
    assert report.transformed == ['pos_embed']
    assert report.fresh == ['rel_pos_table']
    assert report.summary().endswith('OK')


def test_each_failure_is_reported():
    source, model = _pair()
    model['a.weight'] = model['a.weight'] + 1e-6  # stayed random-ish
    model['extra.gamma'] = torch.ones(3)  # fresh but undocumented
    del model['a.bias']  # dropped by the load
    source['pos_embed'] = torch.randn(1, 5, 3)  # resize of other values
    report = check_loaded_weights(
        model, source, expected_fresh=[r'rel_pos_\w+'],
        transforms={'pos_embed': _resize_table})
    assert not report.ok
    assert list(report.mismatched) == ['a.weight', 'pos_embed']
    assert report.not_in_model == ['a.bias']
    assert report.unexpected_fresh == ['extra.gamma']
    text = report.summary()
    for word in ('DIFFERENT  a.weight', 'NOT LOADED a.bias',
                 'FRESH      extra.gamma', 'FAILED'):
        assert word in text
    try:
        report.raise_if_failed('encoder')
    except RuntimeError as e:
        assert 'encoder' in str(e) and 'a.bias' in str(e)
    else:
        raise AssertionError('no error raised')


def test_shape_mismatch_without_transform():
    source, model = _pair()
    report = check_loaded_weights(model, source,
                                  expected_fresh=[r'rel_pos_\w+'])
    assert report.shape_mismatch == {'pos_embed': ((1, 5, 3), (1, 17, 3))}
    assert not report.ok


class _ToyBackbone(torch.nn.Module):
    """A backbone that 'loads' a file like mmseg's MAE: strict=False."""

    def __init__(self, pretrained):
        super().__init__()
        self.pretrained = pretrained
        self.proj = torch.nn.Linear(3, 3)
        self.gamma = torch.nn.Parameter(torch.ones(3))

    def init_weights(self, honest=True):
        from mmsiameseim.checkpoints import read_checkpoint
        state = read_checkpoint(self.pretrained)
        if not honest:  # prefixed keys: load_state_dict matches nothing
            state = {'backbone.' + k: v for k, v in state.items()}
        self.load_state_dict(state, strict=False)


def _runner(model, tmp_path, **cfg):
    import logging
    from types import SimpleNamespace
    return SimpleNamespace(
        cfg=cfg, model=SimpleNamespace(backbone=model),
        logger=logging.getLogger('weight_check_test'))


def test_hook_catches_a_silently_random_backbone(tmp_path):
    import pytest

    from mmsiameseim.checkpoints import BackboneLoadSpec, register_load_spec
    from mmsiameseim.engine.hooks import PretrainedLoadCheckHook
    register_load_spec('_ToyBackbone')(
        lambda m: BackboneLoadSpec(expected_fresh=[r'gamma']))
    torch.manual_seed(0)
    path = tmp_path / 'encoder.pth'
    torch.save({'proj.weight': torch.randn(3, 3),
                'proj.bias': torch.randn(3)}, path)
    hook = PretrainedLoadCheckHook()
    good = _ToyBackbone(str(path))
    good.init_weights()
    hook.before_train(_runner(good, tmp_path))  # no error
    bad = _ToyBackbone(str(path))
    bad.init_weights(honest=False)
    with pytest.raises(RuntimeError, match='DIFFERENT  proj.weight'):
        hook.before_train(_runner(bad, tmp_path))
    # a resumed run holds its own weights: nothing to compare
    hook.before_train(_runner(bad, tmp_path, resume=True))
