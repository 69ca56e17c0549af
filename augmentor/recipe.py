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

from .errors import RecipeError

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
    # with the 28x28 SmallCNN: 0.77 at 5 seeds, 0.91 at 6 (reports/verdict-calibration.md)
    epochs: int = 30  # classifier budget: epochs x ceil(N_real / batch_size) steps, every arm
    batch_size: int = 64
    lr: float = 3e-3  # one-cycle peak; 3e-3 beat 1e-3 on validation for every arm (benchmarks/pilot_classifier.py)
    workers: int = 1  # images: fit this many classifiers side by side, one torch thread each (CPU)
    synthetic_only_per_class: int = 0  # 0: as many as the largest real class
    baselines: bool = True  # oversampling, SMOTE, classic augmentation arms
    classic: tuple[str, ...] = ()  # image candidates; empty: gray affine, pad-crop; RGB crop-flip, randaugment
    mixup: tuple[float, ...] = (0.2, 0.4)  # images: mixup alphas tried with over-sampling (best on validation)
    mixup_losses: tuple[str, ...] = ("logit-adjust",)  # the chosen alpha is then fitted with these loss fixes
    doses: tuple[float, ...] = (0.5, 1.0)  # extra arms: real + ratio x count GAN samples per class
    filter_threshold: float = 0.0  # > 0: a quality-filtered arm keeping p(class) >= threshold
    classifiers: tuple[str, ...] = ("logreg", "hgb", "rf")  # tables: scikit-learn classifiers
    fidelity_k: int = 5
    reference: str = ""  # comparator arm declared before the run; empty: best non-GAN arm on validation
    gan_seeds: int = 1  # train the GAN this many times (1, or = seeds: each seed gets its own GAN)
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
    teacher_weight: float = 0.5  # loss weight of a synthetic sample (real: 1)
    teacher_join: float = 0.75  # share of the steps before the synthetic samples join
    teacher_dose: float = 1.0  # r x each class's real count, at most its gap (x1 won on validation); 0: the gap
    # one teacher arm per share: GAN samples only for classes with at most that share of the largest class's
    # real count (1: every class); with several, the headline takes the best GAN arm on validation as always
    teacher_max_share: tuple[float, ...] = (1.0,)


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
            if not isinstance(value, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise RecipeError(f"{where}: {key} must be a list of numbers, got {_shown(value)}")
            return tuple(float(v) for v in value)
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


# --- value ranges: every value is checked when the recipe is read, before any work -----------

SEED_MAX = 2**32 - 1
DIFFAUGMENT = ("translation", "cutout", "color")
CLASSIFIERS = ("logreg", "hgb", "rf")


def _between(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False):
    def ok(v: float) -> bool:
        above = v > lo if lo_open else v >= lo
        below = v < hi if hi_open else v <= hi
        return above and below  # NaN fails both
    text = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    return ok, f"in {text}"


def _one_of(*choices):
    return (lambda v: v in choices), f"one of {', '.join(map(repr, choices))}"


def _subset_of(*choices, empty: bool = True):
    def ok(v: tuple) -> bool:
        return all(x in choices for x in v) and (empty or len(v) > 0)
    return ok, f"{'' if empty else 'a non-empty '}list of {', '.join(map(repr, choices))}"


def _seed():
    return _between(0, SEED_MAX)


def _image_size():
    return (lambda v: v == 0 or 8 <= v <= 64), "0 (keep) or 8..64"


def _class_name_free(v: str) -> bool:
    from .names import name_problem

    return name_problem(v) is None


def _strategy(v: str) -> bool:
    from .errors import GapPlanError
    from .gaps import check_strategy

    try:
        check_strategy(v)
    except GapPlanError:
        return False
    return True


RULES = {
    "name": (_class_name_free, "a plain name (no '/', '..', control characters; at most 200 bytes)"),
    "data.train": ((lambda v: v.strip() != ""), "a dataset path or builtin:NAME"),
    "data.test_fraction": _between(0, 1, True, True),
    "data.split_seed": _seed(),
    "data.image_size": _image_size(),
    "data.channels": _one_of(0, 1, 3),
    "data.label": ((lambda v: v != ""), "a column name"),
    "data.impute": _one_of("none", "median"),
    "data.length": _between(0, 1 << 16),
    "data.fit": _one_of("resample", "pad-crop"),
    "data.rate": _between(0, 1_000_000),
    "data.imbalance.profile": _one_of("none", "step", "exponential"),
    "data.imbalance.keep": _between(0, 1, lo_open=True),
    "data.imbalance.ratio": _between(1, 1e6),
    "data.imbalance.seed": _seed(),
    "model.z_dim": _between(1, 4096),
    "model.g_channels": _between(8, 2048),
    "model.d_channels": _between(8, 2048),
    "train.epochs": _between(1, 1_000_000),
    "train.batch_size": _between(2, 65536),
    "train.lr_g": _between(0, 1, lo_open=True),
    "train.lr_d": _between(0, 1, lo_open=True),
    "train.beta1": _between(0, 1, hi_open=True),
    "train.beta2": _between(0, 1, hi_open=True),
    "train.ema_decay": _between(0, 1, hi_open=True),
    "train.diffaugment": _subset_of(*DIFFAUGMENT),
    "train.checkpoint_every": _between(1, 10**12),
    "train.sample_every": _between(1, 10**12),
    "train.log_every": _between(1, 10**12),
    "train.lecam": _between(0, 100),
    "train.gsr": _between(0, 100),
    "train.class_guidance": _between(0, 100),
    "train.condition_ramp": _between(0, 1),
    "train.uncond_low": _between(0, 100),
    "train.guidance_steps": _between(1, 1_000_000),
    "train.guidance_start": _between(0, 1),
    "evaluate.online_ratio": _between(0, 100),
    "evaluate.online_weight": _between(0, 100, lo_open=True),
    "evaluate.online_refresh": _between(0, 1, lo_open=True),
    "evaluate.teacher_pool": _between(0, 100),
    "evaluate.teacher_temperature": _between(0, 100),
    "evaluate.teacher_weight": _between(0, 100, lo_open=True),
    "evaluate.teacher_join": _between(0, 1, hi_open=True),
    "evaluate.teacher_dose": _between(0, 100),
    "evaluate.teacher_max_share": ((lambda v: len(v) > 0 and len(set(v)) == len(v) and all(0 < x <= 1 for x in v)),
                                   "a non-empty list of distinct shares in (0, 1]"),
    "train.seed": _seed(),
    "synthesize.strategy": (_strategy, "auto|minority|not minority|not majority|all, a count N, a ratio "
                                       "in (0, 1] or CLASS=N,... with N >= 0"),
    "synthesize.seed": _seed(),
    "synthesize.batch_size": _between(1, 65536),
    "synthesize.format": _one_of("", "png", "npz", "csv", "parquet", "wav"),
    "synthesize.workers": _between(-1, 256),
    "synthesize.shard_size": _between(1, 10_000_000),
    "synthesize.max_samples": _between(1, 10**12),
    "evaluate.seeds": _between(1, 1000),
    "evaluate.epochs": _between(1, 100_000),
    "evaluate.batch_size": _between(2, 65536),
    "evaluate.lr": _between(0, 1, lo_open=True),
    "evaluate.workers": _between(1, 64),
    "evaluate.synthetic_only_per_class": _between(0, 10_000_000),
    "evaluate.classic": _subset_of("affine", "pad-crop", "crop-flip", "randaugment", "jitter", "scaling",
                                   "magnitude-warp", "time-warp", "window-slice", "window-warp"),
    "evaluate.mixup": ((lambda v: all(0 < a <= 10 for a in v)), "a list of alphas in (0, 10]"),
    "evaluate.mixup_losses": _subset_of("logit-adjust", "drw", empty=False),
    "evaluate.confirm_seeds": _between(0, 1000),
    "evaluate.doses": ((lambda v: all(0 < d <= 100 for d in v)), "a list of ratios in (0, 100]"),
    "evaluate.filter_threshold": _between(0, 1),
    "evaluate.classifiers": _subset_of(*CLASSIFIERS, empty=False),
    "evaluate.fidelity_k": _between(1, 1000),
    "evaluate.reference": ((lambda v: v == "" or (v != "real" and v.startswith("real+"))),
                           "empty or a non-GAN arm's name such as 'real+logit-adjusted'"),
    "evaluate.gan_seeds": _between(1, 1000),
    "data.validation_fraction": _between(0, 1, True, True),
}


def check_recipe(recipe: Recipe, where: str = "recipe") -> Recipe:
    """Raise RecipeError naming the first value outside its range; return `recipe`."""
    for dotted, (ok, wanted) in RULES.items():
        value: Any = recipe
        for part in dotted.split("."):
            value = getattr(value, part)
        if not ok(value):
            raise RecipeError(f"{where}: {dotted} must be {wanted}, got {_shown(value)}")
    ev = recipe.evaluate
    if ev.gan_seeds not in (1, ev.seeds):
        raise RecipeError(f"{where}: evaluate.gan_seeds must be 1 or equal to evaluate.seeds ({ev.seeds}), "
                          f"got {ev.gan_seeds}: each seed uses its own GAN, or all share one")
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
