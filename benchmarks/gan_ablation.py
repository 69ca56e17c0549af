"""How GAN samples should reach the classifier, long-tailed MNIST: an ablation on validation only.

Every component of the GAN issue that acts on the classifier's side is one arm here, fitted
for the same seeds at the recipe's budget (780 Adam steps, batch 64, lr 3e-3) on top of the
best arm without a GAN that `reports/mnist-longtail` chose on validation (logit adjustment +
mixup 0.2). The generator is the recipe's (`make data`, then `augmentor run
recipes/mnist-longtail.toml` writes runs/mnist-longtail/generator.onnx). The teacher of seed s
is that reference arm's seed-s model (frozen; it never saw the test split). Each arm's effect is
its paired difference from the reference over seeds, with validation-set sampling in the
interval (the report's two-level model), and every decision below reads these numbers only:
the test split is not read by this script.

Arms:
  reference        logit-adjusted + mixup 0.2, real data only
  hard             + the gap-filling GAN draw with its conditioning labels (what the report's GAN arms do)
  hard top-k       + per class the gap's worth of samples the teacher rates most class-like
                   (drawn from 3x the gap), hard labels
  soft top-k       the same samples, the teacher's distribution at temperature 2 as the target
  + mixture prior  logit-adjustment prior on real + weighted synthetic mass, not the real counts
  + late           synthetic samples only in the last quarter of the steps
  + weight 0.5     each synthetic sample half a real one in the loss
  x1               the same with as many GAN samples per class as real ones (at most the gap)
  cRT              the reference model's backbone frozen, its last layer retrained class-balanced on real features
  cRT + GAN        the same, plus the top-k GAN samples' features (hard labels)
  cRT + feature GAN  the same, plus samples of a class-conditional GAN trained in feature space (feature_gan.py)

    python benchmarks/gan_ablation.py [--seeds 3] [--threads 2] [--generator G.onnx --out J.json --only ARM ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import augmentor.classifiers as C
from augmentor.data import load_dataset
from augmentor.feature_gan import retrain_head, train_feature_gan
from augmentor.runtime import OnnxGenerator
from augmentor.stats import paired_difference, test_sampling_variance

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "mnist-longtail"
PASSES = ROOT / "reports" / "mnist-longtail-ablation"  # one json per generator
STEPS, LR, MIXUP, TEMPERATURE, POOL = 780, 3e-3, 0.2, 2.0, 3


def ba(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--generator", default=str(ROOT / "runs" / "mnist-longtail" / "generator.onnx"))
    ap.add_argument("--out", default=str(PASSES / "recipe-generator.json"))
    ap.add_argument("--render", action="store_true", help="only write the .md/.json summary of every pass")
    ap.add_argument("--only", nargs="*", default=[], help="arm names to fit (besides the reference)")
    args = ap.parse_args()
    if args.render:
        return render()
    torch.set_num_threads(args.threads)
    train = load_dataset(str(DATA / "train.npz"))
    val = load_dataset(str(DATA / "validation.npz"))
    k = len(train.classes)
    counts = np.bincount(train.y, minlength=k)
    gap = counts.max() - counts
    gen = OnnxGenerator(args.generator, threads=args.threads, spinning=False)
    preds: dict[str, list[np.ndarray]] = {}
    selection = {"drawn": np.zeros(k, int), "kept": np.zeros(k, int), "teacher_agrees_drawn": np.zeros(k, int),
                 "teacher_agrees_kept": np.zeros(k, int)}
    timings: dict[str, float] = {}

    def record(name: str, seed: int, pred: np.ndarray, seconds: float) -> None:
        preds.setdefault(name, []).append(pred)
        timings[name] = timings.get(name, 0.0) + seconds
        print(f"seed {seed} {name}: {ba(pred, val.y) * 100:.2f} ({seconds:.0f} s)", flush=True)

    for s in range(args.seeds):
        def fit(seed: int = s, **kw):
            t = time.perf_counter()
            m = C.fit_cnn(train.x, train.y, k, steps=STEPS, lr=LR, seed=seed, loss="logit-adjust", mixup=MIXUP, **kw)
            return m, time.perf_counter() - t

        ref, sec = fit()
        record("reference", s, C.predict_proba(ref, val.x).argmax(1), sec)
        # the gap-filling draw (what the report uses) and a pool of 3x the gap for the teacher to pick from
        names = dict(zip(range(k), train.classes))
        xg, yg = gen.generate({names[c]: int(n) for c, n in enumerate(gap)}, seed=1000 * s, stored=True)
        xp, yp = gen.generate({names[c]: int(POOL * n) for c, n in enumerate(gap)}, seed=1000 * s + 1, stored=True)
        probs = C.predict_proba(ref, xp)
        keep = C.select_by_teacher(probs, yp, gap)
        selection["drawn"] += np.bincount(yp, minlength=k)
        selection["kept"] += np.bincount(yp[keep], minlength=k)
        agree = probs.argmax(1) == yp
        selection["teacher_agrees_drawn"] += np.bincount(yp[agree], minlength=k)
        selection["teacher_agrees_kept"] += np.bincount(yp[keep][agree[keep]], minlength=k)
        xs, ys = xp[keep], yp[keep]
        soft_t = C.teacher_targets(probs[keep], TEMPERATURE)
        hard_t = np.eye(k, dtype=np.float32)
        dose = np.minimum(gap, counts)  # x1: as many GAN samples as real ones, at most the gap
        small = C.select_by_teacher(probs, yp, dose)
        arms = {
            "hard": C.SoftSynthetic(xg, hard_t[yg], prior="real"),
            "hard top-k": C.SoftSynthetic(xs, hard_t[ys], prior="real"),
            "soft top-k": C.SoftSynthetic(xs, soft_t, prior="real"),
            "soft top-k + mixture prior": C.SoftSynthetic(xs, soft_t),
            "soft top-k + mixture prior + late": C.SoftSynthetic(xs, soft_t, join_at=0.75),
            "soft top-k + mixture prior + late + weight 0.5": C.SoftSynthetic(xs, soft_t, 0.5, 0.75),
            "soft top-k x1 + mixture prior + late + weight 0.5": C.SoftSynthetic(
                xp[small], C.teacher_targets(probs[small], TEMPERATURE), 0.5, 0.75),
        }
        arms = {n: a for n, a in arms.items() if not args.only or n in args.only}
        for name, soft in arms.items():
            m, sec = fit(soft=soft)
            record(name, s, C.predict_proba(m, val.x).argmax(1), sec)
        if args.only and not any(n.startswith("cRT") for n in args.only):
            continue
        # head-only: the reference's backbone, its last layer retrained
        t = time.perf_counter()
        head = ref.head[1]
        f_train, f_val, f_syn = C.embed(ref, train.x), C.embed(ref, val.x), C.embed(ref, xs)

        def head_pred(h: torch.nn.Linear, f: np.ndarray = f_val) -> np.ndarray:
            with torch.no_grad():
                return h(torch.from_numpy(f)).argmax(1).numpy()

        record("cRT", s, head_pred(retrain_head(head, f_train, train.y, k, seed=s)), time.perf_counter() - t)
        t = time.perf_counter()
        record("cRT + GAN", s, head_pred(retrain_head(head, f_train, train.y, k, extra=(f_syn, ys), seed=s)),
               time.perf_counter() - t)
        t = time.perf_counter()
        fg = train_feature_gan(f_train, train.y, k, seed=s)
        labels = np.repeat(np.arange(k), gap)
        record("cRT + feature GAN", s, head_pred(retrain_head(head, f_train, train.y, k,
                                                               extra=(fg.sample(labels, s), labels), seed=s)),
               time.perf_counter() - t)

    rows = []
    for name, p in preds.items():
        vals = np.array([ba(q, val.y) for q in p])
        row = {"arm": name, "seeds": len(p), "validation_balanced_accuracy": vals.tolist(),
               "mean": float(vals.mean()), "fit_s": timings[name] / len(p)}
        if name != "reference":
            ref_vals = np.array([ba(q, val.y) for q in preds["reference"]])
            var = test_sampling_variance(np.stack(p), np.stack(preds["reference"]), val.y)
            row["vs_reference"] = paired_difference(vals, ref_vals, test_var=var)
        rows.append(row)
    sel = {key: v.tolist() for key, v in selection.items()}
    out = {"data": "mnist-longtail", "split": "validation", "steps": STEPS, "lr": LR, "mixup": MIXUP,
           "temperature": TEMPERATURE, "pool": POOL, "seeds": args.seeds, "generator": Path(args.generator).name,
           "classes": list(train.classes), "train_counts": counts.tolist(), "gap": gap.tolist(),
           "teacher_selection": sel, "arms": rows}
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if args.only and path.is_file():  # a partial pass adds its arms to the generator's earlier pass
        earlier = json.loads(path.read_text())
        mine = {r["arm"] for r in rows} - {"reference"}
        out["arms"] = [r for r in earlier["arms"] if r["arm"] not in mine] + [r for r in rows if r["arm"] in mine]
        out["teacher_selection"] = earlier["teacher_selection"]
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({r["arm"]: round(r["mean"] * 100, 2) for r in rows}, indent=1))


def _pct(d: dict) -> str:
    return f"{d['mean'] * 100:+.2f} [{d['low'] * 100:+.2f}, {d['high'] * 100:+.2f}]"


def render() -> None:
    """reports/mnist-longtail-ablation.{md,json} from every pass in reports/mnist-longtail-ablation/."""
    passes = {p.stem: json.loads(p.read_text()) for p in sorted(PASSES.glob("*.json"))}
    lines = ["# Long-tailed MNIST: how GAN samples should reach the classifier (validation only)", "",
             "Script: `benchmarks/gan_ablation.py` (one pass per generator; `--render` writes this page). Every "
             "number is balanced accuracy on the **validation** split (100 images per class); the test split is "
             "not read. Each arm: the SmallCNN at the recipe's budget (780 Adam steps, batch 64, lr 3e-3), "
             "logit adjustment + mixup 0.2 (the best arm without a GAN that `reports/mnist-longtail` chose on "
             "validation), seeds 0-2. Δ is the paired difference from the reference over seeds with a 95 % "
             "interval that also covers validation-set sampling (the report's two-level model), exploratory.", ""]
    for name, d in passes.items():
        rows = {r["arm"]: r for r in d["arms"]}
        lines += [f"## Generator: {name} (`{d['generator']}`)", "",
                  "| arm | validation | Δ vs reference [95 % CI] | fit (s) |", "|---|---:|---:|---:|"]
        for arm, r in rows.items():
            delta = _pct(r["vs_reference"]) if "vs_reference" in r else "—"
            lines.append(f"| {arm} | {r['mean'] * 100:.2f} | {delta} | {r['fit_s']:.0f} |")
        sel = d["teacher_selection"]
        lines += ["", "Teacher selection, summed over seeds (the teacher is the reference arm's model of the same "
                  f"seed; pool: {d['pool']}x each class's gap; kept: top-k by the teacher's probability of the "
                  "conditioned class, up to the gap):", "",
                  "| class | real | gap | drawn | teacher agrees (drawn) | kept | teacher agrees (kept) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for i, c in enumerate(d["classes"]):
            n = sel["drawn"][i]
            agree = f"{sel['teacher_agrees_drawn'][i] / n:.0%}" if n else "—"
            kept = sel["kept"][i]
            agree_k = f"{sel['teacher_agrees_kept'][i] / kept:.0%}" if kept else "—"
            lines.append(f"| {c} | {d['train_counts'][i]} | {d['gap'][i]} | {n} | {agree} | {kept} | {agree_k} |")
        lines.append("")
    lines += [line for line in DECISIONS.strip().splitlines()] + [""]
    (ROOT / "reports" / "mnist-longtail-ablation.md").write_text("\n".join(lines))
    (ROOT / "reports" / "mnist-longtail-ablation.json").write_text(json.dumps(passes, indent=2) + "\n")


DECISIONS = """
## What the recipe keeps, and why (every reason is a validation number above)

Decision rule: a component is kept when it raises the validation mean of the arm the product
would use; the product's GAN arm is the variant with the highest validation mean; the generator setting is the one
whose product arm scores higher on validation. No GAN variant beats the reference on validation: the best, the
teacher arm at x1, is -0.17 points [-2.53, +2.19] from it (recipe generator).

- **Hard labels hurt, and the harm is the labels and the volume.** Filling every class's gap (7,520 samples, 99 % of
  class 9's training set) with the conditioning labels costs 8.3 points; keeping only the samples the teacher rates
  most class-like recovers 2.3 of them (the teacher agrees with the GAN's label on 49-98 % of a class's draw).
- **Soft labels need the mixture prior.** The teacher's soft targets with the logit-adjustment prior of the *real*
  counts cost 24 points: the targets put mass on the thin classes, whose log-prior offset is about -5, and the model
  learns to over-predict them. The prior of the effective mixture (real counts + weighted synthetic mass) removes
  that (85.8); kept.
- **Late and down-weighted.** Synthetic samples only in the last quarter of the steps: 85.8 -> 91.6; weight 0.5:
  -> 93.0; both kept (M2m's schedule; the issue's teacher check).
- **Dose x1.** As many GAN samples per class as real ones (at most the gap), instead of the whole gap: 93.0 -> 94.9
  (ramp generator 93.4 -> 94.5); kept, `evaluate.teacher_dose = 1` (the default for every recipe).
- **Head-only re-training (cRT) and the feature-space GAN: no effect.** Re-training the last layer of the reference
  model class-balanced moves validation by +0.2 [-1.5, +1.9]; adding the top-k GAN samples' features -0.6, adding
  samples of a conditional GAN trained on the penultimate features (G(z, c) = e_c + h(z): a class offset plus a
  within-class spread every class shares) -0.1. The backbone, not the head, limits the thin classes here; neither is
  an arm of the product (the feature GAN stays a benchmark module, `augmentor/feature_gan.py`).
- **Transitional conditioning (`train.condition_ramp = 0.5`: unconditional G and D at the start, fully
  class-conditional from half-way) is not kept.** The same recipe otherwise (1,560 steps, 26 min on 2 cores): its
  hard-labelled samples are much worse (-15.0 vs -8.3), its teacher agreement lower for class 9 (58 % vs 74 %) and
  class 6 (83 % vs 98 %), and the product's arm scores 94.5 vs 94.9. Half the steps unconditional leaves too few
  conditional ones at this budget; the option stays (off by default) for longer runs.
- **Not measured in this session**: 3x the generator's steps (about 80 minutes of the 2 cores), unconditional
  low-resolution stages (UTLO), gSR, LeCam under this instrument. Class guidance (kept) rests on the earlier
  generator ablation under the earlier instrument (+0.9 to +3.6 validation points on every shared GAN arm; in git
  history, `reports/mnist-longtail-ablation.md` before this change).
"""


if __name__ == "__main__":
    main()
