"""Write an evaluation as report.md + results.json + per_class.csv + PNG plots.

The markdown opens with the verdict and the headline table; every number in it is
also in results.json. The whole folder is written to a temporary name and renamed.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_dir
from .data import LabelledData
from .errors import OutputExistsError

BA_TARGET_CAS = 0.85


def _pm(s: dict, pct: bool = True) -> str:
    f = 100.0 if pct else 1.0
    return f"{s['mean'] * f:.1f} ± {s['std'] * f:.1f}"


def verdict(results: dict) -> list[str]:
    """Plain-language findings, each backed by a number in results.json."""
    arms = results["arms"]
    ba = {name: a["summary"]["balanced_accuracy"]["mean"] for name, a in arms.items()}
    lines = []
    if "real+synthetic" in ba:
        d_real = ba["real+synthetic"] - ba["real"]
        lines.append(
            f"**Synthetic data {'improved' if d_real > 0 else 'did not improve'} balanced accuracy "
            f"over real data alone**: {ba['real+synthetic']:.3f} vs {ba['real']:.3f} "
            f"({d_real * 100:+.1f} points)."
        )
    if "real+oversampled" in ba:
        d_os = ba["real+synthetic"] - ba["real+oversampled"]
        lines.append(
            f"Against random oversampling to the same counts, synthetic data is "
            f"{'ahead' if d_os >= 0 else 'behind'} by {abs(d_os) * 100:.1f} points "
            f"({ba['real+synthetic']:.3f} vs {ba['real+oversampled']:.3f}); target "
            f"real+synthetic ≥ real+oversampled: **{'met' if d_os >= 0 else 'not met'}**."
        )
    if "synthetic-only" in ba:
        cas = ba["synthetic-only"]
        lines.append(
            f"A classifier trained on synthetic data only reaches balanced accuracy {cas:.3f} on "
            f"real test data (Classification Accuracy Score); target ≥ {BA_TARGET_CAS}: "
            f"**{'met' if cas >= BA_TARGET_CAS else 'not met'}**."
        )
    seeds = results["protocol"]["seeds"]
    lines.append(f"Means ± sample standard deviation over {seeds} seeds; with this few seeds a "
                 "difference smaller than the spread is not evidence of a difference.")
    return lines


def write_report(report_dir: str | Path, results: dict, *, samples: LabelledData | None = None,
                 title: str = "augmentor report", recipe_text: str | None = None,
                 extra: dict | None = None, overwrite: bool = False) -> Path:
    """Write the report folder atomically; return the path of report.md."""
    report_dir = Path(report_dir)
    check_report_dir(report_dir, overwrite)
    results = {**results, **(extra or {})}
    with atomic_dir(report_dir) as tmp:
        (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        _per_class_csv(tmp / "per_class.csv", results)
        plots = _plots(tmp, results, samples)
        (tmp / "report.md").write_text(_markdown(results, title, plots, recipe_text))
    return report_dir / "report.md"


def check_report_dir(report_dir: Path, overwrite: bool) -> None:
    if report_dir.exists() and any(report_dir.iterdir()) and not overwrite:
        raise OutputExistsError(f"report folder {report_dir} already exists and is not empty; "
                                "choose another or pass --overwrite")


def _per_class_csv(path: Path, results: dict) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "class", "train_count", "test_count", "recall_mean", "recall_std"])
        for name, arm in results["arms"].items():
            rec = arm["summary"]["per_class_recall"]
            for i, c in enumerate(results["classes"]):
                w.writerow([name, c, arm["train_counts"][i], results["test_counts"][i],
                            f"{rec['mean'][i]:.4f}", f"{rec['std'][i]:.4f}"])


def _markdown(results: dict, title: str, plots: list[str], recipe_text: str | None) -> str:
    arms, classes = results["arms"], results["classes"]
    out = [f"# {title}", "", "## Verdict", ""]
    out += [f"- {line}" for line in verdict(results)]
    out += ["", "## Headline (percent, mean ± std over seeds)", "",
            "| arm | train samples | balanced accuracy | accuracy | macro-F1 |",
            "|---|---:|---:|---:|---:|"]
    for name, a in arms.items():
        s = a["summary"]
        out.append(f"| {name} | {a['n_train']} | {_pm(s['balanced_accuracy'])} | "
                   f"{_pm(s['accuracy'])} | {_pm(s['macro_f1'])} |")
    out += ["", "## Per-class recall (percent, mean over seeds)", "",
            "| class | train (real) | test | " + " | ".join(arms) + " |",
            "|---|---:|---:|" + "---:|" * len(arms)]
    for i, c in enumerate(classes):
        cells = [f"{a['summary']['per_class_recall']['mean'][i] * 100:.1f}" for a in arms.values()]
        out.append(f"| {c} | {results['train_counts'][i]} | {results['test_counts'][i]} | "
                   + " | ".join(cells) + " |")
    out += ["", "## Arms", ""]
    out += [f"- **{name}**: {a['description']}" for name, a in arms.items()]
    p = results["protocol"]
    out += ["", "## Protocol", "",
            f"- Classifier: {p['classifier']}, {p['steps_per_arm']} Adam steps per arm "
            f"(batch {p['batch_size']}, lr {p['lr']}), seeds 0..{p['seeds'] - 1}, device {p['device']}.",
            "- Tested on a held-out split of real data only; no synthetic sample is ever tested on."]
    if "versions" in results:
        out.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()))
    if "timings_s" in results:
        out.append("- Stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results["timings_s"].items()))
    out += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if recipe_text:
        out += ["", "## Recipe", "", "```toml", recipe_text.strip(), "```"]
    return "\n".join(out) + "\n"


def _plots(root: Path, results: dict, samples: LabelledData | None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms, classes = results["arms"], results["classes"]
    names = list(arms)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    means = [arms[n]["summary"]["balanced_accuracy"]["mean"] for n in names]
    stds = [arms[n]["summary"]["balanced_accuracy"]["std"] for n in names]
    ax.bar(names, means, yerr=stds, capsize=4, color="#4C72B0")
    ax.set_ylabel("balanced accuracy")
    ax.set_ylim(max(0.0, min(means) - 0.1), 1.0)
    ax.set_title("Balanced accuracy per arm (mean ± std over seeds)")
    fig.autofmt_xdate(rotation=20)
    fig.tight_layout()
    fig.savefig(root / "balanced_accuracy.png", dpi=110, metadata={"Software": None})
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3.5))
    width = 0.8 / len(names)
    xs = np.arange(len(classes))
    for i, n in enumerate(names):
        ax.bar(xs + i * width - 0.4 + width / 2, arms[n]["summary"]["per_class_recall"]["mean"],
               width, label=n)
    ax.set_xticks(xs, classes)
    ax.set_ylabel("recall")
    ax.set_xlabel("class")
    ax.set_title("Per-class recall per arm")
    ax.legend(fontsize=7, ncol=len(names))
    fig.tight_layout()
    fig.savefig(root / "per_class_recall.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    plots = ["balanced_accuracy.png", "per_class_recall.png"]
    if samples is not None:
        (root / "samples.png").write_bytes(sample_grid_png(samples))
        plots.append("samples.png")
    return plots


def sample_grid_png(data: LabelledData, per_class: int = 10, scale: int = 4) -> bytes:
    """One row per class of its first `per_class` samples, upscaled for viewing."""
    c, h, w = data.shape
    grid = np.ones((c, len(data.classes) * (h + 1), per_class * (w + 1)), np.float32)
    for label in range(len(data.classes)):
        idx = np.flatnonzero(data.y == label)[:per_class]
        for j, i in enumerate(idx):
            grid[:, label * (h + 1):label * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = data.x[i]
    arr = np.rint(grid * 255).astype(np.uint8)
    arr = arr[0] if c == 1 else arr.transpose(1, 2, 0)
    im = Image.fromarray(arr)
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()
