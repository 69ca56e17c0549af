"""Every committed report's calibration side by side: reports/verdict-calibration.{md,json}.

Reads the `calibration` entry of each reports/*/results.json (written by `augmentor calibrate RECIPE`) and
lists, for each report, its learners, family size, seeds, the false-verdict rate with its binomial
standard error, and each learner's power for its known effect. A report without an entry is listed
with the reason it gives. Nothing is re-run.

    python benchmarks/calibration_table.py
"""

from __future__ import annotations

import json
from pathlib import Path

from augmentor.evaluation.stats import clopper_pearson_upper
from augmentor.report.choices import false_verdict_rate_text

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ("wine", "breast-cancer", "breast-cancer-lightgbm", "digits", "digits-longtail", "digits-longtail-resnet18",
           "japanese-vowels-longtail", "japanese-vowels-longtail-rocket", "plaid", "mnist-longtail",
           "mnist-longtail-unlabelled", "breast-cancer-unlabelled", "japanese-vowels-longtail-unlabelled")


def main() -> None:
    rows = {}
    for name in REPORTS:
        path = ROOT / "reports" / name / "results.json"
        if not path.is_file():
            continue
        cal = json.loads(path.read_text()).get("calibration")
        rows[name] = cal or {"none": "no `augmentor calibrate` run recorded in its results.json"}
    (ROOT / "reports" / "verdict-calibration.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Verdict calibration of every committed report", "",
             "Each report's own calibration (`augmentor calibrate RECIPE`, augmentor/calibrate.py): on its data and "
             "learners, each learner's best arm without a GAN refitted for a pool of seeds, and a copy trained on a "
             "random 70 % of each class's samples. Null: the report's confirmatory family with arms that differ only "
             "in seed, the report's choices made as it made them (the best of as many GAN arms on validation over the "
             "choice seeds; the grid's winner of as many cells, each at 1 seed, the best few at the choice seeds), "
             "GAN training's spread as a normal shift per GAN arm and trained GAN (sd: the spread between the "
             "report's GANs' mean differences), Holm over every learner's comparisons; any helps/hurts verdict is "
             "false. A calibration measured before the null chose this way (between two candidates, no GAN shift) "
             "is marked 'two candidates' in the choice column. Power: the weakened copy as "
             "the GAN arm; the share of families in which that learner's comparison reads 'hurts'. ± is the "
             "binomial standard error (simulations share the pool's fits, so it understates the simulation error "
             "somewhat). Table: `python benchmarks/calibration_table.py`.", "",
             "| report | learners | family | seeds | choice (GAN arms / grid cells; GAN sd, points) | pool fits | "
             "simulations | false-verdict rate | power (known loss, points) |",
             "|---|---|---:|---:|---|---:|---:|---:|---|"]
    for name, c in rows.items():
        if "false_verdict_rate" not in c:
            lines.append(f"| {name} | — | — | — | — | — | — | none: {c.get('none', '')} | — |")
            continue
        power = "; ".join(
            (f"{n} {v['power']:.2f} ± {v['power_se']:.2f} ({v['power_effect_points']:.2f})" if v["power"] > 0 else
             f"{n} 0 in {c['simulations']} (upper bound {clopper_pearson_upper(0, int(c['simulations'])):.4f}) "
             f"({v['power_effect_points']:.2f})")
            if v["power_effect_points"] > 0 else f"{n}: no loss to detect ({v['power_effect_points']:+.2f})"
            for n, v in c["per_learner"].items())
        choice = "; ".join(f"{n} {v['gan_arms']} / {v['grid_cells']}" + (f"; {v['gan_sd_points']:.2f}"
                                                                        if v.get("gan_sd_points") else "")
                           for n, v in c["choice"].items()) if c.get("choice") else "two candidates"
        lines.append(f"| {name} | {c['learner']} | {c['family_size']} | {c['seeds']} | {choice} | {c['pool_fits']} | "
                     f"{c['simulations']} | {false_verdict_rate_text(c)} | "
                     f"{power} |")
    lines += ["", "An earlier, narrower simulation (the SmallCNN on long-tailed MNIST, a family of 2, no choice in the "
              "simulation, a handicap applied to predictions): reports/verdict-calibration-mnist-smallcnn.md."]
    (ROOT / "reports" / "verdict-calibration.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

