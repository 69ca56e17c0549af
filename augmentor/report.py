"""Write an evaluation as report.md + results.json + per_class.csv + PNG plots.

One layout for every modality (the results shape of evaluate.py): the verdict first, then
per classifier a headline table, then splits, fidelity, filter, validity, arms and
protocol. Every number in report.md is also in results.json. The folder is written to a
temporary name and renamed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_dir
from .data import LabelledData
from .outputs import output_lock, prepare_output, write_marker

BA_TARGET_CAS = 0.85


def write_report(report_dir: str | Path, results: dict, *, samples: LabelledData | None = None,
                 title: str = "augmentor report", recipe_text: str | None = None,
                 extra: dict | None = None, overwrite: bool = False) -> Path:
    """Write the report folder atomically; return the path of report.md."""
    report_dir = Path(report_dir)
    results = {**results, **(extra or {})}
    with output_lock(report_dir, "--report"):
        check_report_dir(report_dir, overwrite)
        with atomic_dir(report_dir) as tmp:
            write_marker(tmp, "report")
            (tmp / "results.json").write_text(json.dumps(_jsonable(results), indent=2) + "\n")
            _per_class_csv(tmp / "per_class.csv", results)
            plots = _plots(tmp, results, samples)
            (tmp / "report.md").write_text(markdown(results, title, plots, recipe_text))
    return report_dir / "report.md"


def check_report_dir(report_dir: Path, overwrite: bool) -> None:
    """Refuse a report folder that holds something, unless `overwrite` and augmentor wrote it."""
    prepare_output(report_dir, "report", overwrite, "--report")


def _jsonable(v):
    """NaN (an undefined interval or p-value) becomes null: results.json stays strict JSON."""
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


# --- words --------------------------------------------------------------------------------------

def _pts(d: dict) -> str:
    if d.get("low") is None or math.isnan(d["low"]):
        return f"{d['mean'] * 100:+.1f} points (no interval: {d['n']} seed(s), spread {d['sd'] * 100:.2f})"
    return (f"{d['mean'] * 100:+.1f} points [95 % CI {d['low'] * 100:+.1f}, {d['high'] * 100:+.1f}], "
            f"Holm p = {_p(d.get('p_holm'))}")


def _p(p: float | None) -> str:
    return "—" if p is None or math.isnan(p) else (f"{p:.3f}" if p >= 0.001 else "< 0.001")


def _against(v: dict) -> str:
    word = {"helps": "beats", "hurts": "loses to", "no detectable change": "is not distinguishable from"}
    return f"GAN gap-filling {word[v['verdict']]} it" if v["verdict"] in word else f"{v['verdict']}"


def verdict_lines(res: dict) -> list[str]:
    """Plain-language findings for one classifier, each backed by a number in results.json."""
    arms, ref = res["arms"], res["reference"]["name"]
    ba = {n: a["summary"]["balanced_accuracy"]["mean"] for n, a in arms.items()}
    lines = []
    if "real+synthetic" in arms:
        v = arms["real+synthetic"]["vs_real"]
        lines.append(f"**GAN gap-filling vs real data alone: {v['verdict']}** — balanced accuracy "
                     f"{ba['real+synthetic']:.3f} vs {ba['real']:.3f}, {_pts(v)}.")
        if "vs_reference" in arms["real+synthetic"]:
            v = arms["real+synthetic"]["vs_reference"]
            lines.append(f"**Against the reference ({ref}, {ba[ref]:.3f}; chosen on validation): {_against(v)}**: "
                         f"{_pts(v)}.")
    for name, a in arms.items():
        if a["uses_gan"] and name != "real+synthetic":
            v = a["vs_real"]
            text = f"{name}: {ba[name]:.3f}, vs real {_pts(v)} — {v['verdict']}"
            if "vs_reference" in a:
                text += f"; vs {ref}: {a['vs_reference']['mean'] * 100:+.1f} — {a['vs_reference']['verdict']}"
            lines.append(text + ".")
    if "real+oversampled" in ba and "real+synthetic" in ba:
        d = ba["real+synthetic"] - ba["real+oversampled"]
        lines.append(f"Target real+synthetic ≥ real+oversampled (mean balanced accuracy): "
                     f"**{'met' if d >= 0 else 'not met'}** ({d * 100:+.1f} points).")
    if "synthetic-only" in ba:
        cas = ba["synthetic-only"]
        lines.append(f"Target synthetic-only (Classification Accuracy Score) ≥ {BA_TARGET_CAS}: "
                     f"**{'met' if cas >= BA_TARGET_CAS else 'not met'}** ({cas:.3f}).")
    return lines


def markdown(results: dict, title: str, plots: list[str], recipe_text: str | None) -> str:
    by_clf, classes = results["classifiers"], results["classes"]
    out = [f"# {title}", "", "## Verdict", ""]
    for clf, res in by_clf.items():
        if len(by_clf) > 1:
            out += [f"**{clf}**", ""]
        out += [f"- {line}" for line in verdict_lines(res)] + [""]
    out += _gan_vs_best(results.get("headline"))
    out += _statistics(results)
    for clf, res in by_clf.items():
        out += ["", f"## Headline: {clf} (balanced accuracy, percent; validation for choices, test for verdicts)", ""]
        out += _headline(res, classes, results)
    out += _splits(results)
    out += _fidelity_md(results.get("fidelity") or {})
    out += _filter_md(results.get("quality_filter"))
    out += _memorisation_md(results.get("memorisation"))
    out += _validity_md(results.get("validity"))
    first = next(iter(by_clf.values()))
    out += ["", "## Arms", ""] + [f"- **{n}** ({a['kind']}): {a['description']}" for n, a in first["arms"].items()]
    out += ["", "## Protocol", ""] + _protocol(results)
    return "\n".join(out + _closing(results, plots, recipe_text)) + "\n"


def _statistics(results: dict) -> list[str]:
    s, src = results["statistics"], results.get("variance_sources") or {}
    covered = [k for k, v in src.items() if v]
    missing = [k for k, v in src.items() if not v]
    return ["How to read the verdicts: " + s["method"] + ". The family: "
            + "; ".join(s["family"]) + ".",
            "",
            f"The intervals cover: {', '.join(covered) or 'nothing (one seed)'}. They do **not** cover: "
            f"{', '.join(missing) or '—'}. The level of this method is checked by simulation in "
            "reports/verdict-calibration.md."]


def _ci(v: dict | None) -> str:
    if not v:
        return "—"
    if v.get("low") is None or math.isnan(v["low"]):
        return f"{v['mean'] * 100:+.1f} [—]"
    return f"{v['mean'] * 100:+.1f} [{v['low'] * 100:+.1f}, {v['high'] * 100:+.1f}]"


def _pm(s: dict) -> str:
    return f"{s['mean'] * 100:.1f} ± {s['std'] * 100:.1f}"


def _headline(res: dict, classes: list[str], results: dict) -> list[str]:
    arms, ref = res["arms"], res["reference"]["name"]
    out = [f"Reference: **{ref}** ({res['reference']['chosen_by']}).", "",
           "| arm | kind | train samples | validation | test | Δ vs real [95 % CI] | Holm p | verdict | "
           f"Δ vs {ref} [95 % CI] | Holm p | verdict |", "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for name, a in arms.items():
        vr, vb = a.get("vs_real"), a.get("vs_reference")
        val = a["validation_summary"]["balanced_accuracy"]["mean"] * 100
        out.append(f"| {name} | {a['kind']} | {a['n_train']} | {val:.1f} | "
                   f"{_pm(a['summary']['balanced_accuracy'])} | {_ci(vr)} | {_p(vr and vr.get('p_holm'))} | "
                   f"{vr['verdict'] if vr else '—'} | {_ci(vb)} | {_p(vb and vb.get('p_holm'))} | "
                   f"{vb['verdict'] if vb else '—'} |")
    out += ["", "Accuracy and macro-F1 on test (percent, mean ± std):", "", "| arm | accuracy | macro-F1 |",
            "|---|---:|---:|"]
    out += [f"| {n} | {_pm(a['summary']['accuracy'])} | {_pm(a['summary']['macro_f1'])} |" for n, a in arms.items()]
    out += ["", "Per-class recall on test (percent, mean over seeds):", "",
            "| class | train | test | " + " | ".join(arms) + " |", "|---|---:|---:|" + "---:|" * len(arms)]
    for i, c in enumerate(classes):
        cells = [f"{a['summary']['per_class_recall']['mean'][i] * 100:.1f}" for a in arms.values()]
        out.append(f"| {c} | {results['train_counts'][i]} | {results['test_counts'][i]} | "
                   + " | ".join(cells) + " |")
    return out


def _splits(results: dict) -> list[str]:
    out = ["", "## Splits (real samples per class)", "",
           "| class | train | validation | test |", "|---|---:|---:|---:|"]
    for i, c in enumerate(results["classes"]):
        out.append(f"| {c} | {results['train_counts'][i]} | {results['validation_counts'][i]} | "
                   f"{results['test_counts'][i]} |")
    out.append(f"| total | {sum(results['train_counts'])} | {sum(results['validation_counts'])} | "
               f"{sum(results['test_counts'])} |")
    return out


def _kid(m: dict) -> str:
    return f"{m['kid']:.4f} [{m['kid_low']:.4f}, {m['kid_high']:.4f}]"


def _fidelity_md(fid: dict) -> list[str]:
    if not fid:
        return []
    out = ["", "## Fidelity (seed-0 draw; features learnt from the real training split; reference: the real test "
           "split restricted to the same classes)", "",
           "KID is the unbiased kernel distance (lower is closer; interval from half-size subsamples); the Fréchet "
           "distance is shown only where both sides hold at least twice as many samples as the features have "
           "dimensions.", "",
           "| synthetic set | classes | n real | n synthetic | KID [95 % CI] | Fréchet | precision | recall | density "
           "| coverage |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, f in fid.items():
        o = f["overall"]
        fr = f"{o['frechet']:.2f}" if "frechet" in o else "— (n too small)"
        out.append(f"| {name} | {len(o['classes'])} | {o['n_real']} | {o['n_synthetic']} | {_kid(o)} | {fr} | "
                   f"{o['precision']:.3f} | {o['recall']:.3f} | {o['density']:.3f} | {o['coverage']:.3f} |")
    for name, f in fid.items():
        if f["per_class"]:
            out += ["", f"Per class, {name} ({f['feature_dim']}-dimensional features):", "",
                    "| class | n real | n synthetic | KID [95 % CI] | precision | recall | density | coverage |",
                    "|---|---:|---:|---:|---:|---:|---:|---:|"]
            out += [f"| {c} | {m['n_real']} | {m['n_synthetic']} | {_kid(m)} | {m['precision']:.3f} | "
                    f"{m['recall']:.3f} | {m['density']:.3f} | {m['coverage']:.3f} |"
                    for c, m in f["per_class"].items()]
    return out


def _gan_vs_best(h: dict | None) -> list[str]:
    if not h:
        return []
    g, b = h["gan_arm"], h["best_non_gan_arm"]
    ba = h["balanced_accuracy"]
    d = h.get("difference") or {}
    ci = f" (difference {_ci(d)} points)" if d else ""
    return ["## GAN arm against the best arm without a GAN", "",
            f"Both chosen on validation ({h['chosen_by']}; {h['classifier']}). On test: **{g}** "
            f"{ba[g]:.3f} vs **{b}** {ba[b]:.3f} balanced accuracy; verdict: **{h['verdict']}**{ci}.", ""]


def _memorisation_md(mem: dict | None) -> list[str]:
    if not mem:
        return []
    out = ["", "## Memorisation (pixel L2 to the nearest real training image of the same class)", "",
           "Near-copy: closer to a training image than 95% of held-out real images are (about 5% expected "
           "without memorisation). Flagged: near-copy rate ≥ 25% or median ratio < 0.5.", ""]
    for name, per_class in mem.items():
        flagged = [c for c, v in per_class.items() if v["flagged"]]
        out += [f"**{name}**: " + (f"flagged as copying: {', '.join(flagged)}" if flagged else "no class flagged"), "",
                "| class | synthetic | median NN synthetic | median NN held-out (basis) | ratio | near-copies "
                "| exact copies | flagged |", "|---|---:|---:|---:|---:|---:|---:|---|"]
        out += [f"| {c} | {v['n_synthetic']} | {v['median_nn_synthetic']:.3f} | {v['median_nn_held_out']:.3f} "
                f"({v['held_out_basis']}) | {v['median_ratio']:.2f} | {v['near_copy_rate'] * 100:.1f} % | "
                f"{v['exact_copies']} | {'**yes**' if v['flagged'] else 'no'} |" for c, v in per_class.items()]
        out.append("")
    return out


def _filter_md(qf: dict | None) -> list[str]:
    if not qf:
        return []
    out = ["", f"## Quality filter (threshold {qf['threshold']}; class-balanced classifier trained on the training "
           f"split; counted over {qf['counted_over']})", "",
           "| class | drawn | accepted | acceptance rate |", "|---|---:|---:|---:|"]
    out += [f"| {c} | {v['drawn']} | {v['accepted']} | {v['acceptance_rate'] * 100:.1f} % |"
            for c, v in qf["per_class"].items()]
    return out


def _validity_md(validity: dict | None) -> list[str]:
    if not validity:
        return []
    out = ["", "## Validity of the synthetic rows", ""]
    for name, v in validity.items():
        problems = {k: v[k] for k in ("unseen_categories", "non_integral", "out_of_range") if v[k]}
        out.append(f"- {name}: {v['rows']} rows — " + ("all valid (seen categories, integral integers, values "
                   "inside the training range)" if v["valid"] else f"problems: {problems}"))
    return out


def _protocol(results: dict) -> list[str]:
    p = results["protocol"]
    lines = [f"- Seeds 0..{p['seeds'] - 1}; classifier(s): {', '.join(p['classifiers'])}."]
    if "steps_per_arm" in p:
        lines.append(f"- SmallCNN: {p['steps_per_arm']} Adam steps for every arm (batch {p['batch_size']}, "
                     f"lr {p['lr']}), "
                     f"device {p['device']}; classic augmentation: random affine + {p['classic_augmentation']} "
                     f"(torchvision v2), flips {'on' if p['flips'] else 'off'}.")
    lines += ["- Choices made from data, all on the validation split: the reference arm; the loss-side fix the "
              "GAN data is combined with (the loss arm with the highest validation balanced accuracy). Declared "
              "before the run: the classic policy, the dose ratios, the filter threshold, the GAN's last checkpoint.",
              "- The test split is real held-out data, read once per arm and seed after the fit; no synthetic "
              "sample is ever tested on.", _test_size_note(results)]
    return lines


def _test_size_note(results: dict) -> str:
    n, smallest = sum(results["test_counts"]), min(results["test_counts"])
    return (f"- The test split has {n} samples (smallest class {smallest}): one test sample of the smallest class "
            f"moves its recall by {100 / smallest:.1f} points and balanced accuracy by "
            f"{100 / smallest / len(results['test_counts']):.1f}.")


def _closing(results: dict, plots: list[str], recipe_text: str | None) -> list[str]:
    out = []
    if "versions" in results:
        out.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()))
    if "timings_s" in results:
        out.append("- Stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results["timings_s"].items()))
    out += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if recipe_text:
        out += ["", "## Recipe", "", "```toml", recipe_text.strip(), "```"]
    return out


def _per_class_csv(path: Path, results: dict) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["classifier", "arm", "class", "train_count", "validation_count", "test_count",
                    "recall_mean", "recall_std"])
        for clf, res in results["classifiers"].items():
            for name, arm in res["arms"].items():
                rec = arm["summary"]["per_class_recall"]
                for i, c in enumerate(results["classes"]):
                    w.writerow([clf, name, c, arm["train_counts"][i], results["validation_counts"][i],
                                results["test_counts"][i], f"{rec['mean'][i]:.4f}", f"{rec['std'][i]:.4f}"])


def _plots(root: Path, results: dict, samples: LabelledData | None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_clf = results["classifiers"]
    names = list(next(iter(by_clf.values()))["arms"])
    fig, ax = plt.subplots(figsize=(max(7, 0.55 * len(names)), 4))
    width = 0.8 / len(by_clf)
    xs = np.arange(len(names))
    lows = []
    for i, (clf, r) in enumerate(by_clf.items()):
        means = [r["arms"][n]["summary"]["balanced_accuracy"]["mean"] if n in r["arms"] else 0 for n in names]
        stds = [r["arms"][n]["summary"]["balanced_accuracy"]["std"] if n in r["arms"] else 0 for n in names]
        lows.append(min(m for m in means if m) if any(means) else 0)
        ax.bar(xs + i * width - 0.4 + width / 2, means, width, yerr=stds, capsize=3, label=clf)
    ax.set_xticks(xs, names)
    ax.set_ylabel("balanced accuracy (test)")
    ax.set_ylim(max(0.0, min(lows) - 0.1), 1.0)
    ax.set_title("Balanced accuracy per arm (mean ± std over seeds)")
    ax.legend(fontsize=8)
    fig.autofmt_xdate(rotation=30)
    fig.tight_layout()
    fig.savefig(root / "balanced_accuracy.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    plots = ["balanced_accuracy.png"]
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
