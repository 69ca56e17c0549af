"""The core object every modality implements: what differs between images, tables and signals.

This module names no modality. Each modality package (`augmentor/image`, `augmentor/table`,
`augmentor/signal`) builds one `Modality` and `bind`s it to its dataset and codec classes, so a
dataset or codec handed to generic code carries its modality (`data.MODALITY`) and generic code
never looks one up. The registry (`registry.py`, on top) is the only module that imports the
packages; where generic code starts from a file that only *names* its modality (a checkpoint, a
model's metadata), its caller hands it `registry`, a callable name -> Modality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Training:
    """What differs between modalities in the GAN's training loop and export."""

    fit_codec: Callable[[object], object]  # training data -> its codec
    step: Callable[..., tuple]  # (g, d, opt_d, x_real, y_real, z, gen, cfg, n_classes, guide, weight) -> losses
    preview: bool  # whether sample grids (PNG) are written during training
    generator: Callable[[dict], object]  # checkpoint state -> an untrained generator
    models: Callable[..., tuple]  # (n_classes, shape, z_dim, g_width, d_width, codec) -> (G, D), untrained
    pooled: bool = False  # the step takes `unlabelled=` (a batch of data.unlabelled): train.unlabelled_weight
    # The image-only training options (`guided` modalities): None elsewhere.
    condition: Callable[..., None] | None = None  # (strength, *modules): train.condition_ramp
    freeze_base: Callable[[object], None] | None = None  # (G): train.uncond_low's unconditional base norm
    penalty: Callable[[object], object] | None = None  # (G) -> tensor: train.gsr
    guidance: Callable[..., object] | None = None  # (data, cfg, device, stored) -> frozen classifier


@dataclass(frozen=True)
class Modality:
    """Every per-kind behaviour, handed to generic code.

      claims / load       which dataset specs are this modality's, and how to load them
      codec               model-space codec described by a model's metadata JSON
      training            codec fitting, the GAN's loss step, models, image-only options (`Training`)
      writer / reader     the synthetic output folder, written and read back (one writer per format)
      formats             output formats of `synthesize` (the first is the default)
      serve_formats       what `augmentor serve` returns (the first is the default)
      smote               SMOTE in the modality's own form (pixels, mixed-type rows, flattened series)
      evaluation          learners, classic augmentation candidates, loss fixes, fidelity features
      quality_filter      (x, y, n_classes, threshold) -> a filter with `accept(x, label)`, or None
      builtins            the names of the `builtin:NAME` sets it loads
      distributed         whether `--nproc` / torchrun training is supported
      guided              whether the in-process torch classifier paths apply: class guidance and the
                          conditioning options in training, the quality filter, the online arms
      unlabelled          (spec, like) -> an unlabelled pool like the training set (data.unlabelled): the
                          self-training arms, and the GAN's pool term where `training.pooled`
    """

    name: str
    claims: Callable[[str], bool]
    load: Callable[..., object]  # (spec, **options) -> dataset; options it does not use are ignored
    codec: Callable[[dict], object]
    training: Training
    writer: Callable[..., object]
    reader: Callable[..., object]  # (out, like, source) -> dataset
    smote: Callable[..., tuple]  # (train, strategy, k, seed) -> (x, y)
    evaluation: object
    formats: tuple[str, ...]
    serve_formats: tuple[str, ...]
    quality_filter: Callable[..., object] | None = None
    distributed: bool = False
    guided: bool = False
    builtins: tuple[str, ...] = ()  # the `builtin:NAME` sets it ships (from installed packages)
    unlabelled: Callable[..., object] | None = None  # (spec, like) -> an unlabelled pool (data.unlabelled)


def bind(modality: Modality, *classes: type) -> Modality:
    """Attach `modality` to its dataset and codec classes as `MODALITY`: every instance then
    carries the behaviour of its kind to whatever generic code it is handed to."""
    for cls in classes:
        cls.MODALITY = modality
    return modality


class Deferred:
    """An object made by `make()` on first use: a package hands its evaluation side (scikit-learn,
    imbalanced-learn, the learners) to its Modality this way, so training, export and generation
    never import it."""

    def __init__(self, make: Callable[[], object]) -> None:
        self._make, self._made = make, None

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._made is None:
            self._made = self._make()
        return getattr(self._made, name)
