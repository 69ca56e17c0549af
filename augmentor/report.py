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
from .outputs import output_lock, prepare_output, write_marker

BA_TARGET_CAS = 0.85


def _pm(s: dict, pct: bool = True) -> str:
    f = 100.0 if pct else 1.0
    return f"{s['mean'] * f:.1f} ± {s['std'] * f:.1f}"


def _pts(d: dict) -> str:
    return f"{d['mean'] * 100:+.1f} points [95 % CI {d['low'] * 100:+.1f}, {d['high'] * 100:+.1f}]"


def verdict(results: dict) -> list[str]:
    """Plain-language findings, each backed by a number in results.json."""
    arms = results["arms"]
    ba = {name: a["summary"]["balanced_accuracy"]["mean"] for name, a in arms.items()}
    lines = []
    if "real+synthetic" in arms:
        v = arms["real+synthetic"]["vs_real"]
        lines.append(f"**GAN gap-filling vs real data alone: {v['verdict']}** — balanced accuracy "
                     f"{ba['real+synthetic']:.3f} vs {ba['real']:.3f}, {_pts(v)}.")
        if "vs_best_baseline" in arms["real+synthetic"]:
            v = arms["real+synthetic"]["vs_best_baseline"]
            word = {"helps": "beats", "hurts": "loses to"}.get(v["verdict"], "is not distinguishable from")
            lines.append(f"**Against the best baseline ({v['baseline']}, {ba[v['baseline']]:.3f}), "
                         f"GAN gap-filling {word} it**: {_pts(v)}.")
    gan = [n for n, a in arms.items() if a.get("uses_gan") and n != "real+synthetic" and "vs_real" in a]
    for name in gan:
        v = arms[name]["vs_real"]
        lines.append(f"{name}: {ba[name]:.3f}, vs real {_pts(v)} — {v['verdict']}.")
    if "real+oversampled" in ba and "real+synthetic" in ba:
        d_os = ba["real+synthetic"] - ba["real+oversampled"]
        lines.append(f"Target real+synthetic ≥ real+oversampled (mean balanced accuracy): "
                     f"**{'met' if d_os >= 0 else 'not met'}** ({d_os * 100:+.1f} points).")
    if "synthetic-only" in ba:
        cas = ba["synthetic-only"]
        lines.append(f"Target synthetic-only (Classification Accuracy Score) ≥ {BA_TARGET_CAS}: "
                     f"**{'met' if cas >= BA_TARGET_CAS else 'not met'}** ({cas:.3f}).")
    lines.append(f"Verdicts use the paired difference across {results['protocol']['seeds']} seeds with "
                 "a 95 % percentile bootstrap interval: 'helps' / 'hurts' only when the whole interval "
                 "is above / below zero.")
    return lines


def write_report(report_dir: str | Path, results: dict, *, samples: LabelledData | None = None,
                 title: str = "augmentor report", recipe_text: str | None = None,
                 extra: dict | None = None, overwrite: bool = False) -> Path:
    """Write the report folder atomically; return the path of report.md."""
    report_dir = Path(report_dir)
    results = {**results, **(extra or {})}
    table = results.get("modality") == "table"
    with output_lock(report_dir, "--report"):
        check_report_dir(report_dir, overwrite)
        with atomic_dir(report_dir) as tmp:
            write_marker(tmp, "report")
            (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
            if table:
                _per_class_csv(tmp / "per_class.csv", results["classifiers"])
                plots = _table_plots(tmp, results)
                (tmp / "report.md").write_text(_table_markdown(results, title, plots, recipe_text))
            else:
                _per_class_csv(tmp / "per_class.csv", {"SmallCNN": results})
                plots = _plots(tmp, results, samples)
                (tmp / "report.md").write_text(_markdown(results, title, plots, recipe_text))
    return report_dir / "report.md"


def check_report_dir(report_dir: Path, overwrite: bool) -> None:
    """Refuse a report folder that holds something, unless `overwrite` and augmentor wrote it."""
    prepare_output(report_dir, "report", overwrite, "--report")


def _per_class_csv(path: Path, by_classifier: dict[str, dict]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["classifier", "arm", "class", "train_count", "test_count", "recall_mean", "recall_std"])
        for clf, results in by_classifier.items():
            for name, arm in results["arms"].items():
                rec = arm["summary"]["per_class_recall"]
                for i, c in enumerate(results["classes"]):
                    w.writerow([clf, name, c, arm["train_counts"][i], results["test_counts"][i],
                                f"{rec['mean'][i]:.4f}", f"{rec['std'][i]:.4f}"])


def _markdown(results: dict, title: str, plots: list[str], recipe_text: str | None) -> str:
    arms, classes = results["arms"], results["classes"]
    out = [f"# {title}", "", "## Verdict", ""]
    out += [f"- {line}" for line in verdict(results)]
    out += ["", "## Headline (balanced accuracy on real held-out data, percent)", ""]
    out += _headline(results)
    out += _fidelity_md(results.get("fidelity") or {}, classes)
    if results.get("quality_filter"):
        qf = results["quality_filter"]
        out += ["", f"## Quality filter (threshold {qf['threshold']})", "",
                "| class | requested | delivered | candidates drawn | acceptance rate |",
                "|---|---:|---:|---:|---:|"]
        out += [f"| {c} | {v['requested']} | {v['delivered']} | {v['candidates']} | "
                f"{v['acceptance_rate'] * 100:.1f} % |" for c, v in qf["per_class"].items()]
        short = [c for c, v in qf["per_class"].items() if v["delivered"] < v["requested"]]
        if short:
            out += ["", f"The filter could not fill class(es) {', '.join(short)} within 20 candidates per "
                    "requested sample; the filtered arm holds fewer samples there."]
    out += ["", "## Arms", ""]
    out += [f"- **{name}**: {a['description']}" for name, a in arms.items()]
    p = results["protocol"]
    out += ["", "## Protocol", "",
            f"- Classifier: {p['classifier']}, {p['steps_per_arm']} Adam steps per arm "
            f"(batch {p['batch_size']}, lr {p['lr']}), seeds 0..{p['seeds'] - 1}, device {p['device']}.",
            f"- Classic augmentation: random affine + {p.get('classic_augmentation')} (torchvision "
            f"transforms v2), flips {'on' if p.get('flips') else 'off'}.",
            "- Tested on a held-out split of real data only; no synthetic sample is ever tested on.",
            _test_size_note(results)]
    return "\n".join(out + _closing(results, plots, recipe_text)) + "\n"


def _headline(results: dict, level: str = "##") -> list[str]:
    """Balanced-accuracy table with intervals and verdicts, accuracy/macro-F1, per-class recall."""
    arms, classes = results["arms"], results["classes"]
    out = ["| arm | train samples | balanced accuracy | Δ vs real [95 % CI] | verdict | "
           "Δ vs best baseline [95 % CI] |",
           "|---|---:|---:|---:|---|---:|"]
    for name, a in arms.items():
        s = a["summary"]
        vr, vb = a.get("vs_real"), a.get("vs_best_baseline")
        out.append(f"| {name} | {a['n_train']} | {_pm(s['balanced_accuracy'])} | "
                   f"{_ci(vr)} | {vr['verdict'] if vr else '—'} | {_ci(vb)} |")
    out += ["", "Accuracy and macro-F1 (percent, mean ± std):", "",
            "| arm | accuracy | macro-F1 |", "|---|---:|---:|"]
    out += [f"| {n} | {_pm(a['summary']['accuracy'])} | {_pm(a['summary']['macro_f1'])} |"
            for n, a in arms.items()]
    out += ["", f"{level} Per-class recall (percent, mean over seeds)", "",
            "| class | train (real) | test | " + " | ".join(arms) + " |",
            "|---|---:|---:|" + "---:|" * len(arms)]
    for i, c in enumerate(classes):
        cells = [f"{a['summary']['per_class_recall']['mean'][i] * 100:.1f}" for a in arms.values()]
        out.append(f"| {c} | {results['train_counts'][i]} | {results['test_counts'][i]} | "
                   + " | ".join(cells) + " |")
    return out


def _closing(results: dict, plots: list[str], recipe_text: str | None) -> list[str]:
    """Versions, stage times, plots and the exact recipe: the end of every report."""
    out = []
    if "versions" in results:
        out.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()))
    if "timings_s" in results:
        out.append("- Stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results["timings_s"].items()))
    out += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if recipe_text:
        out += ["", "## Recipe", "", "```toml", recipe_text.strip(), "```"]
    return out


def _test_size_note(results: dict) -> str:
    n = sum(results["test_counts"])
    smallest = min(results["test_counts"])
    return (f"- The test split has {n} samples (smallest class {smallest}): one test sample of the smallest "
            f"class moves its recall by {100 / smallest:.1f} points and balanced accuracy by "
            f"{100 / smallest / len(results['test_counts']):.1f}. The intervals cover the variation across "
            "seeds (classifier, resampling and synthetic draws), not the sampling of the test split itself.")


def _ci(v: dict | None) -> str:
    if not v:
        return "—"
    return f"{v['mean'] * 100:+.1f} [{v['low'] * 100:+.1f}, {v['high'] * 100:+.1f}]"


def _fidelity_md(fid: dict, classes: list[str]) -> list[str]:
    if not fid:
        return []
    out = ["", "## Fidelity (feature space of a classifier trained on the real training split; "
           "reference: the real test split)", "",
           "| synthetic set | Fréchet distance | precision | recall | density | coverage |",
           "|---|---:|---:|---:|---:|---:|"]
    for name, f in fid.items():
        o = f["overall"]
        out.append(f"| {name} | {o['frechet']:.2f} | {o['precision']:.3f} | {o['recall']:.3f} | "
                   f"{o['density']:.3f} | {o['coverage']:.3f} |")
    for name, f in fid.items():
        if not f["per_class"]:
            continue
        out += ["", f"Per class, {name}:", "",
                "| class | n real | n synthetic | Fréchet | precision | recall | density | coverage |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for c, m in f["per_class"].items():
            out.append(f"| {c} | {m['n_real']} | {m['n_synthetic']} | {m['frechet']:.2f} | "
                       f"{m['precision']:.3f} | {m['recall']:.3f} | {m['density']:.3f} | {m['coverage']:.3f} |")
    return out


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


def _table_markdown(results: dict, title: str, plots: list[str], recipe_text: str | None) -> str:
    """Tables: a verdict and headline per classifier, then validity, fidelity, protocol."""
    by_clf = results["classifiers"]
    out = [f"# {title}", "", "## Verdict", ""]
    for clf, r in by_clf.items():
        out += ["", f"**{clf}**", ""] + [f"- {line}" for line in verdict(r)[:-1]]
    out += ["", verdict(next(iter(by_clf.values())))[-1]]
    for clf, r in by_clf.items():
        out += ["", f"## {clf}: balanced accuracy on real held-out data (percent)", ""]
        out += _headline(r, level="###")
    validity = results.get("validity") or {}
    if validity:
        out += ["", "## Are the synthetic rows valid rows?", "",
                "| synthetic set | rows | unseen categories | non-integral integer values | "
                "values outside the training range | valid |", "|---|---:|---|---|---|---|"]
        for name, v in validity.items():
            out.append(f"| {name} | {v['rows']} | {v['unseen_categories'] or 'none'} | "
                       f"{v['non_integral'] or 'none'} | {v['out_of_range'] or 'none'} | "
                       f"{'yes' if v['valid'] else 'NO'} |")
    out += [line.replace("feature space of a classifier trained on the real training split",
                         "the codec's space: training-split quantiles, one-hot categories")
            for line in _fidelity_md(results.get("fidelity") or {}, results["classes"])]
    arms = next(iter(by_clf.values()))["arms"]
    out += ["", "## Arms", ""] + [f"- **{name}**: {a['description']}" for name, a in arms.items()]
    p = results["protocol"]
    out += ["", "## Protocol", "",
            f"- Classifiers: {', '.join(p['classifiers'])} (scikit-learn; one-hot categorical, "
            f"standardised numeric), seeds 0..{p['seeds'] - 1}. Seed s draws the GAN rows of the GAN arms "
            "(generation seed s), and seeds over-sampling, SMOTE and the classifier.",
            "- Tested on a held-out split of real data only; no synthetic row is ever tested on.",
            _test_size_note(results)]
    return "\n".join(out + _closing(results, plots, recipe_text)) + "\n"


def _table_plots(root: Path, results: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_clf = results["classifiers"]
    names = list(next(iter(by_clf.values()))["arms"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(by_clf)
    xs = np.arange(len(names))
    lows = []
    for i, (clf, r) in enumerate(by_clf.items()):
        means = [r["arms"][n]["summary"]["balanced_accuracy"]["mean"] for n in names]
        stds = [r["arms"][n]["summary"]["balanced_accuracy"]["std"] for n in names]
        lows.append(min(means))
        ax.bar(xs + i * width - 0.4 + width / 2, means, width, yerr=stds, capsize=3, label=clf)
    ax.set_xticks(xs, names)
    ax.set_ylabel("balanced accuracy")
    ax.set_ylim(max(0.0, min(lows) - 0.1), 1.0)
    ax.set_title("Balanced accuracy per arm and classifier (mean ± std over seeds)")
    ax.legend(fontsize=8)
    fig.autofmt_xdate(rotation=20)
    fig.tight_layout()
    fig.savefig(root / "balanced_accuracy.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return ["balanced_accuracy.png"]
