"""A time budget for a run (`augmentor run --budget 20m`, issue 50): a measured pilot, then a plan that fits it.

The pilot (`pilot.measure`) times the GAN at short lengths (a line through them gives its fixed cost and its seconds
per step), one ONNX export, and one fit per learner of `real` and of the grid's first rebalancing cell at the steps
it will use (the slower of the two is the price of every fit). From those and the recipe, `estimate` gives each stage's
seconds: the GAN (times `gan_seeds`), the evaluation's fits (the search, the GAN and self-training arms, the
confirmatory refits, the seed plan's extra seeds at most, the steps pilot, each at the largest step multiple it
may choose), and the stages around them. `plan` then cuts, in a fixed order from what costs the answer least to
what costs it most, until the run's estimate is within `MARGIN` of the budget:

  1. the seed plan's extra seeds (power), 2. the steps pilot's largest multiples, 3. the exploratory GAN arms
  (doses, fresh-every-epoch, filtered, synthetic-only), 4. the search's second stage (2 cells at every seed),
  5. the confirmatory seeds (to 3) and the search's seeds (to 2), 6. the GAN's steps (to a quarter), 7. extra GANs
  (`gan_seeds` to 1: its GAN arms then get no verdict word), 8. the mixup alphas, 9. the teacher settings (the
  first of each), 10. learners after the first;

and gives back the seed plan's seeds and the GAN's steps as far as they still fit. A plan that cannot fit after
every cut is refused before any work, with the smallest estimate. The same seeds give the same plan on one machine
only up to the pilot's timings: the report records the pilot, the estimate, what was cut and how long the run took.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..config.recipe import EvaluateConfig, Recipe
from ..core.errors import RecipeError
from .arms import Dataset, gan_sources, grid_arms
from .engine import planned_fits
from .search import merge_same_fits
from .stats import MIN_SEEDS

MARGIN = 0.9  # the plan aims at this share of the budget: the pilot's timings are estimates
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """'90s', '20m', '1.5h', '1h30m' -> seconds (a bare number is minutes, as AutoML tools count them)."""
    spec = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", spec):
        spec += "m"
    parts = re.findall(r"(\d+(?:\.\d+)?)([smh])", spec)
    if not spec or "".join(f"{n}{u}" for n, u in parts) != spec:
        raise RecipeError(f"--budget {text!r}: give a time such as 90s, 20m, 1.5h or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise RecipeError(f"--budget {text!r}: the budget must be more than 0")
    return seconds


@dataclasses.dataclass(frozen=True)
class Costs:
    """What the pilot measured: the GAN's fixed seconds and seconds per step; per learner, the seconds of one fit at
    its planned steps (x1) and how many of its fits run side by side; the other stages' seconds (estimated)."""

    gan_fixed_s: float
    gan_step_s: float
    fit_s: Mapping[str, float]
    parallel: Mapping[str, float]
    pilot_s: float
    export_s: float = 0.0  # one GAN's ONNX export and its check


@dataclasses.dataclass
class Shape:
    """What the evaluation's size depends on besides the recipe: the data, the learners and the modality."""

    train: Dataset
    learners: Sequence  # the modality's learners, built as the evaluation builds them
    networks: set[str]  # learners with a step budget (the steps pilot applies to them)
    target: np.ndarray
    folds: bool  # choices by k-fold cross-validation (validation is small)
    guided: bool  # fresh-every-epoch arms exist (images)
    filtered: bool  # a quality-filtered arm exists (images with a filter threshold)
    pool: bool  # an unlabelled pool: self-training arms
    gan_steps_per_epoch: int
    axes: Callable[[EvaluateConfig], dict]  # the grid's axes for a recipe (stage.grid_axes)
    specs: Callable[[EvaluateConfig], Sequence[str]]  # the learner specs a recipe names, in `learners`' order
    objects: Sequence = ()  # a user's learner objects (compare(), run_recipe(learners=)): always fitted, never cut

    def fitted(self, ev: EvaluateConfig) -> list:
        """The learners the evaluation fits for `ev`: the recipe's (a prefix, after "learners after the first"), or
        none of the modality's defaults where objects replace them; then the objects."""
        named = self.learners[:len(self.specs(ev))] if ev.learners or not self.objects else []
        return [*named, *self.objects]

    def cells(self, ev: EvaluateConfig, learner) -> int:
        grid = grid_arms(self.train, self.target, **self.axes(ev))
        grid = [a for a in grid if a.name not in ev.exclude]
        return len(merge_same_fits(grid, learner))


def _teacher_plans(ev: EvaluateConfig) -> int:
    return len(ev.teacher_weight) * len(ev.teacher_join) * len(ev.teacher_max_share)


def gan_arm_names(ev: EvaluateConfig, shape: Shape) -> list[str]:
    """The GAN arms' names before the winner's setting, as the evaluation builds them (stage.gan_sources)."""
    made = gan_sources(ev, synthetic=True, filtered=shape.filtered, doses=dict.fromkeys(ev.doses, True),
                       online=shape.guided, teacher=ev.teacher_pool > 0 and ev.baselines, synthetic_only=True)
    return [n for n, v in made.items() if v and n not in ev.exclude]


def fit_units(ev: EvaluateConfig, shape: Shape, learner) -> float:
    """The fits of one learner, in units of one fit at its x1 steps: the steps pilot, then the evaluation at the
    largest multiple the pilot may choose (the search, GAN and self-training arms, confirmatory refits, and at most
    the seed plan's extra seeds)."""
    multiples = sorted({int(m) for m in ev.step_multipliers}) if learner.name in shape.networks else []
    multiples = multiples if len(multiples) > 1 else [1]
    pilot = 2 * ev.seeds * sum(multiples) if len(multiples) > 1 else 0
    arms = gan_arm_names(ev, shape)
    teacher = _teacher_plans(ev) * (2 if shape.pool and ev.self_training else 1) - 1
    extra_arms = (teacher if "real+synthetic (teacher)" in arms else 0)
    extra_arms += _teacher_plans(ev) if shape.pool and ev.self_training else 0
    confirm = max(ev.seeds, ev.confirm_seeds)
    folds = ev.folds if shape.folds else 1
    base = planned_fits(shape.cells(ev, learner), 1, ev.seeds, confirm, ev.search_keep, folds,
                        len(arms) + extra_arms) + (2 * ev.seeds if folds > 1 else 0)
    extra = 0.0
    if ev.confirm_power > 0 and confirm >= MIN_SEEDS:  # at most: the cap, or the budget in fits
        extra = min(3 * max(0, ev.max_confirm_seeds - confirm), ev.confirm_budget * base)
    return pilot + multiples[-1] * (base + extra)


def estimate(recipe: Recipe, costs: Costs, shape: Shape, gan_done: bool = False) -> dict[str, float]:
    """Seconds per stage for `recipe` (the GAN's left out once it is trained)."""
    ev = recipe.evaluate
    gan_steps = recipe.train.epochs * shape.gan_steps_per_epoch
    gan = 0.0 if gan_done else ev.gan_seeds * (costs.gan_fixed_s + costs.gan_step_s * gan_steps)
    learners = shape.fitted(ev)
    fits = {lr.name: costs.fit_s[lr.name] * fit_units(ev, shape, lr) / costs.parallel[lr.name] for lr in learners}
    evaluate = sum(fits.values())
    exports = 0.0 if gan_done else ev.gan_seeds * costs.export_s
    other = exports + 8.0 + 0.05 * (gan + evaluate)  # + synthesis, fidelity, memorisation, the report (not measured)
    return {"gan": gan, "evaluate": evaluate, "other": other, **{f"fits: {n}": s for n, s in fits.items()}}


def _total(est: Mapping[str, float]) -> float:
    return est["gan"] + est["evaluate"] + est["other"]


def _cuts(recipe: Recipe, shape: Shape) -> list[tuple[str, Callable[[Recipe], Recipe]]]:
    """The cuts in order, each a function of the current recipe."""
    def ev_(r: Recipe, **kw) -> Recipe:
        return dataclasses.replace(r, evaluate=dataclasses.replace(r.evaluate, **kw))

    def fewer_multiples(r: Recipe) -> Recipe:
        ms = sorted(set(r.evaluate.step_multipliers))
        return ev_(r, step_multipliers=tuple(ms[:-1]) if len(ms) > 2 else ())

    exploratory = ("real+synthetic (filtered)", "real+online-synthetic", "synthetic-only")

    def no_exploratory(r: Recipe) -> Recipe:
        doses = tuple(f"real+synthetic x{d:g}" for d in r.evaluate.doses)
        names = [n for n in (*doses, *exploratory) if n in gan_arm_names(r.evaluate, shape)]
        return ev_(r, exclude=tuple(dict.fromkeys((*r.evaluate.exclude, *names))))

    def fewer_gan_steps(r: Recipe) -> Recipe:
        floor = max(1, math.ceil(recipe.train.epochs / 4))
        return dataclasses.replace(r, train=dataclasses.replace(r.train, epochs=max(floor, r.train.epochs // 2)))

    def first_learner(r: Recipe) -> Recipe:
        specs = tuple(shape.specs(r.evaluate))
        if shape.objects and not r.evaluate.learners:
            return r  # the objects replace the modality's defaults: nothing of the recipe's to cut
        return ev_(r, learners=specs[:1]) if len(specs) > 1 else r

    return [
        ("the seed plan's extra seeds", lambda r: ev_(r, max_confirm_seeds=max(r.evaluate.seeds,
                                                                                 r.evaluate.confirm_seeds))),
        ("the steps pilot's largest multiple", fewer_multiples),
        ("the steps pilot's largest multiple", fewer_multiples),
        ("the exploratory GAN arms (doses, fresh-every-epoch, filtered, synthetic-only)", no_exploratory),
        ("the search's second stage (2 cells at every seed)", lambda r: ev_(r, search_keep=0.0)),
        ("the confirmatory seeds (to 3)", lambda r: ev_(r, confirm_seeds=min(r.evaluate.confirm_seeds,
                                                                            max(MIN_SEEDS, 1)))),
        ("the search's seeds (to 2)", lambda r: ev_(r, seeds=min(r.evaluate.seeds, 2))),
        *[("the GAN's steps (halved, at most to a quarter)", fewer_gan_steps)] * 2,
        # one GAN: its arms get no verdict word (stats.verdict), so the GANs go only after the GAN's steps
        ("extra GANs (gan_seeds; one GAN gives no verdict word)", lambda r: dataclasses.replace(
            r, evaluate=dataclasses.replace(r.evaluate, gan_seeds=1)) if r.evaluate.gan_seeds > 1 else r),
        ("the mixup alphas", lambda r: ev_(r, mixup=())),
        ("the teacher settings (the first of each)", lambda r: ev_(
            r, teacher_weight=r.evaluate.teacher_weight[:1], teacher_join=r.evaluate.teacher_join[:1],
            teacher_max_share=r.evaluate.teacher_max_share[:1])),
        ("learners after the first", first_learner),
    ]


_FIELDS = {  # the settings each cut changes (a cut that was given back is not reported)
    "the seed plan's extra seeds": ["evaluate.max_confirm_seeds"],
    "the steps pilot's largest multiple": ["evaluate.step_multipliers"],
    "the exploratory GAN arms (doses, fresh-every-epoch, filtered, synthetic-only)": ["evaluate.exclude"],
    "extra GANs (gan_seeds; one GAN gives no verdict word)": ["evaluate.gan_seeds"],
    "the search's second stage (2 cells at every seed)": ["evaluate.search_keep"],
    "the confirmatory seeds (to 3)": ["evaluate.confirm_seeds"],
    "the search's seeds (to 2)": ["evaluate.seeds"],
    "the GAN's steps (halved, at most to a quarter)": ["train.epochs"],
    "the mixup alphas": ["evaluate.mixup"],
    "the teacher settings (the first of each)": ["evaluate.teacher_weight", "evaluate.teacher_join",
                                                 "evaluate.teacher_max_share"],
    "learners after the first": ["evaluate.learners"],
}


def still_cut(cuts: Sequence[str], changed: Mapping[str, list]) -> list[str]:
    """The cuts (in order, once each) whose settings still differ from the recipe's."""
    return [c for c in dict.fromkeys(cuts) if set(_FIELDS[c]) & set(changed)]


def changes(before: Recipe, after: Recipe) -> dict[str, list]:
    """Every `train` and `evaluate` setting that differs: {"evaluate.seeds": [5, 2]}."""
    out = {}
    for section in ("train", "evaluate"):
        a, b = getattr(before, section), getattr(after, section)
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if x != y:
                out[f"{section}.{f.name}"] = [_plain(x), _plain(y)]
    return out


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def plan(recipe: Recipe, costs: Costs, shape: Shape, budget_s: float, spent_s: float = 0.0,
         gan_done: bool = False) -> tuple[Recipe, dict]:
    """The recipe cut to fit `budget_s` (of which `spent_s` is gone), and the record of what was cut. Before any work
    (`gan_done` False) a budget that no plan fits is refused; once the GAN is trained, the evaluation takes every cut
    it needs and the record says when even that is over the budget."""
    room = MARGIN * budget_s - spent_s
    current, cuts = recipe, []
    for what, cut in _cuts(recipe, shape):
        now = _total(estimate(current, costs, shape, gan_done))
        if now <= room:
            break
        if gan_done and any(f.startswith("train.") or f == "evaluate.gan_seeds" for f in _FIELDS[what]):
            continue  # the GAN is trained: its cuts save nothing now
        after = cut(current)
        if _total(estimate(after, costs, shape, gan_done)) < now:  # a cut that saves nothing is not made
            current = after
            if what not in cuts:
                cuts.append(what)
    smallest = _total(estimate(current, costs, shape, gan_done))
    if smallest > room and not gan_done:
        raise RecipeError(
            f"--budget {_minutes(budget_s)}: even with every cut ({'; '.join(cuts) or 'none'}) the run is estimated "
            f"at {_minutes(smallest / MARGIN + spent_s)} on this machine (pilot: {costs.pilot_s:.0f} s); give at least "
            "that, or run without --budget")
    current = _give_back(recipe, current, costs, shape, room, gan_done)
    changed = changes(recipe, current)
    cuts = still_cut(cuts, changed)  # what was given back is not a cut
    est = estimate(current, costs, shape, gan_done)
    record = {"budget_s": budget_s, "spent_before_s": spent_s, "aim": MARGIN,
              "estimate_s": {k: round(v, 1) for k, v in est.items()}, "estimated_total_s": round(_total(est) + spent_s,
                                                                                                   1),
              "cuts": cuts, "changed": changed, "over_budget": bool(smallest > room),
              "pilot": {"gan_fixed_s": round(costs.gan_fixed_s, 2), "gan_step_s": round(costs.gan_step_s, 5),
                        "export_s": round(costs.export_s, 1),
                        "fit_s": {k: round(v, 2) for k, v in costs.fit_s.items()},
                        "parallel": dict(costs.parallel), "seconds": round(costs.pilot_s, 1)}}
    return current, record


def _give_back(recipe: Recipe, current: Recipe, costs: Costs, shape: Shape, room: float, gan_done: bool) -> Recipe:
    """The GAN's steps and the seed plan's cap raised back, one at a time, as far as the estimate stays in `room`."""
    def fits(r: Recipe) -> bool:
        return _total(estimate(r, costs, shape, gan_done)) <= room

    for epochs in range(recipe.train.epochs, current.train.epochs, -max(1, recipe.train.epochs // 20)):
        r = dataclasses.replace(current, train=dataclasses.replace(current.train, epochs=epochs))
        if fits(r):
            current = r
            break
    for most in range(recipe.evaluate.max_confirm_seeds, current.evaluate.max_confirm_seeds, -1):
        r = dataclasses.replace(current, evaluate=dataclasses.replace(current.evaluate, max_confirm_seeds=most))
        if fits(r):
            current = r
            break
    return current


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def describe(record: Mapping) -> list[str]:
    """The plan in lines for the console and the report."""
    est = record["estimate_s"]
    lines = [f"budget {_minutes(record['budget_s'])}: the plan is estimated at {_minutes(record['estimated_total_s'])} "
             f"(GAN {_minutes(est['gan'])}, evaluation {_minutes(est['evaluate'])}, other stages "
             f"{_minutes(est['other'])}; pilot {record['pilot']['seconds']:.0f} s, aiming at {MARGIN:.0%} of the "
             "budget)"]
    if record["cuts"]:
        lines.append("cut to fit: " + "; ".join(record["cuts"]))
        lines += [f"  {k}: {shown(a)} -> {shown(b)}" for k, (a, b) in record["changed"].items()]
    else:
        lines.append("nothing cut: the recipe fits the budget as it is")
    return lines


def shown(v) -> str:
    """A setting's value as the plan and the report print it: a list as its items, an empty one as "none"."""
    return ", ".join(map(str, v)) or "none" if isinstance(v, list) else str(v)
