"""Did the synthetic data help? Train the same classifier on each arm, test on real data.

Arms (each only when its inputs are given):
  real                        the (imbalanced) real training split as given
  real+oversampled            random over-sampling (imbalanced-learn) to the target counts
  real+SMOTE                  SMOTE on flattened pixels to the target counts
  real+classic                classic augmentation (affine + TrivialAugment/RandAugment)
  real+classic+oversampled    both
  real+synthetic              real + GAN samples filling the gaps (the target counts)
  real+synthetic+classic      GAN data on top of classic augmentation
  real+synthetic xR           real + round(R x count) GAN samples per class (dose-response)
  real+synthetic (filtered)   gap-filling GAN samples that passed the quality filter
  synthetic-only              GAN samples only, class-balanced: the Classification Accuracy
                              Score (train on synthetic, test on real)

The target counts are those of real+synthetic (else every class at the majority count).
Every arm gets the same classifier, the same number of gradient steps and the same seeds,
and is tested on the same held-out split of real data only. Each arm is compared with
`real`, and each GAN arm with the best non-GAN baseline, by the paired difference across
seeds with a 95 % bootstrap interval.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score
from tqdm import tqdm

from .classifiers import TABLE_CLASSIFIERS, classic_augmentation, embed, fit_cnn, predict_proba, table_classifier
from .data import LabelledData, align_classes
from .fidelity import fidelity
from .stats import paired_difference, verdict
from .tables import TableData

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")
BASELINES = ("real+oversampled", "real+SMOTE", "real+classic", "real+classic+oversampled")


@dataclass(frozen=True)
class Arm:
    name: str
    description: str
    make: Callable[[int], tuple[np.ndarray, np.ndarray]]  # seed -> (x, y)
    classic: bool = False
    synthetic: bool = False


def oversample(train: LabelledData, target: np.ndarray, seed: int, method: str = "random"):
    strategy = {c: int(n) for c, n in enumerate(target) if n > 0}
    if method == "smote":
        k = int(min(5, np.bincount(train.y).min() - 1))
        sampler = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
        x, y = sampler.fit_resample(train.x.reshape(len(train), -1), train.y)
        return x.reshape(-1, *train.shape).astype(np.float32), y
    sampler = RandomOverSampler(sampling_strategy=strategy, random_state=seed)
    idx, y = sampler.fit_resample(np.arange(len(train)).reshape(-1, 1), train.y)
    return train.x[idx.ravel()], y


def build_arms(train: LabelledData, *, synthetic: LabelledData | None = None,
               synthetic_only: LabelledData | None = None,
               doses: dict[float, LabelledData] | None = None,
               filtered: LabelledData | None = None, baselines: bool = True) -> list[Arm]:
    k = len(train.classes)

    def plus(extra: LabelledData):
        extra = align_classes(extra, train.classes)
        x, y = np.concatenate([train.x, extra.x]), np.concatenate([train.y, extra.y])
        return lambda seed: (x, y)

    counts = np.bincount(train.y, minlength=k)
    if synthetic is not None:
        target = counts + np.bincount(align_classes(synthetic, train.classes).y, minlength=k)
    else:
        target = np.full(k, counts.max())
    real = (train.x, train.y)
    arms = [Arm("real", "real training split as given", lambda seed: real)]
    if baselines:
        arms += [
            Arm("real+oversampled", "random over-sampling to the target counts",
                lambda seed: oversample(train, target, seed)),
            Arm("real+SMOTE", "SMOTE (flattened pixels) to the target counts",
                lambda seed: oversample(train, target, seed, "smote")),
            Arm("real+classic", "classic augmentation on the fly", lambda seed: real, classic=True),
            Arm("real+classic+oversampled", "classic augmentation + random over-sampling",
                lambda seed: oversample(train, target, seed), classic=True),
        ]
    if synthetic is not None:
        arms.append(Arm("real+synthetic", "real + GAN samples filling the gaps", plus(synthetic),
                        synthetic=True))
        if baselines:
            arms.append(Arm("real+synthetic+classic", "GAN gap-filling + classic augmentation",
                            plus(synthetic), classic=True, synthetic=True))
    for ratio, data in sorted((doses or {}).items()):
        arms.append(Arm(f"real+synthetic x{ratio:g}", f"real + {ratio:.0%} more per class from the GAN",
                        plus(data), synthetic=True))
    if filtered is not None:
        arms.append(Arm("real+synthetic (filtered)", "gap-filling GAN samples that passed the "
                        "quality filter", plus(filtered), synthetic=True))
    if synthetic_only is not None:
        so = align_classes(synthetic_only, train.classes)
        arms.append(Arm("synthetic-only", "GAN samples only, class-balanced (Classification "
                        "Accuracy Score)", lambda seed: (so.x, so.y), synthetic=True))
    return arms


def score(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    labels = list(range(n_classes))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class_recall": [float(r) for r in recall_score(y_true, y_pred, labels=labels,
                                                            average=None, zero_division=0)],
    }


def evaluate(train: LabelledData, test: LabelledData, *, synthetic: LabelledData | None = None,
             synthetic_only: LabelledData | None = None,
             doses: dict[float, LabelledData] | None = None, filtered: LabelledData | None = None,
             seeds: int = 3, epochs: int = 30, batch_size: int = 64, lr: float = 1e-3,
             device: str = "cpu", progress: bool = True, baselines: bool = True,
             classic: str = "randaugment", flips: bool = False, fidelity_k: int = 5,
             n_resamples: int = 10_000) -> dict:
    """Train the classifier on every arm for every seed; return all numbers as a dict."""
    test = align_classes(test, train.classes)
    k = len(train.classes)
    steps = epochs * math.ceil(len(train) / batch_size)
    arms = build_arms(train, synthetic=synthetic, synthetic_only=synthetic_only, doses=doses,
                      filtered=filtered, baselines=baselines)
    augment = classic_augmentation(classic, flips) if baselines else None
    runs: dict[str, list[dict]] = {a.name: [] for a in arms}
    info: dict[str, dict] = {}
    bar = tqdm(total=len(arms) * seeds, desc="evaluate", unit="fit", disable=not progress)
    for seed in range(seeds):
        for arm in arms:
            x, y = arm.make(seed)
            model = fit_cnn(x, y, k, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                            device=device, augment=augment if arm.classic else None)
            pred = predict_proba(model, test.x).argmax(1)
            runs[arm.name].append({"seed": seed, **score(test.y, pred, k)})
            info[arm.name] = {"description": arm.description, "n_train": int(len(y)),
                              "train_counts": np.bincount(y, minlength=k).tolist(),
                              "classic_augmentation": arm.classic, "uses_gan": arm.synthetic}
            bar.update(1)
    bar.close()
    results = {
        "classes": list(train.classes),
        "test_counts": np.bincount(test.y, minlength=k).tolist(),
        "train_counts": np.bincount(train.y, minlength=k).tolist(),
        "protocol": {"seeds": seeds, "epochs": epochs, "steps_per_arm": steps,
                     "batch_size": batch_size, "lr": lr, "classifier": "SmallCNN",
                     "classic_augmentation": classic, "flips": flips, "device": device,
                     "bootstrap_resamples": n_resamples, "python": platform.python_version()},
        "arms": {name: {**info[name], "runs": r, "summary": summarize(r)} for name, r in runs.items()},
    }
    compare(results, n_resamples)
    results["fidelity"] = fidelity_report(train, test, {"synthetic (gap-filling)": synthetic,
                                                        "synthetic (filtered)": filtered,
                                                        "synthetic-only": synthetic_only},
                                          steps, batch_size, lr, device, fidelity_k)
    return results


def summarize(runs: list[dict]) -> dict:
    out = {}
    for m in METRICS:
        v = np.array([r[m] for r in runs])
        out[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
    recall = np.array([r["per_class_recall"] for r in runs])
    out["per_class_recall"] = {"mean": recall.mean(0).tolist(),
                               "std": (recall.std(0, ddof=1) if len(recall) > 1
                                       else np.zeros(recall.shape[1])).tolist()}
    return out


def compare(results: dict, n_resamples: int, metric: str = "balanced_accuracy",
            baselines: tuple[str, ...] = BASELINES) -> None:
    """Add to each arm its paired difference (and verdict) against real and best baseline."""
    arms = results["arms"]

    def values(name: str) -> np.ndarray:
        return np.array([r[metric] for r in arms[name]["runs"]])

    present = [b for b in baselines if b in arms]
    best = max(present, key=lambda b: values(b).mean()) if present else None
    results["best_baseline"] = best
    for name, arm in arms.items():
        if name != "real":
            d = paired_difference(values(name), values("real"), n_resamples=n_resamples)
            arm["vs_real"] = {**d, "verdict": verdict(d), "metric": metric}
        if best and arm["uses_gan"]:
            d = paired_difference(values(name), values(best), n_resamples=n_resamples)
            arm["vs_best_baseline"] = {**d, "verdict": verdict(d), "baseline": best, "metric": metric}


def fidelity_report(train: LabelledData, test: LabelledData, sets: dict[str, LabelledData | None],
                    steps: int, batch_size: int, lr: float, device: str, k: int) -> dict:
    """Fidelity of each synthetic set against the real test split, in the feature space of
    a classifier trained on the real training split."""
    sets = {name: align_classes(s, train.classes) for name, s in sets.items() if s is not None}
    if not sets:
        return {}
    model = fit_cnn(train.x, train.y, len(train.classes), steps=steps, batch_size=batch_size,
                    lr=lr, seed=0, device=device)
    real_f = embed(model, test.x)
    return {name: fidelity(real_f, test.y, embed(model, s.x), s.y, train.classes, k)
            for name, s in sets.items()}


# --- tables ----------------------------------------------------------------------------------

TABLE_BASELINES = ("real+oversampled", "real+SMOTE")


def oversample_table(train: TableData, target: np.ndarray, seed: int, method: str = "random"):
    """Random over-sampling, or SMOTE / SMOTENC (with categorical columns), to `target` counts."""
    strategy = {c: int(n) for c, n in enumerate(target) if n > 0}
    if method == "random":
        sampler = RandomOverSampler(sampling_strategy=strategy, random_state=seed)
        idx, y = sampler.fit_resample(np.arange(len(train)).reshape(-1, 1), train.y)
        return train.x.iloc[idx.ravel()].reset_index(drop=True), y
    k = int(min(5, np.bincount(train.y).min() - 1))
    cats = [train.x.columns.get_loc(c) for c in train.categorical]
    if cats and len(cats) == train.x.shape[1]:
        from imblearn.over_sampling import SMOTEN

        sampler = SMOTEN(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    elif cats:
        from imblearn.over_sampling import SMOTENC

        sampler = SMOTENC(categorical_features=cats, sampling_strategy=strategy, k_neighbors=k,
                          random_state=seed)
    else:
        sampler = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    x, y = sampler.fit_resample(train.x, train.y)
    return pd.DataFrame(x, columns=train.x.columns).astype(train.x.dtypes.to_dict()), y


def synthetic_validity(train: TableData, synthetic: TableData) -> dict:
    """Does every synthetic row look like a row of the training table? Seen categories
    only, integer columns integral, numeric values inside the observed range."""
    out = {"rows": len(synthetic), "unseen_categories": {}, "non_integral": {}, "out_of_range": {}}
    for c in train.x.columns:
        real, fake = train.x[c], synthetic.x[c]
        if c in train.categorical:
            bad = int((~fake.isin(set(real.tolist()))).sum())
            if bad:
                out["unseen_categories"][c] = bad
            continue
        v = fake.to_numpy(np.float64)
        if c in train.integer and (bad := int((v != np.round(v)).sum())):
            out["non_integral"][c] = bad
        if bad := int(((v < real.min()) | (v > real.max())).sum()):
            out["out_of_range"][c] = bad
    out["valid"] = not (out["unseen_categories"] or out["non_integral"] or out["out_of_range"])
    return out


def evaluate_table(train: TableData, test: TableData, *, synthetic: list[TableData] | None = None,
                   synthetic_only: list[TableData] | None = None,
                   classifiers: tuple[str, ...] = TABLE_CLASSIFIERS, seeds: int = 5,
                   progress: bool = True, fidelity_k: int = 5, n_resamples: int = 10_000) -> dict:
    """Every arm x classifier x seed for a table; tested on the real test split only.

    `synthetic[s]` / `synthetic_only[s]` are the GAN samples drawn with generation seed s
    (a list of one is reused for every seed). Seed s also seeds over-sampling, SMOTE and
    the classifier, so the spread across seeds covers the sampling of every arm."""

    test = align_classes(test, train.classes)
    synthetic = [align_classes(s, train.classes) for s in synthetic or []]
    synthetic_only = [align_classes(s, train.classes) for s in synthetic_only or []]
    k = len(train.classes)
    counts = np.bincount(train.y, minlength=k)
    target = counts + np.bincount(synthetic[0].y, minlength=k) if synthetic else np.full(k, counts.max())

    def pick(sets: list[TableData], seed: int) -> TableData:
        return sets[seed % len(sets)]

    def plus(extra: TableData):
        return pd.concat([train.x, extra.x], ignore_index=True), np.concatenate([train.y, extra.y])

    arms: dict[str, tuple[str, Callable[[int], tuple]]] = {
        "real": ("real training split as given", lambda s: (train.x, train.y)),
        "real+oversampled": ("random over-sampling to the target counts",
                             lambda s: oversample_table(train, target, s)),
        "real+SMOTE": ("SMOTENC (SMOTE if no categorical column) to the target counts",
                       lambda s: oversample_table(train, target, s, "smote")),
    }
    if synthetic:
        arms["real+synthetic"] = ("real + GAN rows filling the gaps", lambda s: plus(pick(synthetic, s)))
    if synthetic_only:
        arms["synthetic-only"] = ("GAN rows only, class-balanced (Classification Accuracy Score)",
                                  lambda s: (pick(synthetic_only, s).x, pick(synthetic_only, s).y))
    numeric = [c for c in train.x.columns if c not in train.categorical]
    by_clf: dict[str, dict] = {}
    bar = tqdm(total=len(classifiers) * seeds * len(arms), desc="evaluate", unit="fit", disable=not progress)
    data = {(name, s): make(s) for name, (_, make) in arms.items() for s in range(seeds)}
    for clf in classifiers:
        runs: dict[str, list[dict]] = {name: [] for name in arms}
        for s in range(seeds):
            for name in arms:
                x, y = data[name, s]
                model = table_classifier(clf, list(train.categorical), numeric, s).fit(x, y)
                runs[name].append({"seed": s, **score(test.y, model.predict(test.x), k)})
                bar.update(1)
        res = {"classes": list(train.classes), "test_counts": np.bincount(test.y, minlength=k).tolist(),
               "train_counts": counts.tolist(),
               "protocol": {"seeds": seeds, "classifier": clf, "bootstrap_resamples": n_resamples},
               "arms": {name: {"description": arms[name][0], "n_train": int(len(data[name, 0][1])),
                               "train_counts": np.bincount(data[name, 0][1], minlength=k).tolist(),
                               "uses_gan": name in ("real+synthetic", "synthetic-only"),
                               "runs": r, "summary": summarize(r)} for name, r in runs.items()}}
        compare(res, n_resamples, baselines=TABLE_BASELINES)
        by_clf[clf] = res
    bar.close()
    return {"modality": "table", "classes": list(train.classes), "classifiers": by_clf,
            "train_counts": counts.tolist(), "test_counts": np.bincount(test.y, minlength=k).tolist(),
            "protocol": {"seeds": seeds, "classifiers": list(classifiers), "bootstrap_resamples": n_resamples},
            "validity": {name: synthetic_validity(train, sets[0])
                         for name, sets in (("synthetic (gap-filling)", synthetic),
                                            ("synthetic-only", synthetic_only)) if sets},
            "fidelity": _table_fidelity(train, test, {"synthetic (gap-filling)": synthetic,
                                                      "synthetic-only": synthetic_only}, fidelity_k)}


def _table_fidelity(train: TableData, test: TableData, sets: dict[str, list[TableData]], k: int) -> dict:
    """Fidelity against the real test split in the codec's space (numeric columns through
    the training split's quantiles, categorical one-hot)."""
    from .codec import TableCodec

    codec = TableCodec.fit(train.x, train.categorical)
    real = codec.encode(test.x)
    return {name: fidelity(real, test.y, codec.encode(s[0].x), s[0].y, train.classes, k)
            for name, s in sets.items() if s}
