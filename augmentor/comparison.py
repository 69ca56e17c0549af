"""`compare(X, y, ...)`: the whole judgement `augmentor run DATA` makes — the search, the GAN arms, the
confirmatory family, the statistics, optionally the calibration — from arrays in a notebook, returned as a typed
`Comparison`.

    from augmentor import compare

    result = compare(X, y, learners=["rf", "logreg"], seeds=5)
    result.verdicts["rf"].verdict          # 'no detectable change'
    result.table()                         # a DataFrame: learner x arm x seed x split x metric
    result.best("rf")                      # the arm to use, its settings and its code
    result.to_report("reports/mine")       # the same report.md / report.html / results.json as augmentor run

The arrays are written to a private temporary folder in the forms `augmentor run` reads (images and signals as
.npz, a table as CSV), and the run goes through the same `run_recipe` with the defaults `augmentor run DATA`
picks, so the same data and settings give the same per-seed scores and verdicts as the command line (a test
holds them equal). Splits are made as `augmentor run DATA` makes them unless X_test / X_val are given.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .evaluation.results import Results
from .sampler import modality_of


@dataclass(frozen=True)
class Verdict:
    """One learner's confirmatory answer: its best GAN arm against its best arm without a GAN."""

    learner: str
    verdict: str
    difference: float  # points of balanced accuracy on test
    low: float  # the Holm-adjusted 95 % interval (it excludes 0 exactly when the verdict is helps or hurts)
    high: float
    gan_arm: str
    reference: str
    vs_real: str  # the verdict of the best GAN arm against real data alone


class Comparison:
    """The result of `compare` (and of `augmentor run`, read back with `Comparison.read(folder)`)."""

    def __init__(self, results: Results, files: dict[str, bytes]) -> None:
        self.results, self._files = results, files

    @classmethod
    def read(cls, folder: str | Path) -> Comparison:
        """A report folder `augmentor run` wrote, as a Comparison."""
        folder = Path(folder)
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
        return cls(Results.read(folder), files)

    @property
    def verdicts(self) -> dict[str, Verdict]:
        h = self.results.headline
        out = {}
        for x in [h, *h.others] if h else []:
            d = x.difference
            lo, hi = d.verdict_interval
            out[x.classifier] = Verdict(x.classifier, x.verdict, 100 * d.mean, 100 * lo, 100 * hi, x.gan_arm,
                                        x.best_non_gan_arm, x.vs_real.verdict if x.vs_real else "")
        return out

    def table(self) -> pd.DataFrame:
        """Every fit's scores: one row per learner x arm x seed x split (validation, test) x metric."""
        rows = []
        for learner, res in self.results.learners.items():
            for arm, a in res.arms.items():
                for run in a.raw.get("runs", []):
                    for split in ("validation", "test"):
                        for metric in ("accuracy", "balanced_accuracy", "macro_f1"):
                            rows.append({"learner": learner, "arm": arm, "seed": run["seed"], "split": split,
                                         "metric": metric, "value": run[split][metric]})
        return pd.DataFrame(rows, columns=["learner", "arm", "seed", "split", "metric", "value"])

    def best(self, learner: str | None = None) -> dict[str, Any]:
        """What to use for `learner` (default: the first): the GAN arm where it helps, else the best arm without
        a GAN — its name, settings and, for the best arm without a GAN, its Use-it code."""
        learner = learner or next(iter(self.results.learners))
        if learner not in self.results.learners:
            raise KeyError(f"no learner {learner!r}; learners: {list(self.results.learners)}")
        v = self.verdicts.get(learner)
        res = self.results.learners[learner]
        name = v.gan_arm if v is not None and v.verdict == "helps" else (res.reference or "real")
        a = res.arms[name]
        return {"arm": name, "settings": {"rebalance": a.raw.get("rebalance"), "loss": a.loss,
                                          "classic_augmentation": a.classic_augmentation, "mixup": a.mixup,
                                          "uses_gan": a.uses_gan},
                "use_it": (self.results.section("use_it") or {}).get(learner, "") if not a.uses_gan else ""}

    def to_report(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write the report folder (report.md, report.html, results.json, per_class.csv, figures) atomically;
        an existing folder is replaced only with `overwrite` and only when augmentor wrote it."""
        from .core.atomic import atomic_dir
        from .core.outputs import output_lock, prepare_output, write_marker

        folder = Path(folder)
        with output_lock(folder, "--report"):
            prepare_output(folder, "report", overwrite, "--report")
            with atomic_dir(folder) as tmp:
                write_marker(tmp, "report")
                for name, data in self._files.items():
                    (tmp / name).write_bytes(data)
        return folder / "report.md"

    def _repr_html_(self) -> str:
        from .report.page import answer_html

        body = answer_html(self.results)
        forest = next((n for n in sorted(self._files) if n.startswith("forest-")), None)
        if forest:
            data = base64.b64encode(self._files[forest]).decode()
            body.append(f'<img style="max-width:100%" src="data:image/png;base64,{data}" alt="forest plot">')
        return "\n".join(body)


def compare(X: Any, y: Any, *, X_test: Any = None, y_test: Any = None, X_val: Any = None, y_val: Any = None,
            modality: str = "auto", learners: Sequence[Any] | None = None, seeds: int | None = None,
            epochs: int | None = None, evaluate_epochs: int | None = None, random_state: int = 0,
            device: str = "cpu", calibrate: bool = False, progress: bool = False,
            budget: str | float | None = None) -> Comparison:
    """Judge the GAN's samples on (X, y) as `augmentor run DATA` does, in a notebook. `learners`: what
    `--learner` takes (names, import paths) and estimator objects (fit / predict_proba); `seeds`, `epochs`
    (the GAN's), `evaluate_epochs` (the classifiers', as given: no step floor or steps pilot): overrides of the
    defaults; `calibrate`: also measure the
    verdicts' level and power (`augmentor calibrate`); `budget`: `--budget`'s time ("20m", or seconds) for the
    run (not the calibration). Arrays as GANOverSampler takes them."""
    import time

    started = time.perf_counter()
    from .config.defaults import default_recipe
    from .config.recipe import with_overrides
    from .evaluation.budget import parse_budget
    from .pipeline import calibrate_recipe, run_recipe
    from .registry import load_dataset

    seconds = None if budget is None else parse_budget(f"{budget}s" if isinstance(budget, (int, float)) else budget)

    if (X_test is None) != (y_test is None) or (X_val is None) != (y_val is None):
        raise ValueError("give X_test with y_test, and X_val with y_val")
    kind = modality_of(X, modality)
    objects = [o for o in (learners or []) if not isinstance(o, str)]  # estimator objects: run_recipe(learners=)
    names = [s for s in (learners or []) if isinstance(s, str)]  # what --learner takes
    with tempfile.TemporaryDirectory(prefix="augmentor-compare-") as tmp:
        root = Path(tmp)
        label = "label" if not hasattr(X, "columns") or "label" not in X.columns else "augmentor_label"
        train = _write(root / "train", X, y, kind, label)
        test = _write(root / "test", X_test, y_test, kind, label) if X_test is not None else ""
        val = _write(root / "validation", X_val, y_val, kind, label) if X_val is not None else ""
        loaded = load_dataset(train, label=label)
        r = with_overrides(default_recipe(train, loaded, label=label), {
            "data.test": test or None, "data.validation": val or None, "train.epochs": epochs,
            "evaluate.seeds": seeds, "evaluate.epochs": evaluate_epochs, "train.seed": random_state,
            "evaluate.learners": names or None, "out": str(root / "run"), "report": str(root / "report")})
        if evaluate_epochs is not None:  # as `--evaluate-epochs`: the budget as given, no floor, no steps pilot
            r = with_overrides(r, {"evaluate.min_steps": 0, "evaluate.step_multipliers": []})
        run_recipe(r, device=device, progress=progress, learners=objects, loaded=loaded, budget=seconds,
                   started=started)
        if calibrate:
            calibrate_recipe(r, device=device)
        return Comparison.read(root / "report")


def _write(stem: Path, X: Any, y: Any, kind: str, label: str) -> str:
    """The arrays in the form `augmentor run` reads: a CSV with a label column, or an .npz of x and y."""
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"{stem.name}: X has {len(X)} samples but y has {len(y)} labels")
    if kind == "table":
        frame = X.reset_index(drop=True).copy() if hasattr(X, "iloc") else pd.DataFrame(np.asarray(X))
        frame.columns = [str(c) for c in frame.columns]
        frame[label] = y
        frame.to_csv(stem.with_suffix(".csv"), index=False)
        return str(stem.with_suffix(".csv"))
    x = np.asarray(X)
    if kind == "image" and x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        x = np.moveaxis(x, 3, 1)  # N x H x W x C -> N x C x H x W
    extra = {"modality": np.asarray("signal")} if kind == "signal" else {}
    np.savez(stem.with_suffix(".npz"), x=x, y=y.astype(str), **extra)
    return str(stem.with_suffix(".npz"))
