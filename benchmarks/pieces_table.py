"""What each GAN piece (and self-training) did on validation, per modality: reports/gan-pieces-by-modality.{md,json}.

Reads every committed report's results.json and, per learner, compares each arm built on top of the search's
winner — gap-filling GAN samples, the quality-filtered and dose variants, fresh draws every epoch, the
teacher arm (GAN samples chosen and labelled by the winner's own model), self-training on an unlabelled
pool, and GAN teacher arms on top of self-training — with the winner on the *validation* split, over the
same seeds (the report's choice seeds). Nothing is re-run; test scores are not used.

    python benchmarks/pieces_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ("digits", "digits-longtail", "digits-longtail-resnet18", "mnist-longtail", "mnist-longtail-unlabelled",
           "japanese-vowels-longtail", "japanese-vowels-longtail-rocket", "plaid", "wine", "breast-cancer",
           "breast-cancer-lightgbm", "breast-cancer-unlabelled", "japanese-vowels-longtail-unlabelled")


def piece(name: str) -> str:
    for prefix, label in (("real+self-training+synthetic (teacher", "GAN teacher on self-training"),
                          ("real+self-training", "self-training (no GAN)"),
                          ("real+synthetic (teacher", "GAN teacher arm"),
                          ("real+synthetic (filtered)", "GAN, quality-filtered"),
                          ("real+online-synthetic", "GAN, fresh every epoch"),
                          ("real+synthetic x", "GAN dose"), ("real+synthetic", "GAN gap-filling"),
                          ("synthetic-only", "GAN only")):
        if name.startswith(prefix):
            return label
    return ""


def summary(rows: dict) -> list[str]:
    """Per modality and piece: over the (report, learner) pairs that fitted it, the best arm of that piece
    against the winner on validation (a piece with two arms, e.g. two teacher shares, counts its better
    one, as the report's choice does)."""
    modality = {name: json.loads((ROOT / "reports" / name / "results.json").read_text())["modality"]
                for name in rows}
    best: dict = {}
    for name, learners in rows.items():
        for clf, arms in learners.items():
            for r in arms.values():
                key = (modality[name], r["piece"])
                pair = best.setdefault(key, {}).setdefault((name, clf), r["delta_points"])
                best[key][(name, clf)] = max(pair, r["delta_points"])
    out = ["", "## Summary per modality and piece", "",
           "The best arm of each piece per report and learner, against that learner's winner on validation.", "",
           "| modality | piece | report x learner pairs | mean Δ (points) | pairs above the winner | best | worst |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for (mod, label), pairs in sorted(best.items()):
        d = np.array(list(pairs.values()))
        out.append(f"| {mod} | {label} | {len(d)} | {d.mean():+.1f} | {int((d > 0).sum())} | {d.max():+.1f} | "
                   f"{d.min():+.1f} |")
    return out


def main() -> None:
    rows, lines = {}, ["# What each piece did on validation, per modality", "",
                       "Each arm built on the search's winner (same rebalancing, classic augmentation, loss and "
                       "mixup), against the winner, on the validation split over the report's choice seeds "
                       "(balanced accuracy, percent; Δ: mean paired difference over those seeds). From the "
                       "committed reports' results.json; test scores not used. "
                       "`python benchmarks/pieces_table.py`.", "",
                       "| report | modality | learner | winner (validation) | piece | arm | validation | Δ vs winner |",
                       "|---|---|---|---:|---|---|---:|---:|"]
    for name in REPORTS:
        path = ROOT / "reports" / name / "results.json"
        if not path.is_file():
            continue
        res = json.loads(path.read_text())
        seeds = int(res["protocol"]["seeds"])
        for clf, entry in res["classifiers"].items():
            arms = entry["arms"]
            if "search" not in entry:  # a report from before the grid search: no winner to build on
                continue
            win = entry["search"]["chosen"]

            def val(n: str, arms=arms, seeds=seeds) -> np.ndarray:
                return np.array([r["validation"]["balanced_accuracy"] for r in arms[n]["runs"][:seeds]])

            base = val(win)
            for arm in arms:
                label = piece(arm)
                if not label or label == "GAN only":
                    continue
                v = val(arm)
                n = min(len(v), len(base))
                d = float(np.mean(v[:n] - base[:n]) * 100)
                rows.setdefault(name, {}).setdefault(clf, {})[arm] = {"piece": label, "validation": float(v.mean()),
                                                                      "winner": float(base.mean()),
                                                                      "delta_points": d, "seeds": n}
                lines.append(f"| {name} | {res['modality']} | {clf} | {win} {base.mean() * 100:.1f} | {label} | "
                             f"{arm} | {v.mean() * 100:.1f} | {d:+.1f} |")
    lines += summary(rows)
    (ROOT / "reports" / "gan-pieces-by-modality.json").write_text(json.dumps(rows, indent=2) + "\n")
    (ROOT / "reports" / "gan-pieces-by-modality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
