"""The GAN issue's components: teacher selection and soft labels, late and weighted synthetic
samples, transitional conditioning, and the feature-space GAN with head re-training."""

import numpy as np
import pytest
import torch

import augmentor.image.learners as C
from augmentor.image.models import ImageDiscriminator, ImageGenerator, set_conditioning


def test_teacher_keeps_the_top_k_of_every_class_up_to_its_gap():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), [30, 30, 6])
    probs = rng.dirichlet(np.ones(3), len(labels))
    probs[labels == 2] = [0.9, 0.05, 0.05]  # the teacher rates every class-2 sample unlike class 2: still kept
    keep = C.select_by_teacher(probs, labels, np.array([0, 10, 4]))
    assert np.bincount(labels[keep], minlength=3).tolist() == [0, 10, 4]
    ones = np.flatnonzero(labels == 1)
    kept_ones = np.intersect1d(keep, ones)
    assert probs[kept_ones, 1].min() >= np.sort(probs[ones, 1])[-10]  # the 10 most class-1-like


def test_teacher_targets_soften_with_temperature_and_keep_the_teachers_choice():
    p = np.array([[0.9, 0.09, 0.01], [0.2, 0.7, 0.1]])
    t1, t2 = C.teacher_targets(p, 1.0), C.teacher_targets(p, 2.0)
    np.testing.assert_allclose(t1, p, atol=1e-6)
    np.testing.assert_allclose(t2.sum(1), 1, atol=1e-6)
    assert (t2.argmax(1) == p.argmax(1)).all() and (t2.max(1) < p.max(1)).all()


def test_teacher_temperature_zero_gives_the_conditioning_labels_one_hot_where_the_teacher_agrees():
    from augmentor.evaluation.arms import SOFT_FALLBACK_TEMPERATURE, TeacherPlan, plan_targets

    p = np.array([[0.9, 0.09, 0.01], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]], np.float32)
    labels = np.array([0, 1, 0])  # the third: conditioned on 0, the teacher prefers 2: no hard 0 for it
    hard = plan_targets(TeacherPlan(pool=None, want=np.zeros(3), temperature=0.0), p, labels, 3)
    assert hard[:2].tolist() == [[1, 0, 0], [0, 1, 0]] and hard.dtype == np.float32
    np.testing.assert_allclose(hard[2], C.teacher_targets(p[2:], SOFT_FALLBACK_TEMPERATURE)[0])
    assert hard[2].argmax() == 2
    soft = plan_targets(TeacherPlan(pool=None, want=np.zeros(3)), p, labels, 3)
    np.testing.assert_allclose(soft, C.teacher_targets(p, 2.0))


def test_teacher_want_serves_only_the_classes_under_the_share():
    from augmentor.evaluation.arms import teacher_want

    counts = np.array([1000, 599, 359, 215, 10])
    gap = counts.max() - counts
    assert teacher_want(counts, gap).tolist() == [0, 401, 359, 215, 10]  # x1, at most the gap
    assert teacher_want(counts, gap, max_share=0.25).tolist() == [0, 0, 0, 215, 10]
    assert teacher_want(counts, gap, dose=2.0, max_share=0.25).tolist() == [0, 0, 0, 430, 20]
    assert teacher_want(counts, gap, dose=0, max_share=0.5).tolist() == [0, 0, 641, 785, 990]
    assert teacher_want(counts, gap, max_share=0.001).sum() == 0  # no class: the study runs no teacher arm


def _tiny(n: int = 48, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 8, 8), dtype=np.float32)
    return x, np.arange(n) % 3


def _weights(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def test_synthetic_samples_that_never_join_leave_the_fit_as_it_was():
    x, y = _tiny()
    plain = C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=1, loss="logit-adjust", mixup=0.2)
    xs, _ = _tiny(12, 1)
    soft = C.SoftSynthetic(xs, np.full((12, 3), 1 / 3, np.float32), weight=0.5, join_at=1.0)
    late = C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=1, loss="logit-adjust", mixup=0.2, soft=soft)
    torch.testing.assert_close(_weights(late), _weights(plain), atol=3e-4, rtol=1e-3)  # float rounding only
    early = C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=1, loss="logit-adjust", mixup=0.2,
                      soft=C.SoftSynthetic(xs, soft.targets, weight=0.5, join_at=0.0))
    again = C.fit_cnn(x, y, 3, steps=6, batch_size=16, seed=1, loss="logit-adjust", mixup=0.2,
                      soft=C.SoftSynthetic(xs, soft.targets, weight=0.5, join_at=0.0))
    assert torch.equal(_weights(early), _weights(again)) and not torch.allclose(_weights(early), _weights(plain))


def test_soft_targets_refuse_losses_they_do_not_support():
    x, y = _tiny()
    with pytest.raises(ValueError, match="reweight"):
        C.fit_cnn(x, y, 3, steps=2, batch_size=16, loss="reweight",
                  soft=C.SoftSynthetic(x[:4], np.full((4, 3), 1 / 3, np.float32)))


def test_drw_with_soft_targets_is_the_drw_fit_until_the_samples_join_and_reweights_after():
    x, y = _tiny(60)
    y = np.repeat(np.arange(3), [40, 15, 5])  # imbalanced: DRW's class weights differ
    plain = C.fit_cnn(x, y, 3, steps=8, batch_size=16, seed=2, loss="drw", mixup=0.2)
    xs, _ = _tiny(12, 1)
    targets = np.tile(np.float32([0.1, 0.1, 0.8]), (12, 1))
    never = C.fit_cnn(x, y, 3, steps=8, batch_size=16, seed=2, loss="drw", mixup=0.2,
                      soft=C.SoftSynthetic(xs, targets, weight=0.5, join_at=1.0))
    torch.testing.assert_close(_weights(never), _weights(plain), atol=3e-4, rtol=1e-3)  # float rounding only
    late = C.fit_cnn(x, y, 3, steps=8, batch_size=16, seed=2, loss="drw", mixup=0.2,
                     soft=C.SoftSynthetic(xs, targets, weight=0.5, join_at=0.75))
    assert not torch.allclose(_weights(late), _weights(plain))
    # the mixture's class weights: the synthetic mass on class 2 lowers its weight
    mix = C.drw_weights(np.bincount(y) + 0.5 * targets.sum(0))
    assert mix[2] < C.drw_weights(np.bincount(y))[2]


def test_at_conditioning_strength_zero_the_gan_ignores_the_class():
    torch.manual_seed(0)
    g, d = ImageGenerator(4, (1, 16, 16), z_dim=8, width=32), ImageDiscriminator(4, (1, 16, 16), width=16)
    z, a, b = torch.randn(6, 8), torch.zeros(6, dtype=torch.long), torch.full((6,), 3)
    with torch.no_grad():
        for p in g.parameters():  # class gains and biases away from their (1, 0) start
            p.add_(0.1 * torch.randn_like(p))
    g.eval()
    d.eval()  # spectral norm: no power iteration between the two calls
    assert not torch.allclose(g(z, a), g(z, b))
    set_conditioning(0.0, g, d)
    torch.testing.assert_close(g(z, a), g(z, b))
    img = torch.rand(6, 1, 16, 16)
    torch.testing.assert_close(d(img, a), d(img, b))
    set_conditioning(1.0, g, d)
    assert not torch.allclose(d(img, a), d(img, b))


def test_feature_gan_is_seeded_borrows_spread_and_head_retraining_keeps_shapes():
    from augmentor.gan.feature_gan import retrain_head, train_feature_gan

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [200, 100, 5])
    f = (rng.normal(size=(len(y), 6)) + 4 * np.eye(3, 6)[y]).astype(np.float32)
    g1 = train_feature_gan(f, y, 3, steps=60, batch_size=64, seed=2)
    g2 = train_feature_gan(f, y, 3, steps=60, batch_size=64, seed=2)
    labels = np.full(50, 2)
    s1, s2 = g1.sample(labels, 5), g2.sample(labels, 5)
    np.testing.assert_array_equal(s1, s2)
    # the thin class's samples have the shared spread (the shared h(z)), not its 5 points' spread only
    assert s1.std(0).mean() > 0.3 * f[y == 0].std(0).mean()
    head = torch.nn.Linear(6, 3)
    new = retrain_head(head, f, y, 3, extra=(s1, labels), steps=20, seed=0)
    assert new.weight.shape == head.weight.shape and not torch.equal(new.weight, head.weight)
