"""report.html: the answer at a glance, in one self-contained file (figures inline as PNG data, no network, no
script): per learner one line — the verdict, the difference with its Holm-adjusted interval, what to use — then
the figures of figures.py and the calibration; report.md beside it holds every table."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from ..evaluation.results import Results
from .answer import summary
from .choices import calibration_of
from .figures import headline_of

STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1180px; margin: 1.5em auto;
       padding: 0 1em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.answer { border-left: 6px solid #1f3b73; background: #f3f6fb; padding: 0.6em 1em; margin: 0.6em 0; }
.verdict { font-weight: 700; font-size: 1.1em; }
.use { color: #14532d; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9em; color: #555; }
p, li { overflow-wrap: anywhere; }
"""


def answer_html(results: Results) -> list[str]:
    out = ["<h2>The answer</h2>"]
    if results.headline is None:
        return out + ["<p>No GAN arm took part: every comparison is exploratory (see report.md).</p>"]
    for learner in results.learners:
        h = headline_of(results, learner)
        if h is None:
            continue
        out.append(f'<div class="answer"><span class="verdict">{html.escape(learner)}: {html.escape(h.verdict)}'
                   f"</span> — {html.escape(summary(h))}</div>")
    reasons = dict.fromkeys(c.verdict_reason for x in [results.headline, *results.headline.others]
                            for c in (x.difference, x.vs_real) if c is not None and c.verdict_reason)
    out += [f"<p><b>Not enough evidence:</b> {html.escape(r)}.</p>" for r in reasons]
    return out


def page(results: Results, title: str, root: Path, figures: list[tuple[str, str]]) -> str:
    """The whole page; `figures` are files in `root` (figures.figures), embedded as data."""
    body = [f"<h1>{html.escape(title)}</h1>", *answer_html(results), "<h2>Figures</h2>"]
    for name, caption in figures:
        data = base64.b64encode((root / name).read_bytes()).decode()
        body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    calibration = calibration_of(results).replace("`", "")
    body += ["<h2>Calibration</h2>", f"<p>{html.escape(calibration)}</p>",
             "<p>Every table, the search's scores, the protocol and the recipe: <a href=\"report.md\">report.md</a> "
             "beside this page.</p>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
