"""The baselines a practitioner would use, built as strong as an independent implementation:
classic augmentation per kind of image, mixup, deferred re-weighting; typed results."""

import numpy as np
import pytest
import torch

import augmentor.evaluation.classifiers as fit
import augmentor.image.learners as C


def _dot_images(n: int = 16, size: int = 28) -> torch.Tensor:
    x = torch.zeros(n, 1, size, size)
    x[:, :, size // 2 - 2:size // 2 + 2, size // 2 - 2:size // 2 + 2] = 1.0
    return x


def _centre(x: torch.Tensor) -> torch.Tensor:
    idx = torch.arange(x.shape[-1], dtype=torch.float32)
    mass = x.sum((1, 2, 3))
    return torch.stack([(x.sum((1, 2)) * idx).sum(-1) / mass, (x.sum((1, 3)) * idx).sum(-1) / mass], 1)


@pytest.mark.parametrize("kind", C.CLASSIC_POLICIES)
def test_every_policy_keeps_shape_and_range_and_is_seeded(kind):
    x = torch.rand(20, 3 if kind in ("crop-flip", "randaugment") else 1, 28, 28)
    aug = C.classic_augmentation(kind)
    torch.manual_seed(5)
    a = aug(x)
    torch.manual_seed(5)
    b = aug(x)
    assert a.shape == x.shape and a.dtype == torch.float32 and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, x)


def test_affine_moves_a_stroke_by_at_most_two_pixels_and_keeps_its_ink():
    x = _dot_images()
    torch.manual_seed(0)
    y = C.classic_augmentation("affine")(x)
    shift = (_centre(y) - _centre(x)).abs()
    assert shift.max() <= 2.0 + 0.3 and shift.max() > 0.5  # +-28/14 px, and the samples do move
    assert torch.allclose(y.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=0.25)  # scale +-10 %: no stroke destroyed


def test_pad_crop_is_an_integer_shift_of_at_most_size_over_ten():
    x = _dot_images()
    torch.manual_seed(0)
    y = C.classic_augmentation("pad-crop")(x)
    shift = _centre(y) - _centre(x)
    assert torch.allclose(shift, shift.round(), atol=1e-4) and shift.abs().max() <= 2
    assert torch.equal(y.sum((1, 2, 3)), x.sum((1, 2, 3)))  # nothing interpolated, nothing lost


def test_candidates_by_kind_of_image():
    assert C.classic_candidates(1) == ("affine", "pad-crop")
    assert C.classic_candidates(3) == ("crop-flip", "randaugment")
    with pytest.raises(ValueError, match="unknown classic augmentation"):
        C.classic_augmentation("solarize")


def _data(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [80, 30, 10])[:n]
    x = rng.random((len(y), 1, 8, 8), dtype=np.float32) * 0.3
    for c in range(3):
        x[y == c, :, :, 2 * c] += 0.6
    return x, y


def _weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_mixup_fits_are_seeded_and_change_the_fit():
    x, y = _data()
    a = C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=1, mixup=0.4)
    b = C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=1, mixup=0.4)
    plain = C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=1)
    assert torch.equal(_weights(a), _weights(b)) and not torch.equal(_weights(a), _weights(plain))


def test_drw_weights_favour_thin_classes_and_apply_only_in_the_deferred_share(monkeypatch):
    _, y = _data()
    w, off = fit.loss_terms(y, 3, "drw")
    assert off is None and w.mean() == pytest.approx(1.0) and w[2] > w[1] > w[0]
    x, y = _data()
    ce = C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=2)
    monkeypatch.setattr(fit, "DRW_SHARE", 0.0)  # deferred past the last step: plain cross-entropy throughout
    assert torch.equal(_weights(C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=2, loss="drw")), _weights(ce))
    monkeypatch.setattr(fit, "DRW_SHARE", 0.5)
    assert not torch.equal(_weights(C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=2, loss="drw")), _weights(ce))


def test_recipe_declares_candidates_mixup_and_confirmatory_seeds():
    from augmentor.config.recipe import Recipe, with_overrides
    from augmentor.core.errors import RecipeError

    ev = with_overrides(Recipe(), {"evaluate.classic": ["pad-crop"], "evaluate.mixup": [0.3]}).evaluate
    assert ev.classic == ("pad-crop",) and ev.mixup == (0.3,) and ev.confirm_seeds >= ev.seeds
    with pytest.raises(RecipeError, match="evaluate.classic"):
        with_overrides(Recipe(), {"evaluate.classic": ["solarize"]})
    with pytest.raises(RecipeError, match="evaluate.mixup"):
        with_overrides(Recipe(), {"evaluate.mixup": [0.0]})
