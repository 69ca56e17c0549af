"""Every measured number in docs/ is checked against the file it comes from (issue 49).

The rule the docs are written to: a paragraph that states a decimal number cites its source — a committed
report folder (`reports/NAME/`, read as its report.md and results.json) or a report file — in the paragraph
itself or earlier in the same section. Each decimal number must then appear in one of those sources, written
as it is there or as one of its values rounded to the same number of decimals (a fraction may be written as
a percentage). Code — blocks and `spans`: arguments, settings, file names — and blocks a script generates
between BEGIN/END markers are left out: the README's table has its own test, and a generated block is its
script's output.

A stale sentence, one that still quotes a report's earlier numbers after the report was re-run, fails here
with the file, the number and the sources it was looked for in.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))

CITATION = re.compile(r"\]\(\.\./((?:reports|benchmarks)/[^)#\s]+)\)|`((?:reports|benchmarks)/[^`\s]+)`")
DECIMAL = re.compile(r"(?<![\w.])\d+\.(\d+)(?![\w.]*\d)")
FLOAT = re.compile(r"-?\d+\.\d+(?:[eE]-?\d+)?")
GENERATED = re.compile(r"<!-- BEGIN (\w+) -->.*?<!-- END \1 -->|<!-- reports table.*?<!-- end of reports table -->",
                       re.S)
CODE = re.compile(r"```.*?```", re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def _files(path: str) -> list[Path]:
    target = ROOT / path.rstrip("/")
    if target.name == "report.md" or target.is_dir():
        folder = target if target.is_dir() else target.parent
        return [f for f in (folder / "report.md", folder / "results.json") if f.is_file()]
    return [target] if target.is_file() and target.suffix in (".md", ".json", ".csv") else []


def sources(text: str) -> list[Path]:
    """The result files a block of text cites (scripts are not sources: their output files are)."""
    return [f for a, b in CITATION.findall(text) for f in _files(a or b)]


@cache
def _values(path: Path) -> tuple[frozenset[str], tuple[float, ...]]:
    text = path.read_text(errors="replace")
    return frozenset(re.findall(r"\d+\.\d+", text)), tuple({abs(float(t)) for t in FLOAT.findall(text)})


@cache
def _written(path: Path, places: int) -> frozenset[str]:
    """Every way a number of the file can be written with `places` decimals: as it stands, and each float
    rounded (or as a percentage)."""
    literal, values = _values(path)
    return literal | {f"{v:.{places}f}" for v in values} | {f"{100 * v:.{places}f}" for v in values}


def unsourced(doc: Path) -> list[str]:
    """The decimals of a document that none of their cited sources holds, each with its reason."""
    text = CODE.sub("", GENERATED.sub("", doc.read_text()))
    problems = []
    for section in re.split(r"\n(?=#{1,4} )", text):
        cited: list[Path] = []
        for block in re.split(r"\n\s*\n", section):
            cited += sources(block)
            numbers = [m.group(0) for m in DECIMAL.finditer(INLINE_CODE.sub("", block))]
            if not numbers:
                continue
            if not cited:
                problems.append(f"{doc.name}: {numbers} with no cited source in: {block[:80]!r}")
                continue
            for number in numbers:
                places = len(number.split(".")[1])
                if not any(number in _written(f, places) for f in cited):
                    names = sorted({str(f.relative_to(ROOT)) for f in cited})
                    problems.append(f"{doc.name}: {number} is in none of {names}: {block[:80]!r}")
    return problems


def test_every_decimal_in_the_docs_is_in_the_file_it_cites():
    problems = [p for doc in DOCS for p in unsourced(doc)]
    assert not problems, "\n".join(problems)


def test_a_stale_number_is_caught(tmp_path):
    report = ROOT / "reports" / "digits" / "report.md"
    assert report.is_file()
    good = tmp_path / "good.md"
    good.write_text("## A\n\nFrom [`reports/digits`](../reports/digits/report.md): nothing yet.\n")
    assert unsourced(good) == []
    numbers = set(re.findall(r"\d+\.\d", report.read_text()))
    stale = next(f"{i / 10:.1f}" for i in range(1000, 100, -1) if f"{i / 10:.1f}" not in numbers
                 and f"{i / 10:.1f}" not in _written(ROOT / "reports" / "digits" / "results.json", 1))
    bad = tmp_path / "bad.md"
    bad.write_text(f"## A\n\nFrom [`reports/digits`](../reports/digits/report.md): {stale} points.\n")
    assert len(unsourced(bad)) == 1
    uncited = tmp_path / "uncited.md"
    uncited.write_text("## A\n\nIt reached 97.3 %.\n")
    assert "no cited source" in unsourced(uncited)[0]
