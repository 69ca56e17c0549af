"""Images: ImageFolder directories, image `.npz` arrays and `builtin:digits`.

The package implements the `Modality` (core/modality.py) for images and binds it to `LabelledData` and
`ImageCodec`; it imports only the core and generic helpers, never another modality or the registry.
"""

from __future__ import annotations

from functools import partial

from ..core.modality import Deferred, Modality, Training, bind
from ..gan.steps import hinge_step
from .codec import ImageCodec
from .data import BUILTINS, LabelledData, load_images, load_unlabelled, validate, write_npz
from .diffaug import diff_augment
from .models import (
    ImageDiscriminator,
    ImageGenerator,
    base_factor,
    coarse,
    group_spectral_penalty,
    set_conditioning,
    unconditional_base,
)
from .writer import images_to_folder, read_samples

__all__ = ["MODALITY", "ImageCodec", "LabelledData", "load_images", "read_samples", "validate", "write_npz"]


def _claims(spec: str) -> bool:
    """Images load what no other modality claims, except a builtin name that is not an image set."""
    return not spec.startswith("builtin:") or spec.split(":", 1)[1] in BUILTINS


def _load(spec: str, image_size: int = 0, channels: int = 0, **_: object) -> LabelledData:
    return load_images(spec, image_size, channels)


def _step(g, d, opt, x, y, z, gen, cfg, k, guide, w, unlabelled=None):
    coarsen = partial(coarse, factor=base_factor(*x.shape[-2:])) if cfg.uncond_low > 0 else None
    return hinge_step(g, d, opt, x, y, z, gen, cfg.diffaugment, k, cfg.lecam, guide=guide, guidance=w,
                      augment=diff_augment, uncond_low=cfg.uncond_low, coarsen=coarsen, unlabelled=unlabelled,
                      unlabelled_weight=cfg.unlabelled_weight)


def _generator(state: dict) -> ImageGenerator:
    return ImageGenerator(len(state["classes"]), tuple(state["shape"]), state["z_dim"], state["g_channels"])


def _models(k: int, shape: tuple, z_dim: int, g_width: int, d_width: int, codec: object) -> tuple:
    return ImageGenerator(k, shape, z_dim, g_width), ImageDiscriminator(k, shape, d_width)


def _read(out, like: LabelledData, source: str | None) -> LabelledData:
    return read_samples(out, like.classes, source)


# The evaluation side (scikit-learn, imbalanced-learn, the learners) is imported when first used:
# training, export and generation never load it.

def _evaluation() -> object:
    from .evaluation import ImageEvaluation

    return ImageEvaluation()


def _smote(*args, **options) -> tuple:
    from ..evaluation.classifiers import smote_arrays

    return smote_arrays(*args, **options)


def _guidance(*args, **options):
    from .evaluation import guidance_classifier

    return guidance_classifier(*args, **options)


def _quality_filter(x, y, n_classes: int, threshold: float, **options: object):
    from .learners import QualityFilter

    return QualityFilter.fit(x, y, n_classes, threshold, **options)


MODALITY = bind(Modality(
    "image", claims=_claims, load=_load, codec=lambda spec: ImageCodec(),
    training=Training(lambda data: ImageCodec(), _step, True, _generator, _models, pooled=True,
                      condition=set_conditioning,
                      freeze_base=unconditional_base, penalty=group_spectral_penalty, guidance=_guidance),
    writer=images_to_folder, reader=_read, smote=_smote, evaluation=Deferred(_evaluation),
    formats=("png", "npz"), serve_formats=("npz", "png-zip"), quality_filter=_quality_filter,
    distributed=True, guided=True, builtins=BUILTINS, unlabelled=load_unlabelled), LabelledData, ImageCodec)
