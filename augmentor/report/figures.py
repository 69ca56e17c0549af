"""The figures people look at, one set per learner, as PNG files beside report.md (and inline in report.html):

- the forest plot: every comparison against the learner's best arm without a GAN (and the confirmatory ones),
  each with its interval, the zero line and, for the confirmatory ones, the verdict word — Holm-adjusted
  intervals for those (the verdict's rule), unadjusted for the exploratory estimates;
- per-class recall, classes from head to tail by training count, for real data, the best arm without a GAN and
  the best GAN arm: where a long tail is won or lost;
- the search: every grid cell's validation score, the winner marked.

Everything is drawn from results.json alone, so a committed report re-renders its figures.
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import numpy as np

from ..evaluation.results import Comparison, Headline, LearnerResult, Results


def short(name: str, width: int = 38) -> str:
    """An arm's name as a figure labels it: without the 'real+' every arm shares, wrapped."""
    text = name.removeprefix("real+") if name != "real" else "real data only"
    text = text.replace("classic (", "aug (").replace("synthetic", "GAN")
    return "\n".join(textwrap.wrap(text, width)) or name


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    _plt().close(fig)
    return buf.getvalue()


def headline_of(results: Results, learner: str) -> Headline | None:
    h = results.headline
    return next((x for x in ([h, *h.others] if h else []) if x.classifier == learner), None)


def forest_rows(results: Results, learner: str, res: LearnerResult) -> list[tuple[str, float, float, float, str]]:
    """(label, mean, low, high, note) per comparison, confirmatory first (points)."""
    rows = []
    head = headline_of(results, learner)
    if head is not None:
        for c, ref in ((head.difference, head.best_non_gan_arm), (head.vs_real, "real")):
            if c is None or (ref == "real" and head.best_non_gan_arm == "real" and rows):
                continue
            lo, hi = c.verdict_interval
            rows.append((f"{short(c.arm)}\nvs {short(ref)}", 100 * c.mean, 100 * lo, 100 * hi, c.verdict))
    ref = res.reference or "real"
    for name, arm in res.arms.items():
        c: Comparison | None = arm.vs_reference
        if name == ref or c is None or (head is not None and name == head.gan_arm):
            continue
        rows.append((f"{short(name)}\nvs {short(ref)}", 100 * c.mean, 100 * c.low, 100 * c.high, ""))
    return rows


def forest_png(results: Results, learner: str, res: LearnerResult) -> bytes | None:
    rows = forest_rows(results, learner, res)
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9.5, 1.0 + 0.55 * len(rows)))
    ys = np.arange(len(rows))[::-1]
    for y, (_, mean, lo, hi, note) in zip(ys, rows):
        strong = bool(note)
        color = "#1f3b73" if strong else "#8a8a8a"
        if not (math.isnan(lo) or math.isnan(hi)):
            ax.plot([lo, hi], [y, y], color=color, lw=2.4 if strong else 1.4)
        ax.plot([mean], [y], "o", color=color, ms=7 if strong else 5)
        if note:
            ax.annotate(note, (1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=9,
                        color=color, fontweight="bold")
    ax.axvline(0, color="#c0392b", lw=1, ls="--")
    ax.set_yticks(ys, [r[0] for r in rows], fontsize=8)
    ax.set_xlabel("difference in balanced accuracy on test (points); confirmatory (dark): Holm-adjusted 95 % "
                  "interval beside a verdict word,\nelse unadjusted (one GAN: no verdict word); exploratory (grey): "
                  "unadjusted", fontsize=8)
    ax.set_title(f"{learner}: each arm against the best arm without a GAN", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.subplots_adjust(right=0.8)
    return _png(fig)


def recall_png(results: Results, learner: str, res: LearnerResult) -> bytes | None:
    head = headline_of(results, learner)
    names = ["real", res.reference or "real"] + ([head.gan_arm] if head is not None else [])
    names = [n for n in dict.fromkeys(names) if n in res.arms]
    order = np.argsort(-np.asarray(results.train_counts), kind="stable")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9.5, 3.8))
    xs = np.arange(len(order))
    styles = {0: ("#8a8a8a", "o"), 1: ("#1f3b73", "s"), 2: ("#e67e22", "D")}
    for i, n in enumerate(names):
        recall = np.asarray(res.arms[n].summary.recall_mean, float)[order] * 100
        color, marker = styles[i]
        label = {0: "real data only", 1: f"best without a GAN: {short(n, 60)}", 2: f"best GAN arm: {short(n, 60)}"}
        ax.plot(xs, recall, marker=marker, color=color, label=label[i].replace("\n", " "), lw=1.5)
    ax.set_xticks(xs, [f"{results.classes[k]}\n({results.train_counts[k]})" for k in order], fontsize=8)
    ax.set_xlabel("class (training samples), head to tail", fontsize=8)
    ax.set_ylabel("recall on test (%)", fontsize=8)
    ax.set_ylim(0, 102)
    ax.set_title(f"{learner}: per-class recall", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def search_png(learner: str, res: LearnerResult) -> bytes | None:
    s = res.search
    if not s or not s.get("stages"):
        return None
    first = s["stages"][0]["balanced_accuracy"]
    last = s["stages"][-1]["balanced_accuracy"] if len(s["stages"]) > 1 else {}
    names = sorted(first, key=lambda n: first[n])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9.5, 1.0 + 0.32 * len(names)))
    ys = np.arange(len(names))
    colors = ["#e67e22" if n == s["chosen"] else "#9db4d6" for n in names]
    ax.barh(ys, [100 * first[n] for n in names], color=colors, height=0.7,
            label=f"{s['stages'][0]['seeds']} seed(s), every cell")
    if last:
        kept = [i for i, n in enumerate(names) if n in last]
        ax.plot([100 * last[names[i]] for i in kept], kept, "k|", ms=14, mew=2,
                label=f"{s['stages'][-1]['seeds']} seeds, the cells kept")
    ax.set_yticks(ys, [short(n, 60).replace("\n", " ") + ("  (chosen)" if n == s["chosen"] else "") for n in names],
                  fontsize=8)
    lo = min(first.values()) * 100
    ax.set_xlim(max(0.0, lo - 5), 100)
    ax.set_xlabel(f"balanced accuracy on the {s['chosen_on']} (%)", fontsize=8)
    ax.set_title(f"{learner}: the search without a GAN, every grid cell", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)


def real_vs_synthetic_png(real, synthetic, flagged: list[str]) -> bytes | None:
    """Real next to synthetic, per class: images as rows of real | GAN samples, series as traces, a table's
    numeric columns as marginals; the classes the copy guard flags are marked (they got no GAN samples)."""
    if real is None or synthetic is None or not len(synthetic):
        return None
    plt = _plt()
    classes = list(real.classes)
    mark = {c: f"{c} *" if c in flagged else str(c) for c in classes}
    note = " (* flagged by the copy guard: no GAN samples in any arm)" if flagged else ""
    if hasattr(real.x, "iloc"):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        cols = [c for c in real.x.columns if is_numeric_dtype(real.x[c]) and not is_bool_dtype(real.x[c])][:6]
        if not cols:
            return None
        fig, axes = plt.subplots(1, len(cols), figsize=(2.2 * len(cols) + 1, 2.6), squeeze=False)
        for ax, c in zip(axes[0], cols):
            ax.hist(real.x[c], bins=20, alpha=0.6, density=True, color="#1f3b73", label="real")
            ax.hist(synthetic.x[c], bins=20, alpha=0.6, density=True, color="#e67e22", label="GAN")
            ax.set_title(str(c)[:18], fontsize=8)
            ax.tick_params(labelsize=6)
        axes[0][0].legend(fontsize=7)
        fig.suptitle("real (blue) and GAN (orange) rows, every class, per numeric column", fontsize=9)
        fig.tight_layout()
        return _png(fig)
    x, xs = np.asarray(real.x), np.asarray(synthetic.x)
    if x.ndim == 4:  # images: per class a row of real samples, a gap, a row of GAN samples
        c, h, w = x.shape[1:]
        n = 6
        grid = np.ones((len(classes) * (h + 2), (2 * n + 1) * (w + 1), c), np.float32)
        for k, _ in enumerate(classes):
            for j, i in enumerate(np.flatnonzero(real.y == k)[:n]):
                grid[k * (h + 2):k * (h + 2) + h, j * (w + 1):j * (w + 1) + w] = x[i].transpose(1, 2, 0)
            for j, i in enumerate(np.flatnonzero(synthetic.y == k)[:n]):
                col = (n + 1 + j) * (w + 1)
                grid[k * (h + 2):k * (h + 2) + h, col:col + w] = xs[i].transpose(1, 2, 0)
        fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(classes) + 1))
        ax.imshow(grid[..., 0] if c == 1 else grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks([k * (h + 2) + h / 2 for k in range(len(classes))], [mark[q] for q in classes], fontsize=7)
        ax.set_xticks([n * (w + 1) / 2, (n + 1 + n / 2) * (w + 1)], ["real", "GAN"], fontsize=8)
        ax.set_title("real (left) and GAN (right) samples, per class" + note, fontsize=8)
        fig.tight_layout()
        return _png(fig)
    shown = classes[:10]  # series: a panel per class, channel 0
    fig, axes = plt.subplots(len(shown), 1, figsize=(8, 0.9 * len(shown) + 0.8), squeeze=False, sharex=True)
    for k, (ax,) in enumerate(axes):
        for i in np.flatnonzero(real.y == k)[:3]:
            ax.plot(x[i, 0], color="#1f3b73", lw=0.8)
        for i in np.flatnonzero(synthetic.y == k)[:3]:
            ax.plot(xs[i, 0], color="#e67e22", lw=0.8)
        ax.set_ylabel(mark[shown[k]], fontsize=8, rotation=0, ha="right", va="center")
        ax.tick_params(labelsize=6)
    axes[0][0].set_title("real (blue) and GAN (orange) series, per class (channel 0)" + note, fontsize=8)
    fig.tight_layout()
    return _png(fig)


def figures(root: Path, results: Results, real=None, synthetic=None) -> list[tuple[str, str]]:
    """Write every figure into `root`; (file name, caption) in the order a reader wants them. `real`,
    `synthetic`: the training split and a class-balanced GAN draw, when the run has them (not on a re-render)."""
    out = []
    flagged = list((results.section("teacher_guard") or {}).get("flagged") or [])
    side = real_vs_synthetic_png(real, synthetic, flagged)
    if side is not None:
        (root / "real-vs-gan.png").write_bytes(side)
    if (root / "real-vs-gan.png").is_file():  # drawn now, or kept from the run on a re-render
        out.append(("real-vs-gan.png", "real next to GAN samples, per class; the copy guard's flagged classes marked"))
    for i, (learner, res) in enumerate(results.learners.items()):
        made = (("forest", forest_png(results, learner, res),
                 f"{learner}: the confirmatory comparisons (with their verdicts) and every exploratory estimate "
                 "against the best arm without a GAN"),
                ("recall", recall_png(results, learner, res), f"{learner}: per-class recall from head to tail"),
                ("search", search_png(learner, res),
                 f"{learner}: every grid cell's validation score, the winner marked"))
        for kind, png, caption in made:
            if png is not None:
                name = f"{kind}-{i}.png"
                (root / name).write_bytes(png)
                out.append((name, caption))
    if (root / "samples.png").is_file():
        out.append(("samples.png", "synthetic samples, one row per class (the synthetic-only arm's seed-0 draw)"))
    return out
