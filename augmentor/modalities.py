"""The one registry of modalities: everything that differs between images, tables and signals.

Every other module asks the registry (`get(name)`, `for_spec(spec)`, `for_codec(spec)`) and
never names a modality itself (tests/test_modalities.py checks it). An entry holds:

  claims / load       which dataset specs are this modality's, and how to load them
  codec               the model-space codec described by a model's metadata
  training            codec fitting, the GAN's loss step, sample grids, rebuilding G from a checkpoint
  writer / reader     the synthetic output folder, written and read back
  smote               SMOTE in the modality's own form (pixels, mixed-type rows, flattened series)
  evaluation          learners, classic augmentation candidates, loss fixes, fidelity features
  serve_formats       what `augmentor serve` returns (the first is the default)
  distributed         whether `--nproc` / torchrun training is supported
  guided              whether the in-process torch classifier paths apply: class guidance and the
                      conditioning ramp in training, the quality filter, the teacher and online arms

Entries are built on first use (the modules they point into import this one), so importing
the registry is free and cycles cannot form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from .errors import UnsafeArtifactError

DEFAULT = "image"  # checkpoints written before modalities were recorded are image runs


@dataclass(frozen=True)
class Modality:
    name: str
    claims: Callable[[str], bool]
    load: Callable[..., object]  # (spec, **options) -> dataset; options it does not use are ignored
    codec: Callable[[dict], object]
    training: object  # train.Training
    writer: Callable[..., object]
    reader: Callable[..., object]  # (out, like, source) -> dataset
    smote: Callable[..., tuple]  # (train, strategy, k, seed) -> (x, y)
    evaluation: object
    serve_formats: tuple[str, ...]
    distributed: bool = False
    guided: bool = False


def _image() -> Modality:
    from . import arms, gan_steps, images, study, synthesize
    from .codec import ImageCodec
    from .models import ImageDiscriminator, ImageGenerator

    return Modality(
        "image", claims=lambda spec: True, load=lambda spec, image_size=0, channels=0, **_: images.load_images(
            spec, image_size, channels),
        codec=lambda spec: ImageCodec(),
        training=gan_steps.Training(
            lambda data: ImageCodec(),
            lambda g, d, opt, x, y, z, gen, cfg, k, guide, w: gan_steps.image_step(
                g, d, opt, x, y, z, gen, cfg.diffaugment, k, cfg.lecam, guide=guide, guidance=w,
                uncond_low=cfg.uncond_low),
            True,
            lambda st: ImageGenerator(len(st["classes"]), tuple(st["shape"]), st["z_dim"], st["g_channels"]),
            lambda k, shape, z_dim, g_width, d_width, codec: (ImageGenerator(k, shape, z_dim, g_width),
                                                              ImageDiscriminator(k, shape, d_width))),
        writer=synthesize._images_to_folder,
        reader=lambda out, like, source: synthesize.read_samples(out, like.classes, source),
        smote=arms._smote_images, evaluation=study.ImageEvaluation(), serve_formats=("npz", "png-zip"),
        distributed=True, guided=True)


def _table() -> Modality:
    from . import arms, gan_steps, study, synthesize, tables
    from .codec import TableCodec
    from .models import TableCritic, TableGenerator

    def table_models(n_classes, shape, z_dim, g_width, d_width, codec):
        return (TableGenerator(n_classes, codec.spans, z_dim, g_width),
                TableCritic(n_classes, codec.width, d_width))

    return Modality(
        "table", claims=tables.is_table_spec,
        load=lambda spec, label="label", categorical=(), numeric=(), impute="none", **_: tables.load_table(
            spec, label, categorical, numeric, impute),
        codec=TableCodec.from_json,
        training=gan_steps.Training(
            lambda data: TableCodec.fit(data.x, data.categorical, data.label),
            lambda g, d, opt, x, y, z, gen, cfg, k, guide, w: gan_steps.table_step(g, d, opt, x, y, z, gen),
            False,
            lambda st: TableGenerator(len(st["classes"]), TableCodec.from_json(st["codec"]).spans,
                                      st["z_dim"], st["g_channels"]),
            table_models),
        writer=synthesize._table_to_folder, reader=synthesize.read_table_samples,
        smote=arms._smote_tables, evaluation=study.TableEvaluation(), serve_formats=("csv", "parquet"))


def _signal() -> Modality:
    from . import signals

    return signals._modality()


# Dispatch order for dataset specs: the first modality that claims a spec loads it (images last:
# a folder or .npz that is neither a table nor a signal set is an image set).
_BUILDERS: dict[str, Callable[[], Modality]] = {"table": _table, "signal": _signal, "image": _image}
NAMES = tuple(_BUILDERS)


@cache
def get(name: str) -> Modality:
    """The registry entry of modality `name` (as recorded in data, checkpoints and model metadata)."""
    if name not in _BUILDERS:
        raise UnsafeArtifactError(f"unknown modality {str(name)[:40]!r}; augmentor knows {', '.join(NAMES)}")
    return _BUILDERS[name]()


def for_spec(spec: str) -> Modality:
    """The modality that loads dataset spec `spec`."""
    return next(m for m in map(get, NAMES) if m.claims(spec))


def for_codec(spec: dict) -> object:
    """The codec described by a model's metadata JSON."""
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in _BUILDERS:
        raise UnsafeArtifactError(f"unknown codec in model metadata: {str(spec)[:200]!r}")
    return get(kind).codec(spec)
