"""reports/benchmarks.md holds several benchmarks' figures: each script owns one marked section
and replaces only that one, so re-running one benchmark keeps the others' figures."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "reports" / "benchmarks.md"


def _pattern(key: str) -> re.Pattern:
    return re.compile(rf"\n?<!-- BEGIN {re.escape(key)} -->.*?<!-- END {re.escape(key)} -->\n?", re.S)


def update_section(key: str, text: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) the section `key` of `path` with `text`; written atomically."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"\n<!-- BEGIN {key} -->\n{text.rstrip()}\n<!-- END {key} -->\n"
    new = _pattern(key).sub(lambda _: block, old, count=1) if _pattern(key).search(old) else old.rstrip() + "\n" + block
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)


def sections(path: Path = BENCHMARKS_MD) -> str:
    """Every marked section of `path`, to carry over when a script rewrites the rest."""
    if not path.exists():
        return ""
    found = re.findall(r"<!-- BEGIN .*? -->.*?<!-- END .*? -->", path.read_text(encoding="utf-8"), re.S)
    return "".join(f"\n{s}\n" for s in found)
