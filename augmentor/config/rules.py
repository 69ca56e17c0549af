"""The range of every recipe value (recipe.py checks each when a recipe is read, before any work)."""

from __future__ import annotations

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


def _candidates(ok, text: str):
    """A number or a non-empty list of distinct numbers, each `ok` (a setting with candidates)."""
    return (lambda v: len(v) > 0 and len(set(v)) == len(v) and all(ok(x) for x in v)), \
        f"a number {text}, or a non-empty list of distinct ones"


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
    from ..core.names import name_problem

    return name_problem(v) is None


def _strategy(v: str) -> bool:
    from ..core.errors import GapPlanError
    from ..core.gaps import check_strategy

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
    "train.unlabelled_weight": _between(0, 100),
    "train.guidance_steps": _between(1, 1_000_000),
    "train.guidance_start": _between(0, 1),
    "evaluate.online_ratio": _between(0, 100),
    "evaluate.online_weight": _between(0, 100, lo_open=True),
    "evaluate.online_refresh": _between(0, 1, lo_open=True),
    "evaluate.teacher_pool": _between(0, 100),
    "evaluate.teacher_temperature": _between(0, 100),
    "evaluate.teacher_weight": _candidates(*_between(0, 100, lo_open=True)),
    "evaluate.teacher_join": _candidates(*_between(0, 1, hi_open=True)),
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
    "evaluate.ray": ((lambda v: isinstance(v, str) and len(v) <= 200 and (v in ("", "local", "auto") or ":" in v)),
                     "empty, 'local', 'auto' or a Ray cluster address HOST:PORT (ray://HOST:PORT)"),
    "evaluate.synthetic_only_per_class": _between(0, 10_000_000),
    "evaluate.classic": _subset_of("affine", "pad-crop", "crop-flip", "randaugment", "jitter", "scaling",
                                   "magnitude-warp", "time-warp", "window-slice", "window-warp"),
    "evaluate.mixup": ((lambda v: all(0 < a <= 10 for a in v)), "a list of alphas in (0, 10]"),
    "evaluate.rebalancing": _subset_of("none", "oversample", "smote", "reweight", "logit-adjust", "drw"),
    "evaluate.search_keep": _between(0, 1, lo_open=True),
    "evaluate.folds": _between(0, 20),
    "evaluate.fold_below": _between(0, 1_000_000),
    "evaluate.confirm_seeds": _between(0, 1000),
    "evaluate.confirm_power": _between(0, 1, hi_open=True),
    "evaluate.min_steps": _between(0, 10_000_000),
    "evaluate.step_multipliers": ((lambda v: all(1 <= m <= 64 and m == int(m) for m in v)),
                                  "a list of whole multiples from 1 to 64 (e.g. [1, 2, 4]); empty: no check"),
    "evaluate.power_effect": _between(0, 100, lo_open=True),
    "evaluate.max_confirm_seeds": _between(1, 1000),
    "evaluate.confirm_budget": _between(0, 100),
    "evaluate.doses": ((lambda v: all(0 < d <= 100 for d in v)), "a list of ratios in (0, 100]"),
    "evaluate.filter_threshold": _between(0, 1),
    "evaluate.classifiers": ((lambda v: len(v) > 0 and all(c in CLASSIFIERS or ":" in c for c in v)),
                             f"a non-empty list of {', '.join(CLASSIFIERS)} or import paths 'package.module:Name'"),
    "evaluate.learners": ((lambda v: all(isinstance(c, str) and c.strip() and len(c) <= 1000 for c in v)
                           and len(set(v)) == len(v)),
                          "a list of distinct learner names or import paths 'package.module:Class(key=value)', "
                          "each at most 1000 characters"),
    "evaluate.fidelity_k": _between(1, 1000),
    "evaluate.reference": ((lambda v: v == "" or (v != "real" and v.startswith("real+"))),
                           "empty or a non-GAN arm's name such as 'real+logit-adjusted'"),
    "evaluate.gan_seeds": _between(1, 1000),
    "data.validation_fraction": _between(0, 1, True, True),
}
