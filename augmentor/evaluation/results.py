"""Typed results of an evaluation: comparisons, arms, learners, the headline; results.json from them.

The evaluation stage (evaluation/stage.py) returns a `Results`: the engine's entries (evaluation/engine.py, its
wire shape) typed once, with the sections measured after the fits. The report renders it (report/render.py reads
only attributes of these classes), `to_dict` is results.json, and `Results.read` is the one way back from a
results.json (re-rendering, `augmentor calibrate`, `Comparison.read`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


@dataclass(frozen=True)
class Comparison:
    """One paired difference in balanced accuracy (points as fractions), arm minus reference."""

    mean: float
    low: float
    high: float
    p: float
    n: int
    sd: float
    se_seeds: float = math.nan
    se_test: float = 0.0
    df: float = math.nan
    role: str = "exploratory"  # confirmatory | exploratory
    verdict: str = ""  # confirmatory only: helps | hurts | no detectable change | not enough evidence
    p_holm: float = math.nan
    q_bh: float = math.nan
    arm: str = ""
    reference: str = ""
    metric: str = "balanced_accuracy"
    seeds: int = 0  # classifier seeds (n counts GAN trainings where the comparison is made at the GAN level)
    gan_trainings: int = 0  # a GAN arm's: the trained GANs its seeds drew from (0: no GAN arm in it)
    per_gan_seed: tuple = ()  # at the GAN level: per GAN {gan, seeds, mean difference}
    verdict_reason: str = ""  # why a confirmatory comparison reads "not enough evidence"

    @classmethod
    def from_dict(cls, d: dict | None) -> Comparison | None:
        if not d:
            return None
        names = {f.name for f in dataclasses.fields(cls)}
        floats = {"mean", "low", "high", "p", "sd", "se_seeds", "se_test", "df", "p_holm", "q_bh"}
        return cls(**{k: (_num(v) if k in floats else v) for k, v in d.items() if k in names})

    @property
    def has_interval(self) -> bool:
        return not math.isnan(self.low)

    @property
    def holm_interval(self) -> tuple[float, float]:
        """The Holm-adjusted interval of a confirmatory comparison (stats.holm_interval): it excludes 0 exactly
        when the verdict is helps or hurts; NaN for an exploratory one, one below the seeds a verdict needs, or one
        whose GAN samples came from one GAN (stats.verdict)."""
        from .stats import MIN_SEEDS, holm_interval

        if self.role != "confirmatory" or self.n < MIN_SEEDS or self.gan_trainings == 1:
            return math.nan, math.nan  # one GAN: no verdict word, so no interval that agrees with one
        return holm_interval(self.mean, self.low, self.high, self.p, self.p_holm, self.df)

    @property
    def verdict_interval(self) -> tuple[float, float]:
        """The interval to print beside this comparison: Holm-adjusted where it has one, else unadjusted."""
        lo, hi = self.holm_interval
        return (self.low, self.high) if math.isnan(lo) else (lo, hi)


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float


@dataclass(frozen=True)
class ArmSummary:
    accuracy: Summary
    balanced_accuracy: Summary
    macro_f1: Summary
    recall_mean: list[float]
    recall_std: list[float]

    @classmethod
    def from_dict(cls, d: dict) -> ArmSummary:
        return cls(*(Summary(d[m]["mean"], d[m]["std"]) for m in ("accuracy", "balanced_accuracy", "macro_f1")),
                   [_num(v) for v in d["per_class_recall"]["mean"]], [_num(v) for v in d["per_class_recall"]["std"]])


@dataclass(frozen=True)
class ArmResult:
    name: str
    description: str
    kind: str  # reference | baseline | loss | gan
    uses_gan: bool
    classic_augmentation: str
    loss: str
    mixup: float
    seeds: int
    n_train: int
    train_counts: list[int]
    summary: ArmSummary
    validation_summary: ArmSummary
    vs_real: Comparison | None
    vs_reference: Comparison | None
    raw: dict = field(repr=False, default_factory=dict)  # the wire entry, runs included

    @classmethod
    def from_dict(cls, name: str, d: dict) -> ArmResult:
        return cls(name, d["description"], d["kind"], d["uses_gan"], d.get("classic_augmentation") or "",
                   d.get("loss", "ce"), float(d.get("mixup", 0.0)), int(d.get("seeds", len(d["runs"]))),
                   d["n_train"], d["train_counts"], ArmSummary.from_dict(d["summary"]),
                   ArmSummary.from_dict(d["validation_summary"]), Comparison.from_dict(d.get("vs_real")),
                   Comparison.from_dict(d.get("vs_reference")), d)


@dataclass(frozen=True)
class ClassicChoice:
    candidates: list[str]
    chosen: str
    chosen_by: str
    reason: str = ""


@dataclass(frozen=True)
class LearnerResult:
    name: str
    arms: dict[str, ArmResult]
    reference: str | None
    reference_chosen_by: str
    classic: ClassicChoice
    left_out_of_search: list[str]
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def search(self) -> dict:
        """The non-GAN search's record (search.halving): stages, scores, winner, noise; {} for older reports."""
        return self.raw.get("search") or {}

    @property
    def seed_invariant(self) -> bool:
        """Its fits on real data are the same at every seed (e.g. logistic regression): seed refits do not vary."""
        runs = (self.raw.get("arms", {}).get("real") or {}).get("runs") or []
        scores = {r["test"]["balanced_accuracy"] for r in runs}
        return len(runs) > 1 and len(scores) == 1

    @classmethod
    def from_dict(cls, name: str, d: dict) -> LearnerResult:
        c = d.get("classic_augmentation") or {"candidates": [], "chosen": "", "chosen_by": ""}
        return cls(name, {n: ArmResult.from_dict(n, a) for n, a in d["arms"].items()}, d["reference"]["name"],
                   d["reference"]["chosen_by"], ClassicChoice(c["candidates"], c["chosen"], c["chosen_by"],
                                                              c.get("reason", "")),
                   d.get("left_out_of_search", []), d)


@dataclass(frozen=True)
class Headline:
    """The user's question: the best GAN arm against the best arm without a GAN, and against real."""

    classifier: str
    gan_arm: str
    best_non_gan_arm: str
    seeds: int
    balanced_accuracy: dict[str, float]
    verdict: str
    difference: Comparison
    vs_real: Comparison
    chosen_by: str
    family: list[str]
    others: list[Headline] = field(default_factory=list)  # the other learners' headlines
    chosen_on: dict = field(default_factory=dict)  # the scores the two arms were chosen on
    gan_choice_noise: dict | None = None  # the GAN arm's margin on validation over the runner-up GAN arm
    seed_plan: dict | None = None  # how many confirmatory seeds, and the power they reach (evaluation/seed_plan.py)

    @classmethod
    def from_dict(cls, d: dict | None) -> Headline | None:
        if not d:
            return None
        return cls(d["classifier"], d["gan_arm"], d["best_non_gan_arm"], int(d.get("seeds", 0)),
                   d["balanced_accuracy"], d["verdict"], Comparison.from_dict(d["difference"]),
                   Comparison.from_dict(d.get("vs_real") or d["difference"]), d["chosen_by"], d.get("family", []),
                   [cls.from_dict(o) for o in d.get("others", [])], d.get("chosen_on") or {},
                   d.get("gan_choice_noise"), d.get("seed_plan"))


@dataclass(frozen=True)
class Results:
    modality: str
    classes: list[str]
    train_counts: list[int]
    validation_counts: list[int]
    test_counts: list[int]
    protocol: dict
    statistics: dict
    variance_sources: dict[str, bool]
    learners: dict[str, LearnerResult]
    headline: Headline | None
    raw: dict = field(repr=False, default_factory=dict)  # every section, for results.json

    @classmethod
    def from_dict(cls, d: dict) -> Results:
        return cls(d["modality"], d["classes"], d["train_counts"], d["validation_counts"], d["test_counts"],
                   d["protocol"], d["statistics"], d.get("variance_sources") or {},
                   {n: LearnerResult.from_dict(n, r) for n, r in d["classifiers"].items()},
                   Headline.from_dict(d.get("headline")), d)

    @classmethod
    def read(cls, path: str | Path, rejudge: bool = False) -> Results:
        """A report's results.json (`path`: the file or its report folder), typed; with `rejudge`, its confirmatory
        verdicts as today's rules give them (`rejudged`)."""
        path = Path(path)
        path = path / "results.json" if path.is_dir() else path
        d = json.loads(path.read_text())
        return cls.from_dict(rejudged(d) if rejudge else d)

    def with_sections(self, **sections: Any) -> Results:
        """These results with sections added or replaced (versions, timings_s, recipe, budget, calibration,
        statistics, ...); a typed section (classifiers, headline) is not replaced here."""
        typed = {"classifiers", "headline"} & set(sections)
        if typed:
            raise ValueError(f"with_sections: {', '.join(sorted(typed))} are typed; build a new Results instead")
        fields = {f.name for f in dataclasses.fields(self)} - {"raw", "learners", "headline"}
        return dataclasses.replace(self, raw={**self.raw, **sections},
                                   **{k: v for k, v in sections.items() if k in fields})

    def section(self, name: str) -> Any:
        """An optional section (fidelity, memorisation, quality_filter, validity, versions, timings_s)."""
        return self.raw.get(name)

    def to_dict(self) -> dict:
        """results.json: the typed parts written from their fields, the other sections as read."""
        def comparison(c: Comparison | None) -> dict | None:
            if not c:
                return None
            d = dataclasses.asdict(c)
            for key in ("verdict", "p_holm") if c.role == "exploratory" else ("q_bh",):
                d.pop(key)  # an exploratory estimate has no verdict; a confirmatory one no q-value
            for key in ("seeds", "gan_trainings", "per_gan_seed", "verdict_reason"):
                if not d[key]:
                    d.pop(key)  # written where they say something (reports from before them stay as they were)
            return d

        learners = {n: {**lr.raw, "arms": {a: {**arm.raw, "vs_real": comparison(arm.vs_real),
                                                "vs_reference": comparison(arm.vs_reference)}
                                            for a, arm in lr.arms.items()}}
                    for n, lr in self.learners.items()}
        out = {**self.raw, "modality": self.modality, "classes": self.classes, "train_counts": self.train_counts,
               "validation_counts": self.validation_counts, "test_counts": self.test_counts,
               "protocol": self.protocol, "statistics": self.statistics, "variance_sources": self.variance_sources,
               "classifiers": learners}
        def headline(h: Headline) -> dict:
            d = {**dataclasses.asdict(h), "difference": comparison(h.difference), "vs_real": comparison(h.vs_real),
                 "others": [headline(o) for o in h.others]}
            if not h.others:
                d.pop("others")
            for key in ("chosen_on", "gan_choice_noise", "seed_plan"):
                if not d[key]:
                    d.pop(key)
            return d

        if self.headline:
            out["headline"] = headline(self.headline)
        return {k: v for k, v in out.items() if v is not None}


def rejudged(d: dict) -> dict:
    """`d` (a results.json) with its confirmatory verdicts as today's rules give them (stats.verdict), from each
    comparison's stored n, p-values and GAN count — nothing is recomputed but the verdict word and its reason. A
    report from before the GAN count was recorded drew every GAN arm's samples from the GANs its recipe trained
    (`evaluate.gan_seeds`, 1 unless set; a folder of samples given to `augmentor evaluate` is one)."""
    from .stats import verdict, verdict_reason

    if not d.get("headline"):
        return d
    d = copy.deepcopy(d)
    gans = int(((d.get("recipe") or {}).get("evaluate") or {}).get("gan_seeds", 1))
    head = d["headline"]
    for h in [head, *head.get("others", [])]:
        for key in ("difference", "vs_real"):
            c = h.get(key)
            if not c:
                continue
            if "gan_trainings" not in c and gans == 1:
                c["gan_trainings"] = 1
            c["p_holm"] = _num(c.get("p_holm"))
            c["p"] = _num(c.get("p"))
            c["verdict"] = verdict(c, c["p_holm"])
            reason = verdict_reason(c, c["verdict"])
            c.pop("verdict_reason", None)
            if reason:
                c["verdict_reason"] = reason
        h["verdict"] = h["difference"]["verdict"]
    return d
