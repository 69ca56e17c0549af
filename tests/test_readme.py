"""The README is a quick start whose numbers come from the committed results (issue 49): its table of reports
equals the one benchmarks/report_table.py generates from reports/*/results.json, it stays under 1,500 words,
and outside that table and its code blocks it states no measured number."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_table_is_generated_from_the_results():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report_table.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_readme_is_a_quick_start():
    text = (ROOT / "README.md").read_text()
    assert len(text.split()) <= 1500
    start, end = text.index("<!-- reports table"), text.index("<!-- end of reports table -->")
    prose = re.sub(r"```.*?```", "", text[:start] + text[end:], flags=re.S)
    # the only numbers outside the generated table: "1-D signals", "Python 3.10+", "8×8 digits"
    assert sorted(set(re.findall(r"\d[\d.,]*", prose))) == ["1", "3.10", "8"]


def test_a_stale_table_is_caught(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import report_table

    readme = (ROOT / "README.md").read_text()
    stale = re.sub(r"\| (no detectable change|not enough evidence|helps|hurts), ", "| flipped, ", readme, count=1)
    assert stale != readme
    assert report_table.current(stale) != report_table.table()
