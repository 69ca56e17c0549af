"""Write an evaluation as report.md + results.json + per_class.csv + PNG plots.

One layout for every modality, read from the typed results (evaluation/results.py): the answer first
(the confirmatory family), then per classifier the estimates table, then splits, fidelity,
filter, validity, arms and protocol. Every number in report.md is also in results.json. The
folder is written to a temporary name and renamed.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_dir, write_bytes
from ..core.outputs import output_lock, prepare_output, write_marker
from ..evaluation.results import LearnerResult, Results
from ..evaluation.stats import method_text
from .answer import answer_at_a_glance, answer_lines, ci_text, p_text, pm_text
from .choices import budget_lines, calibration_of, protocol, search_md
from .figures import figures
from .page import page
from .plots import plots as _plots


def write_report(report_dir: str | Path, results: Results, *, samples: object | None = None,
                 title: str = "augmentor report", recipe_text: str | None = None,
                 extra: dict | None = None, overwrite: bool = False, real: object | None = None,
                 synthetic: object | None = None) -> Path:
    """Write the report folder atomically; return the path of report.md. `extra`: sections to add to the
    results (versions, timings, the recipe, the budget)."""
    report_dir = Path(report_dir)
    with output_lock(report_dir, "--report"):
        check_report_dir(report_dir, overwrite)
        results = results.with_sections(**(extra or {}))
        with atomic_dir(report_dir) as tmp:
            write_marker(tmp, "report")
            (tmp / "results.json").write_text(json.dumps(_jsonable(results.to_dict()), indent=2) + "\n")
            _per_class_csv(tmp / "per_class.csv", results)
            _plots(tmp, results, samples)
            figs = figures(tmp, results, real, synthetic)
            (tmp / "report.md").write_text(markdown(results, title, figs, recipe_text))
            (tmp / "report.html").write_text(page(results, title, tmp, figs))
    return report_dir / "report.md"


def rerender(report_dir: str | Path, title: str | None = None, calibration: dict | None = None) -> Path:
    """Rewrite report.md, per_class.csv and results.json of an existing report from its results.json
    (e.g. after the wording or a verdict rule changed, or with `calibration`, `augmentor calibrate`'s measurement,
    stored in it): the numbers are read back through the typed results and written from them, the confirmatory
    verdicts judged by today's rules (`results.rejudged`); nothing is re-run.
    Each file is replaced atomically."""
    report_dir = Path(report_dir)
    results = Results.read(report_dir, rejudge=True)  # the verdicts as the code judges today
    if calibration is not None:
        results = results.with_sections(calibration=calibration)
    if "family_size" in results.statistics:  # the method as the code states it today
        results = results.with_sections(statistics={**results.statistics,
                                                    "method": method_text(results.statistics["family_size"])})
    old = (report_dir / "report.md").read_text()
    title = title or old.splitlines()[0].removeprefix("# ")
    recipe = old.split("```toml\n", 1)[1].rsplit("\n```", 1)[0] if "```toml\n" in old else None
    with output_lock(report_dir, "--report"):
        write_bytes(report_dir / "results.json", (json.dumps(_jsonable(results.to_dict()), indent=2) + "\n").encode())
        _per_class_csv(report_dir / "per_class.csv", results)
        (report_dir / "balanced_accuracy.png").unlink(missing_ok=True)  # the old bar chart: figures.py replaces it
        figs = figures(report_dir, results)
        write_bytes(report_dir / "report.md", markdown(results, title, figs, recipe).encode())
        write_bytes(report_dir / "report.html", page(results, title, report_dir, figs).encode())
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

def _statistics(results: Results) -> list[str]:
    s, src = results.statistics, results.variance_sources
    covered = [k for k, v in src.items() if v]
    missing = [k for k, v in src.items() if not v]
    family = "; ".join(s["family"]) or "none (no GAN arm)"
    return ["How to read the numbers: " + method_text(s["family_size"]) + f". The confirmatory family: {family}. "
            f"Exploratory comparisons: {s.get('exploratory_size', 0)}.", "",
            f"The intervals cover: {', '.join(covered) or 'nothing (one seed)'}. They do **not** cover: "
            f"{', '.join(missing) or '—'}. " + calibration_of(results)]


def markdown(results: Results, title: str, plots: list[tuple[str, str]], recipe_text: str | None) -> str:
    first = next(iter(results.learners.values()))
    out = [f"# {title}", "", *answer_at_a_glance(results.headline)]
    out += answer_lines(results.headline, first, results.learners) + _statistics(results) + budget_lines(results)
    for clf, res in results.learners.items():
        out += ["", f"## Estimates: {clf} (balanced accuracy, percent; validation for choices, test for "
                "estimates; exploratory)", ""]
        out += _estimates(res, results)
        out += search_md(clf, res)
    out += _splits(results)
    out += _fidelity_md(results.section("fidelity") or {})
    out += _filter_md(results.section("quality_filter"))
    out += _teacher_md(results)
    out += _memorisation_md(results.section("memorisation"))
    out += _two_sample_md(results.section("two_sample_test"))
    out += _validity_md(results.section("validity"))
    for clf, code in (results.section("use_it") or {}).items():
        out += ["", f"## Use it: {clf}", "", "The best arm without a GAN for this learner, as code for your own "
                "training (seed 0; `x_new`: the data to predict).", "", "```python", code, "```"]
    every = {n: a for res in results.learners.values() for n, a in res.arms.items()}
    out += ["", "## Arms", ""] + [f"- **{n}** ({a.kind}): {a.description}" for n, a in every.items()]
    out += ["", "## Protocol", ""] + protocol(results)
    return "\n".join(out + _closing(results, plots, recipe_text)) + "\n"


def _estimates(res: LearnerResult, results: Results) -> list[str]:
    arms, ref = res.arms, res.reference
    out = [f"Reference: **{ref}** ({res.reference_chosen_by})."]
    if res.left_out_of_search:
        out.append(f"Left out of the reference search: {', '.join(res.left_out_of_search)} ({res.classic.reason}).")
    out += ["", "Differences are over the first " f"{results.protocol['seeds']} seeds with a 95 % interval and a "
            "Benjamini-Hochberg q-value; no verdict word (see The answer for the confirmatory verdicts). \"Chosen "
            "on\": the score each choice was made on, with its seeds (grid cells: their search stage, "
            f"{results.protocol.get('choices_on', 'validation split')}; GAN arms: validation).", "",
            f"| arm | kind | seeds | train samples | chosen on (seeds) | test | Δ vs real [95 % CI] | q | Δ vs {ref} "
            "[95 % CI] | q |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, a in arms.items():
        vr, vb = a.vs_real, a.vs_reference
        cs = a.raw.get("choice_score")
        val = (f"{cs['balanced_accuracy'] * 100:.1f} ({cs['seeds']})" if cs else
               f"{a.validation_summary.balanced_accuracy.mean * 100:.1f} ({a.seeds})")
        out.append(f"| {name} | {a.kind} | {a.seeds} | {a.n_train} | {val} | "
                   f"{pm_text(a.summary.balanced_accuracy)} | {ci_text(vr)} | {p_text(vr.q_bh if vr else None)} | "
                   f"{ci_text(vb)} | {p_text(vb.q_bh if vb else None)} |")
    out += ["", "Accuracy and macro-F1 on test (percent, mean ± std):", "", "| arm | accuracy | macro-F1 |",
            "|---|---:|---:|"]
    out += [f"| {n} | {pm_text(a.summary.accuracy)} | {pm_text(a.summary.macro_f1)} |" for n, a in arms.items()]
    out += ["", "Per-class recall on test (percent, mean over seeds):", "",
            "| class | train | test | " + " | ".join(arms) + " |", "|---|---:|---:|" + "---:|" * len(arms)]
    for i, c in enumerate(results.classes):
        cells = [f"{a.summary.recall_mean[i] * 100:.1f}" for a in arms.values()]
        out.append(f"| {c} | {results.train_counts[i]} | {results.test_counts[i]} | " + " | ".join(cells) + " |")
    return out


def _splits(results: Results) -> list[str]:
    out = ["", "## Splits (real samples per class)", "",
           "| class | train | validation | test |", "|---|---:|---:|---:|"]
    for i, c in enumerate(results.classes):
        out.append(f"| {c} | {results.train_counts[i]} | {results.validation_counts[i]} | "
                   f"{results.test_counts[i]} |")
    out.append(f"| total | {sum(results.train_counts)} | {sum(results.validation_counts)} | "
               f"{sum(results.test_counts)} |")
    return out


def _kid(m: dict) -> str:
    return f"{m['kid']:.4f} [{m['kid_low']:.4f}, {m['kid_high']:.4f}]"


def _fidelity_md(fid: dict) -> list[str]:
    if not fid:
        return []
    out = ["", "## Fidelity (seed-0 draw; features learnt from the real training split; reference: the real "
           "validation split restricted to the same classes, so fidelity may inform choices)", "",
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


def _memorisation_md(mem: dict | None) -> list[str]:
    if not mem:
        return []
    out = ["", "## Memorisation (L2 to the nearest real training sample of the same class: pixels or series)", "",
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


def _two_sample_md(tests: dict | None) -> list[str]:
    if not tests:
        return []
    out = ["", "## Classifier two-sample test (real validation series vs synthetic, MiniRocket features)", "",
           "Cross-validated accuracy of a logistic regression telling real from synthetic series: 50 % means it "
           "cannot tell them apart, 100 % that every synthetic series is recognisable.", "",
           "| set | series per side | accuracy | sd over folds |", "|---|---:|---:|---:|"]
    out += [f"| {name} | {t['per_side']} | {t['accuracy'] * 100:.1f} % | {t['sd_over_folds'] * 100:.1f} |"
            for name, t in tests.items()]
    return out + [""]


def _filter_md(qf: dict | None) -> list[str]:
    if not qf:
        return []
    out = ["", f"## Quality filter (threshold {qf['threshold']}; class-balanced classifier trained on the training "
           f"split; counted over {qf['counted_over']})", "",
           "| class | drawn | accepted | acceptance rate |", "|---|---:|---:|---:|"]
    out += [f"| {c} | {v['drawn']} | {v['accepted']} | {v['acceptance_rate'] * 100:.1f} % |"
            for c, v in qf["per_class"].items()]
    return out


def _teacher_md(results: Results) -> list[str]:
    """Per learner and teacher arm, per class, summed over seeds: GAN samples drawn for the teacher arm,
    how many its teacher assigns to the conditioned class, how many it kept, and why a class got none."""
    guard = results.section("teacher_guard") or {}
    flagged = set(guard.get("flagged", []))
    out = []
    guarded = "teacher-arm, gap-filling, filtered or dose" if "gap-filling" in guard.get("why", "") else "teacher-arm"
    if guard.get("sets") is not None:  # one decision per class from every memorisation check (reports since then)
        checked = "; ".join(f"{n}: {', '.join(f) or 'none'}" for n, f in guard["sets"].items())
        out += ["", "## The copy guard", "",
                f"Classes that the memorisation check flags as copying in any GAN draw it checks get no GAN samples "
                f"in any arm: {', '.join(guard['flagged']) or 'none flagged'} (flagged per draw — {checked})."]
    elif guard:
        out += ["", "## Teacher arms: the copy guard", "",
                (f"Classes whose teacher-pool draw the memorisation check flags as copying get no {guarded}"
                 f" samples: {', '.join(sorted(flagged)) or 'none flagged'}." if guard.get("checked") else
                 f"No copy guard: {guard.get('why', 'no memorisation check for this modality')}.")]
    for clf, res in results.learners.items():
        for (name, arm), key in ((item, key) for item in res.arms.items()
                                 for key in ("teacher_selection", "self_training_selection")):
            per_seed = arm.raw.get(key) or {}
            if not per_seed:
                continue
            if key == "self_training_selection":
                tot = {k: np.sum([np.asarray(v[k]) for v in per_seed.values()], axis=0)
                       for k in ("drawn", "kept", "wanted")}
                out += ["", f"## Self-training selection: {clf}, {name} (summed over {len(per_seed)} seeds)", "",
                        "The unlabelled pool as its teacher labels it (its top class), and the top-k per class kept.",
                        "", "| class | pool samples it labels so | wanted | kept |", "|---|---:|---:|---:|"]
                out += [f"| {c} | {int(tot['drawn'][i])} | {int(tot['wanted'][i])} | {int(tot['kept'][i])} |"
                        for i, c in enumerate(results.classes)]
                continue
            tot = {k: np.sum([np.asarray(v[k]) for v in per_seed.values()], axis=0)
                   for k in ("drawn", "kept", "teacher_agrees_drawn", "teacher_agrees_kept")}
            wanted = np.sum([np.asarray(v.get("wanted", v["kept"])) for v in per_seed.values()], axis=0)
            hard = arm.raw.get("teacher_hard", False)
            out += ["", f"## Teacher selection: {clf}, {name} (summed over {len(per_seed)} seeds)", "",
                    ("Hard-label learner: only samples the teacher assigns to their conditioning class can be kept."
                     if hard else "Network learner: the top-k by the teacher, soft targets where it disagrees."), "",
                    "| class | drawn | teacher agrees with the GAN's label | wanted | kept | teacher agrees (kept) | "
                    "why none |", "|---|---:|---:|---:|---:|---:|---|"]
            for i, c in enumerate(results.classes):
                n, k, want = int(tot["drawn"][i]), int(tot["kept"][i]), int(wanted[i])
                if not n:
                    continue
                why = "" if k else ("flagged as copies" if c in flagged else "not served (gap 0 or above the share)"
                                    if want == 0 else "the teacher assigns none of the draw to it")
                out.append(f"| {c} | {n} | {tot['teacher_agrees_drawn'][i] / n * 100:.1f} % | {want} | {k} | "
                           + (f"{tot['teacher_agrees_kept'][i] / k * 100:.1f} % |" if k else "— |") + f" {why} |")
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


def _closing(results: Results, plots: list[tuple[str, str]], recipe_text: str | None) -> list[str]:
    out = []
    if results.section("versions"):
        out.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in results.section("versions").items()))
    if results.section("timings_s"):
        out.append("- Stage times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results.section("timings_s").items()))
    out += ["", "## Figures", "", "The same figures as report.html (open it for the answer at a glance).", ""]
    out += [line for name, caption in plots for line in (f"![{caption}]({name})", "")]
    if recipe_text:
        out += ["", "## Recipe", "", "```toml", recipe_text.strip(), "```"]
    return out


def _per_class_csv(path: Path, results: Results) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["classifier", "arm", "class", "train_count", "validation_count", "test_count",
                    "recall_mean", "recall_std"])
        for clf, res in results.learners.items():
            for name, arm in res.arms.items():
                for i, c in enumerate(results.classes):
                    w.writerow([clf, name, c, arm.train_counts[i], results.validation_counts[i],
                                results.test_counts[i], f"{arm.summary.recall_mean[i]:.4f}",
                                f"{arm.summary.recall_std[i]:.4f}"])
