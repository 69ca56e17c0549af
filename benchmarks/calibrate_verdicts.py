"""Measure the level and power of augmentor's verdicts as a report uses them (`make data` first).

The learner is the report's image learner: the SmallCNN at `recipes/mnist-longtail.toml`'s
budget (epochs, batch, learning rate), on long-tailed MNIST, fitted on the arm
`real+classic+oversampled` (affine augmentation) for POOL seeds; each fit's test predictions
are kept (runs/verdict-calibration/pool.npz caches them, so the simulation can be re-run alone).

- Null: two arms that differ only in seed — disjoint seed sets drawn from the pool. A family
  of two such comparisons (the confirmatory family's size) is judged exactly as a report judges
  its confirmatory family (two-level interval over seeds and test-set sampling, Holm); any
  helps/hurts verdict is false.
- Known effect: a controlled handicap — the same arm whose test predictions are replaced, for a
  fixed share of test examples drawn per seed, by a uniformly drawn wrong class. Its true size is
  measured over every pool seed (the handicapped model against itself unhandicapped). The family
  is (handicapped arm vs the arm, on disjoint seeds) plus one null comparison; power is the share
  of simulations whose handicap comparison reads "hurts".

Every simulation also draws a class-stratified bootstrap of the test split, so the test-set
sampling that the intervals claim to cover varies too. Seeds are drawn from a finite pool, so
simulations share fits; the binomial standard errors understate the simulation error somewhat.

    python benchmarks/calibrate_verdicts.py            # about 11 minutes on 2 cores (20 fits, two at a time)
    python benchmarks/calibrate_verdicts.py --pool 24 --simulations 4000
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from augmentor.config.recipe import EvaluateConfig, load_recipe
from augmentor.evaluation.arms import Arm, oversample, steps_for
from augmentor.evaluation.stats import HELPS, HURTS, judge_family, paired_difference, test_sampling_variance
from augmentor.image.learners import CnnLearner, SmallCNN
from augmentor.registry import load_dataset

ROOT = Path(__file__).resolve().parents[1]
SEED_COUNTS = (3, 5, 6, 8, 10)
HANDICAP_SHARE = 0.0158  # share of test predictions replaced by a wrong class: just under 1.5 points


def fit_pool(pool: int, cache: Path) -> dict:
    recipe = load_recipe(ROOT / "recipes" / "mnist-longtail.toml")
    ev = recipe.evaluate
    train = load_dataset(str(ROOT / recipe.data.train))
    test = load_dataset(str(ROOT / recipe.data.test))
    k = len(train.classes)
    steps = steps_for(len(train), ev.epochs, ev.batch_size)
    # the learner as the recipe's report fits it: its widths at this image size, its worker threads
    learner_id = f"SmallCNN{SmallCNN(1, k, min(train.shape[1:])).widths} workers={ev.workers}"
    if cache.is_file():
        with np.load(cache) as z:
            if len(z["pred"]) >= pool and int(z["steps"]) == steps and str(z.get("learner", "")) == learner_id:
                return {k: z[k] for k in z.files}
    target = np.full(k, np.bincount(train.y).max())
    learner = CnnLearner(k, steps, ev.batch_size, ev.lr, "cpu", workers=ev.workers)
    arm = Arm("real+classic+oversampled", "", lambda s: oversample(train, target, s), classic="affine")
    jobs = ((arm, *arm.make(seed), seed) for seed in range(pool))
    try:
        preds = [p[0] for p in tqdm(learner.fit_predict_many(jobs, [test.x]), total=pool, desc="pool", unit="fit")]
    finally:
        learner.close()
    out = {"pred": np.stack(preds), "y": test.y, "steps": np.array(steps), "lr": np.array(ev.lr),
           "batch_size": np.array(ev.batch_size), "learner": np.array(learner_id)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def handicap(pred: np.ndarray, k: int, share: float) -> np.ndarray:
    """Each seed's predictions with `share` of the test examples (drawn per seed) set to a wrong class."""
    out = pred.copy()
    for s in range(len(pred)):
        rng = np.random.default_rng(10_000 + s)
        idx = rng.choice(pred.shape[1], int(round(share * pred.shape[1])), replace=False)
        out[s, idx] = (pred[s, idx] + rng.integers(1, k, len(idx))) % k
    return out


def balanced_accuracy(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    classes = np.unique(y)
    return np.mean([(pred[:, y == c] == c).mean(1) for c in classes], axis=0)


def comparison(arm_pred: np.ndarray, ref_pred: np.ndarray, y: np.ndarray) -> dict:
    var = test_sampling_variance(arm_pred, ref_pred, y)
    return paired_difference(balanced_accuracy(arm_pred, y), balanced_accuracy(ref_pred, y), test_var=var)


def simulate(pred: np.ndarray, worse: np.ndarray, y: np.ndarray, n: int, sims: int, rng) -> dict:
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    false = power = covered = 0
    pool = len(pred)
    for _ in range(sims):
        idx = np.concatenate([rng.choice(i, len(i)) for i in by_class])  # stratified bootstrap of the test set
        p, w, yy = pred[:, idx], worse[:, idx], y[idx]
        a, b = rng.permutation(pool)[:2 * n].reshape(2, n)
        c, d = rng.permutation(pool)[:2 * n].reshape(2, n)
        nulls = [comparison(p[a], p[b], yy), comparison(p[c], p[d], yy)]
        judge_family(nulls)
        false += any(x["verdict"] in (HELPS, HURTS) for x in nulls)
        covered += nulls[0]["low"] <= 0 <= nulls[0]["high"]
        family = [comparison(w[a], p[b], yy), comparison(p[c], p[d], yy)]
        judge_family(family)
        power += family[0]["verdict"] == HURTS
    return {"false": false / sims, "power": power / sims, "coverage": covered / sims}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=20)
    ap.add_argument("--simulations", type=int, default=2000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = fit_pool(args.pool, ROOT / "runs" / "verdict-calibration" / "pool.npz")
    pred, y = data["pred"][:args.pool], data["y"]
    k = len(np.unique(y))
    worse = handicap(pred, k, HANDICAP_SHARE)
    effect = balanced_accuracy(worse, y) - balanced_accuracy(pred, y)  # same model, handicapped: exact pairing
    true_effect, effect_se = float(effect.mean()), float(effect.std(ddof=1) / math.sqrt(len(effect)))
    counts = [n for n in SEED_COUNTS if 2 * n <= args.pool]
    rng = np.random.default_rng(0)
    sims = {n: simulate(pred, worse, y, n, args.simulations, rng) for n in tqdm(counts, desc="simulate")}

    def se(p: float) -> float:
        return math.sqrt(p * (1 - p) / args.simulations)

    ba = balanced_accuracy(pred, y)
    out = {
        "learner": "SmallCNN",
        "learner_detail": str(data["learner"]),
        "data": "long-tailed MNIST (recipes/mnist-longtail.toml: 2,480 train, 8,000 test)",
        "arm": "real+classic+oversampled (affine)",
        "steps": int(data["steps"]), "lr": float(data["lr"]), "batch_size": int(data["batch_size"]),
        "pool_fits": int(args.pool), "simulations": args.simulations,
        "family_size": 2,
        "default_confirm_seeds": EvaluateConfig().confirm_seeds,
        "method": "confirmatory family as in reports: two-level interval (seeds + stratified test sampling), Holm",
        "arm_balanced_accuracy": {"mean": float(ba.mean()), "sd": float(ba.std(ddof=1))},
        "handicap": f"{HANDICAP_SHARE:.1%} of test predictions per seed replaced by a wrong class",
        "power_effect_points": abs(true_effect) * 100,
        "power_effect_se_points": effect_se * 100,
        "false_verdict_rate": {str(n): s["false"] for n, s in sims.items()},
        "false_verdict_rate_binomial_se": {str(n): se(s["false"]) for n, s in sims.items()},
        "power": {str(n): s["power"] for n, s in sims.items()},
        "power_binomial_se": {str(n): se(s["power"]) for n, s in sims.items()},
        "null_interval_coverage": {str(n): s["coverage"] for n, s in sims.items()},
        "seconds": time.perf_counter() - t0,
    }
    (ROOT / "reports" / "verdict-calibration-mnist-smallcnn.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = ["# Verdict calibration: the confirmatory family as reports use it", "",
             f"Learner: the report's SmallCNN ({out['steps']} Adam steps, batch {out['batch_size']}, lr "
             f"{out['lr']:g}) on {out['data']}, arm {out['arm']}: {args.pool} fits (seeds 0..{args.pool - 1}), "
             f"balanced accuracy {ba.mean() * 100:.1f} ± {ba.std(ddof=1) * 100:.2f} (sd over seeds).", "",
             f"Family of {out['family_size']} comparisons, judged as a report judges its confirmatory family; each "
             "simulation draws disjoint seed sets from the pool and a class-stratified bootstrap of the test split. "
             f"{args.simulations} simulations per seed count. Script: `benchmarks/calibrate_verdicts.py`.", "",
             f"Known effect: {out['handicap']}; true size {true_effect * 100:+.2f} ± {effect_se * 100:.2f} points "
             f"(measured over all {args.pool} seeds).", "",
             "| seeds | false-verdict rate (family, null) | power (handicap reads 'hurts') | null 95 % interval "
             "coverage |", "|---:|---:|---:|---:|"]
    for n, s in sims.items():
        lines.append(f"| {n} | {s['false']:.3f} ± {se(s['false']):.3f} | {s['power']:.3f} ± {se(s['power']):.3f} | "
                     f"{s['coverage']:.3f} |")
    lines += ["", f"Default seeds of the confirmatory arms (`evaluate.confirm_seeds`): {out['default_confirm_seeds']}; "
              f"power there: {out['power'].get(str(out['default_confirm_seeds']), float('nan')):.3f}. Degrees of "
              "freedom: n - 1 on the combined standard error. With Welch-Satterthwaite degrees of freedom instead, "
              "the same simulation gave false-verdict rates of 0.094 (3 seeds) and 0.063 (5 seeds): too many, so "
              "the product does not use them.",
              "", "± is the binomial standard error; simulations share the pool's fits, so it understates the "
              "simulation error somewhat. The handicap is applied to predictions, so its size is known exactly "
              "per seed; the seed-to-seed variation it is detected against is the real one of the SmallCNN."]
    (ROOT / "reports" / "verdict-calibration-mnist-smallcnn.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
