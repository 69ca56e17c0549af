"""TOML recipes -> frozen dataclasses.

A recipe is a short file of named values. Every key has a default here; a recipe only
states what differs. An unknown key or a value of the wrong type is a RecipeError that
names the key, like nanoGPT's configurator but strict.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import RecipeError
from .rules import CLASSIFIERS, DIFFAUGMENT, RULES, SEED_MAX  # noqa: F401 (SEED_MAX etc.: API)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class ImbalanceConfig:
    """How to derive an imbalanced training split from a balanced one (seeded)."""

    profile: str = "none"  # none | step (listed classes keep a fraction) | exponential
    classes: tuple[str, ...] = ()  # for "step": the classes that are thinned
    keep: float = 1.0  # for "step": fraction of each listed class that is kept
    ratio: float = 1.0  # for "exponential": largest/smallest class count
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    train: str = "builtin:digits"
    test: str = ""  # empty: hold out test_fraction of `train`, stratified
    test_fraction: float = 0.3
    split_seed: int = 0
    validation: str = ""  # empty: hold out validation_fraction of the training split
    # with [data.imbalance]: floor(f x smallest class) of every class, held out before thinning (balanced);
    # without: per class floor(f x n), never leaving fewer than 2 to train
    validation_fraction: float = 0.2
    image_size: int = 0  # 0 keeps the native size; otherwise square side in pixels
    channels: int = 0  # 0 keeps what the files have; 1 or 3 converts
    label: str = "label"  # tables: the label column
    categorical: tuple[str, ...] = ()  # tables: columns to treat as categorical (else detected)
    numeric: tuple[str, ...] = ()  # tables: columns to treat as numeric (else detected)
    impute: str = "none"  # tables: "none" (missing values are an error) | "median"
    length: int = 0  # signals: samples per series (0 keeps it when every series has the same length)
    fit: str = "resample"  # signals: how other lengths become `length`: "resample" (linear) | "pad-crop"
    rate: int = 0  # signals: WAV clips are resampled to this rate in Hz (0: the clips' own, one rate)
    imbalance: ImbalanceConfig = field(default_factory=ImbalanceConfig)
    # an unlabelled pool of the same kind (images: a .npz with an array x or a folder of image files; signals:
    # a .npz with x, a .ts file or a folder of WAV files; tables: a .csv/.parquet with the feature columns; any
    # labels in it are not read): the self-training arms, and the GAN's discriminator (train.unlabelled_weight,
    # images and signals)
    unlabelled: str = ""


@dataclass(frozen=True)
class ModelConfig:
    z_dim: int = 64
    # 64/32 trains 3.3x the steps/s of 128/64 on 28x28 (reports/benchmarks.md) but, at equal steps on
    # digits, its samples scored lower (reports/width-quality.md): the default stays 128/64.
    g_channels: int = 128  # width of the generator's first feature map
    d_channels: int = 64  # width of the discriminator's first feature map


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 300  # one epoch = ceil(N / batch_size) steps
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.9
    ema_decay: float = 0.999
    diffaugment: tuple[str, ...] = ("translation", "cutout")
    balanced_sampling: bool = True  # draw real batches class-uniformly
    checkpoint_every: int = 500  # steps
    sample_every: int = 1000  # steps; a grid PNG with one row per class
    log_every: int = 50  # steps
    lecam: float = 0.0  # images: LeCam regulariser weight (Tseng et al. 2021); 0 = off
    gsr: float = 0.0  # images: group spectral regulariser weight on G's class-conditional norms (gSR); 0 = off
    # images: weight of a frozen class-balanced classifier's cross-entropy on G's samples (their
    # conditioned class as target) in G's loss; 0 = off. Counters head-class shapes leaking into thin labels.
    # images: conditioning ramps linearly from off (unconditional GAN) to full over this share of the steps
    condition_ramp: float = 0.0
    # images (UTLO): weight of an unconditional hinge loss on base-resolution (7x7 for 28x28) versions of the
    # real and fake images, scored by D without its class projection; G's base-resolution class norm is then
    # unconditional too. 0 = off
    uncond_low: float = 0.0
    class_guidance: float = 0.0
    guidance_steps: int = 600  # the guidance classifier's training steps (classic augmentation, re-weighted)
    # guidance is off for this fraction of the steps, then ramps linearly to full weight over the next quarter:
    # G first learns what digits look like from D; from the start a classifier's gradient paints adversarial blobs
    guidance_start: float = 0.5
    # images and signals with data.unlabelled: weight of an unconditional hinge term in which D also scores a
    # batch of the unlabelled pool (real) against G's samples, without its class projection; G's loss takes the
    # same term. The projection term stays on labelled samples only. 0 = off
    unlabelled_weight: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class SynthesizeConfig:
    strategy: str = "auto"  # auto | minority | not minority | not majority | all | N | C=N,...
    seed: int = 0
    batch_size: int = 256
    format: str = ""  # "" : the model's default (png for images, csv for tables) | npz | parquet
    workers: int = -1  # PNG encoder processes: -1 one per core for large jobs, 0 none
    shard_size: int = 8192  # samples per npz shard
    max_samples: int = 10_000_000  # a request above this is refused


@dataclass(frozen=True)
class EvaluateConfig:
    seeds: int = 3  # every arm: the validation choices and the exploratory estimates
    confirm_seeds: int = 6  # confirmatory arms (headline GAN, best non-GAN, real); power at 1.5 points on MNIST-LT
    # with the 28x28 SmallCNN: 0.77 at 5 seeds, 0.91 at 6 (reports/verdict-calibration-mnist-smallcnn.md)
    # seeds where they buy power (evaluation/seed_plan.py): from confirm_seeds, more seeds for a learner whose
    # measured spread (on validation) leaves the power to call a `power_effect`-point difference below
    # `confirm_power`; at most `max_confirm_seeds`, and at most `confirm_budget` x the learner's fits so far in extra
    # fits. confirm_power = 0: exactly confirm_seeds
    confirm_power: float = 0.8
    power_effect: float = 1.0
    max_confirm_seeds: int = 20
    confirm_budget: float = 2.0
    epochs: int = 30  # classifier budget: epochs x ceil(N_real / batch_size) steps, every arm
    # networks (evaluation/steps_plan.py): the budget's floor in steps, and the multiples of it fitted on two pilot
    # arms and scored on validation before the search (the smallest within one s.e. of the best is kept, every arm)
    min_steps: int = 0
    step_multipliers: tuple[int, ...] = ()
    batch_size: int = 64
    lr: float = 3e-3  # one-cycle peak; 3e-3 beat 1e-3 on validation for every arm (reports/classifier-pilot.md)
    workers: int = 1  # images: fit this many classifiers side by side, one torch thread each (CPU)
    # every modality: where the fits run: "" in this machine (image fits in worker processes); "local" a Ray
    # cluster of `workers` CPUs started here; HOST:PORT (or ray://HOST:PORT) an existing Ray cluster
    # (augmentor run --ray ADDRESS)
    ray: str = ""
    synthetic_only_per_class: int = 0  # 0: as many as the largest real class
    baselines: bool = True  # oversampling, SMOTE, classic augmentation arms
    classic: tuple[str, ...] = ()  # image candidates; empty: gray affine, pad-crop; RGB crop-flip, randaugment
    mixup: tuple[float, ...] = (0.2, 0.4)  # images: mixup alphas tried with over-sampling (best on validation)
    # the non-GAN grid (evaluation/search.py): rebalancing x classic (none + candidates) x mixup (0 + alphas); empty:
    # every rebalancing the modality has (none, oversample, smote and its loss fixes)
    rebalancing: tuple[str, ...] = ()
    search_keep: float = 0.25  # successive halving: every cell at 1 seed, this share (at least 2) at `seeds`
    folds: int = 3  # choices by repeated stratified k-fold over train + validation when validation is small
    fold_below: int = 25  # ... i.e. holds fewer than this many examples per class (median); 0: never
    doses: tuple[float, ...] = (0.5, 1.0)  # extra arms: real + ratio x count GAN samples per class
    filter_threshold: float = 0.0  # > 0: a quality-filtered arm keeping p(class) >= threshold
    classifiers: tuple[str, ...] = ("logreg", "hgb", "rf")  # tables: scikit-learn classifiers
    # the learners to judge, replacing the modality's defaults: a built-in name, or an import path
    # "package.module:Name(key=value, ...)" (tables: any scikit-learn-compatible classifier); empty: the defaults
    learners: tuple[str, ...] = ()
    fidelity_k: int = 5
    reference: str = ""  # comparator arm declared before the run; empty: best non-GAN arm on validation
    gan_seeds: int = 1  # GANs trained (training seeds seed, seed + 1, ...); seed s draws from GAN s mod gan_seeds
    exclude: tuple[str, ...] = ()  # arm names not to run (e.g. "real+SMOTE"), to fit a compute budget
    online: bool = True  # images: arms with fresh GAN samples every epoch (OnlineSynthetic)
    online_ratio: float = 1.0  # online arms: synthetic per class = ratio x (target - real count)
    online_weight: float = 1.0  # online arms: loss weight of a synthetic sample (real: 1)
    online_refresh: float = 1.0  # online arms: fraction of the synthetic samples drawn afresh each epoch
    online_filter: bool = False  # online arms: keep only samples the quality filter accepts
    # images: the teacher arm (arms.teacher_on_top_of): GAN samples kept and soft-labelled by the best
    # ce / logit-adjusted arm's own model; settings from reports/mnist-longtail-ablation.md (validation)
    teacher_pool: int = 3  # draw this many times each class's gap and keep the top-k; 0: no teacher arm
    teacher_temperature: float = 2.0  # the teacher's distribution at this temperature; 0: the conditioning label
    # loss weight of a teacher arm's sample (real: 1), and the share of the steps before they join (networks;
    # a one-call learner fits once); a list: one teacher arm per value, chosen on validation like every GAN arm
    teacher_weight: tuple[float, ...] = (0.5,)
    teacher_join: tuple[float, ...] = (0.75,)
    teacher_dose: float = 1.0  # r x each class's real count, at most its gap (x1 won on validation); 0: the gap
    # one teacher arm per share: GAN samples only for classes with at most that share of the largest class's
    # real count (1: every class); with several, the headline takes the best GAN arm on validation as always
    teacher_max_share: tuple[float, ...] = (1.0,)
    # with data.unlabelled: self-training arms (the winner's model labels the pool; top-k per class up to its
    # gap; the teacher arm's labels, weight and join), one per teacher_max_share (and weight, join), competing with the
    # search's winner for the best arm without a GAN; and GAN teacher arms on top of the best of them
    self_training: bool = True


@dataclass(frozen=True)
class Recipe:
    name: str = "unnamed"
    out: str = ""  # run directory; empty: runs/<name>
    report: str = ""  # report directory; empty: reports/<name>
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    synthesize: SynthesizeConfig = field(default_factory=SynthesizeConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.out or f"runs/{self.name}")

    @property
    def report_dir(self) -> Path:
        return Path(self.report or f"reports/{self.name}")


def _coerce(value: Any, hint: Any, key: str, where: str) -> Any:
    """Check `value` against a field's type hint; return it in the dataclass's type."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: [{key}] must be a table, got {type(value).__name__}")
        return _build(hint, value, key, where)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if item is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):  # one number: a list of one
                value = [value]
            if not isinstance(value, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise RecipeError(f"{where}: {key} must be a list of numbers, got {_shown(value)}")
            return tuple(float(v) for v in value)
        if item is int:
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise RecipeError(f"{where}: {key} must be a list of whole numbers, got {_shown(value)}")
            return tuple(value)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RecipeError(f"{where}: {key} must be a list of strings, got {_shown(value)}")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{where}: {key} must be true or false, got {_shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{where}: {key} must be an integer, got {_shown(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{where}: {key} must be a number, got {_shown(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise RecipeError(f"{where}: {key} must be a string, got {_shown(value)}")
        return value
    raise TypeError(f"unsupported recipe field type {hint!r}")  # a bug here, not user error


def _build(cls: type, table: dict, prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key not in hints:
            raise RecipeError(
                f"{where}: unknown key '{dotted}'. Known keys here: {', '.join(names)}"
            )
        kwargs[key] = _coerce(value, hints[key], dotted, where)
    return cls(**kwargs)


def recipe_from_dict(table: dict, where: str = "recipe") -> Recipe:
    """Build a Recipe from a parsed TOML table; every key and every value is checked."""
    return check_recipe(_build(Recipe, table, "", where), where)


def check_recipe(recipe: Recipe, where: str = "recipe") -> Recipe:
    """Raise RecipeError naming the first value outside its range; return `recipe`."""
    for dotted, (ok, wanted) in RULES.items():
        value: Any = recipe
        for part in dotted.split("."):
            value = getattr(value, part)
        if not ok(value):
            raise RecipeError(f"{where}: {dotted} must be {wanted}, got {_shown(value)}")
    return recipe


MAX_RECIPE_BYTES = 1 << 20  # a recipe is a page of settings; a bigger file is a mistake, refused before it is read


def _shown(value: object, limit: int = 80) -> str:
    """`value`'s repr for an error message, cut to `limit` characters (a 100 MB string stays out of the terminal)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def load_recipe(path: str | Path) -> Recipe:
    """Read a TOML recipe file. Its name defaults to the file's stem."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_RECIPE_BYTES:
            raise RecipeError(f"{path}: {size:,} bytes is not a recipe (at most {MAX_RECIPE_BYTES:,} bytes); "
                              "check that --recipe names the TOML settings file")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise RecipeError(f"recipe not found: {path}") from None
    except UnicodeDecodeError as e:
        raise RecipeError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(f"{path}: not valid TOML: {e}") from None
    table.setdefault("name", path.stem)
    return recipe_from_dict(table, str(path))


def with_overrides(recipe: Recipe, overrides: dict[str, Any]) -> Recipe:
    """Return a copy with dotted keys replaced (`{"train.epochs": 2}`), type-checked."""
    for dotted, value in overrides.items():
        if value is None:
            continue
        parts = dotted.split(".")
        recipe = _replace_path(recipe, parts, value, dotted)
    return check_recipe(recipe, "override")


def _replace_path(obj: Any, parts: list[str], value: Any, dotted: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    if parts[0] not in hints:
        raise RecipeError(f"unknown recipe key '{dotted}'")
    if len(parts) == 1:
        new = _coerce(value, hints[parts[0]], dotted, "override")
    else:
        new = _replace_path(getattr(obj, parts[0]), parts[1:], value, dotted)
    return dataclasses.replace(obj, **{parts[0]: new})


def recipe_to_dict(recipe: Recipe) -> dict:
    """Plain-dict form (tuples as lists) for JSON reports and checkpoints."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return list(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(recipe))
