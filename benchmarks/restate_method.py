"""Restate the statistics method in committed reports after its wording changed; numbers untouched.

    python benchmarks/restate_method.py reports/*/results.json

For each results.json: `statistics.method` becomes `stats.method_text(family_size)` of the current
code, and report.md is re-rendered from results.json (`report.rerender`), so the page's text and its
numbers come from one file. No measurement is changed or recomputed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from augmentor.atomic import write_text
from augmentor.report import rerender
from augmentor.stats import method_text


def main(paths: list[str]) -> None:
    for path in map(Path, paths):
        results = json.loads(path.read_text())
        stats = results.get("statistics")
        if not stats or "family_size" not in stats:
            print(f"{path}: no statistics section, left as is")
            continue
        new = method_text(stats["family_size"])
        if stats["method"] == new:
            print(f"{path}: already current")
            continue
        stats["method"] = new
        write_text(path, json.dumps(results, indent=2) + "\n")
        rerender(path.parent)
        print(f"{path}: method restated, report.md re-rendered")


if __name__ == "__main__":
    main(sys.argv[1:])
