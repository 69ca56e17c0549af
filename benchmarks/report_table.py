"""The README's table of committed reports, generated from their results.json (issue 49).

    python benchmarks/report_table.py          # rewrites the table between the markers in README.md
    python benchmarks/report_table.py --check  # exit 1 when README.md's table differs from the results

One row per report and learner: the data, modality, learner, the best arm without a GAN and the best GAN arm
(their test balanced accuracy), the confirmatory verdict with its difference and Holm-adjusted 95 % interval (it
excludes 0 exactly when the verdict is helps or hurts), and whether
`augmentor calibrate` measured that report's verdicts (and whether its null chose among as many arms as the
report). Every number comes from the report's results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from augmentor.evaluation.results import Comparison

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- reports table: benchmarks/report_table.py -->", "<!-- end of reports table -->"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}"


def _calibrated(results: dict) -> str:
    cal = results.get("calibration")
    if not isinstance(cal, dict) or not cal:
        return "no"
    if "none" in cal:
        return "no"
    return "yes" if cal.get("choice") else "yes (older null)"


def rows(reports: Path = ROOT / "reports") -> list[str]:
    out = []
    for path in sorted(reports.glob("*/results.json")):
        r = json.loads(path.read_text())
        head = r.get("headline")
        if not head:
            continue
        data = r.get("recipe", {}).get("data", {}).get("train") or path.parent.name
        for h in [head, *head.get("others", [])]:
            d, acc = Comparison.from_dict(h["difference"]), h["balanced_accuracy"]
            low, high = d.verdict_interval
            out.append(f"| [{path.parent.name}](reports/{path.parent.name}/report.md) | `{data}` | {r['modality']} | "
                       f"{h['classifier']} | {h['best_non_gan_arm']} ({_pct(acc[h['best_non_gan_arm']])}) | "
                       f"{h['gan_arm']} ({_pct(acc[h['gan_arm']])}) | {h['verdict']}, {_signed(d.mean)} "
                       f"[{_signed(low)}, {_signed(high)}] | {_calibrated(r)} |")
    return out


def table() -> str:
    head = ["| report | data | modality | learner | best without a GAN (test %) | best GAN arm (test %) | "
            "verdict, difference [95 % interval: Holm-adjusted beside a verdict word, else unadjusted] in points | "
            "calibrated |",
            "|---|---|---|---|---|---|---|---|"]
    return "\n".join([BEGIN, *head, *rows(), END])


def current(readme: str) -> str:
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[start:end]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md's table is stale")
    args = parser.parse_args()
    readme = (ROOT / "README.md").read_text()
    fresh = table()
    if args.check:
        same = current(readme) == fresh
        print("README table is current" if same else "README table differs from reports/*/results.json")
        return 0 if same else 1
    (ROOT / "README.md").write_text(readme.replace(current(readme), fresh))
    return 0


if __name__ == "__main__":
    sys.exit(main())
