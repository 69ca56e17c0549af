"""The parts of report.md that say how each choice was made and what was measured about the verdicts:
the non-GAN search (its winner, its stages, the margin over the runner-up), the protocol's list of
choices, and the report's calibration (or the plain statement that it has none)."""

from __future__ import annotations

import math

from ..evaluation.budget import shown
from ..evaluation.results import LearnerResult, Results
from ..evaluation.stats import clopper_pearson_upper


def search_line(clf: str, res: LearnerResult) -> list[str]:
    s = res.search
    if not s:
        return []
    line = (f"Best without a GAN for {clf}: **{s['chosen']}**, {s['chosen_score'] * 100:.1f} % balanced accuracy on "
            f"the {s['chosen_on']}, the winner of {s['cells']} grid cells ({s['distinct_fits']} distinct fits)")
    n = s.get("noise")
    if n:
        se = "" if n["se"] is None or math.isnan(n["se"]) else f" ± {n['se'] * 100:.1f} (se over {n['seeds']})"
        line += f"; its margin over the runner-up, {n['runner_up']}: {n['margin'] * 100:+.1f}{se} points"
    return ["", line + "."]


def search_md(clf: str, res: LearnerResult) -> list[str]:
    """Every score the non-GAN choice was made on, stage by stage (search.halving)."""
    s = res.search
    if not s:
        return []
    stages = s["stages"]
    out = ["", f"Non-GAN search for {clf} on the {s['chosen_on']}: every cell at {stages[0]['seeds']} seed(s)"
           + (f", the best {stages[1]['arms']} at {stages[1]['seeds']}" if len(stages) > 1 else "")
           + f" (mean balanced accuracy, percent); {s['tie_rule']}.", "",
           "| cell | " + " | ".join(f"{st['seeds']} seed(s)" for st in stages) + " |",
           "|---|" + "---:|" * len(stages)]
    for name in stages[0]["balanced_accuracy"]:
        cells = [f"{st['balanced_accuracy'][name] * 100:.1f}" if name in st["balanced_accuracy"] else "—"
                 for st in stages]
        mark = " (chosen)" if name == s["chosen"] else ""
        out.append(f"| {name}{mark} | " + " | ".join(cells) + " |")
    for name, same in (s.get("same_fit") or {}).items():
        out.append(f"\n{name}: for {clf} the same fit as {', '.join(same)} (fitted once).")
    return out


def false_verdict_rate_text(cal: dict) -> str:
    """A measured false-verdict rate with its standard error, or zero events with their 95 % Clopper-Pearson upper
    bound — never '± 0'."""
    if cal["false_verdict_rate"] > 0:
        return f"{cal['false_verdict_rate']:.3f} ± {cal['false_verdict_rate_se']:.3f}"
    n = int(cal["simulations"])
    return f"0 in {n} families (95 % Clopper-Pearson upper bound {clopper_pearson_upper(0, n):.4f})"


def calibration_text(cal: dict | None, deterministic: tuple[str, ...] = (), one_gan: bool = False,
                     not_the_reference: dict[str, tuple[str, str]] | None = None) -> str:
    """What was measured about this report's verdicts, and only that. `deterministic`: learners whose every
    arm scored the same at every seed (seed refits cannot calibrate them). `one_gan`: the report's GAN samples came
    from one GAN, so its GAN arms get no verdict word (stats.verdict). `not_the_reference` (learner -> (arm
    measured, headline's reference)): learners whose calibration measured another arm than the one the headline
    compares with (`reference_not_measured`)."""
    if not cal or "false_verdict_rate" not in cal:
        why = (cal or {}).get("none") or "no `augmentor calibrate` run was made for it"
        return (f"This report has no calibration of its own ({why}): the level and power of its verdicts on this "
                "data and these learners are not measured; reports/verdict-calibration.md lists what is.")
    per = "; ".join(
        f"{n} {v['power']:.2f} for a loss of {v['power_effect_points']:.2f} points" if v["power_effect_points"] > 0
        else f"{n}: not measured (its weakened arm scored {-v['power_effect_points']:.2f} points higher, no loss)"
        for n, v in (cal.get("per_learner") or {}).items())
    n = int(cal["simulations"])
    level = false_verdict_rate_text(cal)
    fixed = [lr for lr in (cal.get("per_learner") or {}) if lr in deterministic]
    shaken = [lr for lr in fixed if (cal.get("choice") or {}).get(lr, {}).get("gan_sd_points")]
    still = [lr for lr in fixed if lr not in shaken]
    limit = ((f" Seed refits do not vary for {', '.join(still)} (every seed the same fit): their null comparisons "
              "are one fit repeated and cannot produce a false verdict, so this rate does not measure them; for them "
              "the test split is the limit (the test-sampling interval)." if still else "")
             + (f" Seed refits do not vary for {', '.join(shaken)} (every seed the same fit): in their null only "
                "the GAN-training shift varies, so the rate measures that and test sampling, not seeds."
                if shaken else ""))
    return (f"Calibration on this report's data and learners (`augmentor calibrate`, {n} "
            f"simulated families, {cal['pool_fits']} fits per arm, {_simulated_choice(cal)}): a false-verdict "
            f"rate of {level} for the family of "
            f"{cal['family_size']} at {_seeds(cal)} seeds; power to call a known loss 'hurts' (each learner's arm "
            f"trained on a random 70 % of each class's samples): {per}.{limit}"
            + (" One GAN drew this report's GAN samples, so its GAN arms get no verdict word: these are the level "
               "and power of the seed-level test a verdict would use." if one_gan else "")
            + "".join(f" For {n} it measured {arm}, the search's winner, not {ref}, the arm the headline compares "
                      "with (no self-training plan of the recipe makes that arm): this level and power are that "
                      "arm's." for n, (arm, ref) in (not_the_reference or {}).items()))


def _simulated_choice(cal: dict) -> str:
    """How the calibration's null chose its arms: as many candidates as the report, or (an older calibration) two."""
    choice = cal.get("choice")
    if not choice:
        return ("choice on validation between two candidates included, fewer than the report chose among (measured "
                "before the null chose as the report did: `augmentor calibrate` measures it again)")
    alike: dict[tuple, list[str]] = {}
    for n, c in choice.items():
        alike.setdefault((c["gan_arms"], c["grid_cells"], c["grid_top"]), []).append(n)

    def plural(k: int, what: str) -> str:
        return f"{k} {what}{'' if k == 1 else 's'}"

    each = "; ".join(f"the best of {plural(g, 'GAN arm')} and the grid's winner of {plural(b, 'cell')} (each at 1 "
                     f"seed, the best {t} at the choice seeds) for {_and(ns)}" for (g, b, t), ns in alike.items())
    shifts = {n: c["gan_sd_points"] for n, c in choice.items() if c.get("gan_sd_points")}
    gan = ("; GAN training as a shift per GAN arm and trained GAN of sd "
           + ", ".join(f"{v:.2f} points for {n}" for n, v in shifts.items())
           + " (the spread between the report's GANs' mean differences)") if shifts else ""
    return f"the report's choices on validation simulated as it made them: {each}{gan}"


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def calibration_of(results: Results) -> str:
    """`calibration_text` for a report: its calibration entry, its seed-invariant learners, whether one GAN drew its
    samples, and the learners whose calibration measured another arm than the headline's reference."""
    deterministic = tuple(n for n, lr in results.learners.items() if lr.seed_invariant)
    return calibration_text(results.section("calibration"), deterministic, one_gan(results),
                            reference_not_measured(results))


def reference_not_measured(results: Results) -> dict[str, tuple[str, str]]:
    """Learners whose calibration measured another arm than their headline's reference: (measured, reference)."""
    arms = (results.section("calibration") or {}).get("arms") or {}
    h = results.headline
    heads = [h, *h.others] if h else []
    return {x.classifier: (arms[x.classifier], x.best_non_gan_arm) for x in heads
            if arms.get(x.classifier) and arms[x.classifier] != x.best_non_gan_arm}


def protocol(results: Results) -> list[str]:
    p = results.protocol
    lines = [f"- Seeds 0..{p['seeds'] - 1} for every arm; the confirmatory family's arms "
             f"0..{p.get('confirm_seeds', p['seeds']) - 1}; classifier(s): {', '.join(p['classifiers'])}."]
    lines += seed_plan_lines(results) + steps_plan_lines(results)
    if "steps_per_arm" in p:
        lines.append(f"- SmallCNN: {p['steps_per_arm']} Adam steps for every arm (batch {p['batch_size']}, "
                     f"lr {p['lr']}, one-cycle schedule), device {p['device']}; classic augmentation candidates: "
                     f"{', '.join(p.get('classic_candidates', [])) or 'none'}; mixup alphas: "
                     f"{', '.join(f'{a:g}' for a in p.get('mixup_alphas', [])) or 'none'}"
                     + (f"; fits run {p['workers']} at a time in worker processes of one torch thread each."
                        if p.get("workers", 1) > 1 else "."))
    grid = p.get("grid")
    if grid:
        axes = (f"rebalancing {{{', '.join(grid['rebalancing']) or '—'}}} x classic {{none"
                + "".join(f", {c}" for c in grid["classic"]) + "} x mixup {0"
                + "".join(f", {a:g}" for a in grid["mixup"]) + "}")
        lines += [f"- Choices made from data, all on the {p.get('choices_on', 'validation split')}: the non-GAN grid "
                  f"({axes}, `real` always a cell; cells that are one fit for a learner fitted once) searched per "
                  f"learner by successive halving (every cell at 1 seed, the best {p.get('search_keep', 0.25):.0%} "
                  f"(at least 2) at {p['seeds']} seeds); its winner is the best arm without a GAN and every GAN arm "
                  "takes the winner's whole setting; the GAN arm on validation. Declared before the run: the grid, "
                  "the dose ratios, the filter threshold, the GAN's last checkpoint, the classifier's budget and "
                  "learning rate, the tie rule.",
                  ]
    else:
        mixed = " and ".join({"logit-adjust": "logit adjustment", "drw": "DRW"}.get(x, x)
                             for x in p.get("mixup_losses", ["logit-adjust"]))
        lines += ["- Choices made from data, all on the validation split, in order: the classic augmentation policy "
                  f"(kept only if not below real); the mixup alpha (with over-sampling, then reused with {mixed}); "
                  "the loss-side fix the GAN data is combined with; the reference arm; the headline's "
                  "GAN and non-GAN arms. Declared before the run: the candidate sets, the dose ratios, the filter "
                  "threshold, the GAN's last checkpoint, the classifier's budget and learning rate."]
    lines += [
              "- The test split is real held-out data, read once per arm and seed after the fit; no synthetic "
              "sample is ever tested on.", split_size_note(results)]
    return lines


def split_size_note(results: Results) -> str:
    n, smallest = sum(results.test_counts), min(results.test_counts)
    return (f"- The test split has {n} samples (smallest class {smallest}): one test sample of the smallest class "
            f"moves its recall by {100 / smallest:.1f} points and balanced accuracy by "
            f"{100 / smallest / len(results.test_counts):.1f}.")


def seed_plan_lines(results: Results) -> list[str]:
    """How many confirmatory seeds each learner got and the power they reach (evaluation/seed_plan.py)."""
    h = results.headline
    heads = [x for x in ([h, *h.others] if h else []) if x.seed_plan]
    if not heads:
        return []
    first = heads[0].seed_plan
    out = [f"- Seeds where they buy power: each learner's confirmatory arms start at {first['start']} seeds and get "
           f"more until the power to call a {first['effect_points']:.1f}-point difference reaches "
           f"{first['target']:.2f} (level {first['level']:.4f}, Bonferroni over the family: conservative for Holm), "
           f"estimated on {first['estimated_on']}:"]
    for x in heads:
        s = x.seed_plan
        why = {"reached": "the target reached",
               "seeds do not vary": "its fits do not vary with the seed, so more seeds add nothing: the test split "
               "is the limit",
               "test split": "the test split's size is the limit: more seeds come within 5 % of what infinitely "
               "many would give"}.get(s["stopped_by"], f"stopped by {s['stopped_by']}")
        out.append(f"  - {x.classifier}: {s['seeds']} seeds, power {s['power']:.2f} (seed spread "
                   f"{s['seed_sd_points']:.2f} points, sampling s.e. {s['test_se_points']:.2f} points); {why}.")
    return out


def steps_plan_lines(results: Results) -> list[str]:
    """Each network learner's step budget as checked on validation (evaluation/steps_plan.py)."""
    out = []
    for name, s in (results.protocol.get("steps_plan") or {}).items():
        scores = ", ".join(f"x{m}: {v * 100:.1f} %" for m, v in s["validation"].items())
        out.append(f"- Steps for {name}: the budget of {s['base_steps']} steps and its multiples fitted on "
                   f"{' and '.join(s['pilot_arms'])} ({s['seeds']} seeds) and scored on the validation split "
                   f"({scores}); kept x{s['multiplier']} = {s['steps']} steps for every arm, "
                   f"{s['rule'].split('; ')[0]}.")
    return out


def _seeds(cal: dict) -> str:
    """The calibration's confirmatory seeds: one count, or each learner's (a report's seed plan)."""
    per = cal.get("seeds_per_learner")
    return str(cal["seeds"]) if not per else ", ".join(f"{n} {s}" for n, s in per.items())


def budget_lines(results: Results) -> list[str]:
    """`--budget`: the pilot, the plan's estimate, what it cut, the time taken and the power at the seeds it got."""
    b = results.section("budget")
    if not b:
        return []
    p = b["pilot"]
    fits = ", ".join(f"{n} {s:.2f} s" for n, s in p["fit_s"].items())
    out = ["", "## The time budget", "",
           f"- Budget {_time(b['budget_s'])} (`--budget`); the run took {_time(b.get('took_s', 0))} up to "
           f"writing this report. The plan aimed at {b['aim']:.0%} of the budget and was estimated at "
           f"{_time(b['estimated_total_s'])} from a pilot of {p['seconds']:.0f} s on this machine (the GAN: "
           f"{p['gan_fixed_s']:.1f} s + {1000 * p['gan_step_s']:.1f} ms a step, "
           f"{p.get('export_s', 0):.0f} s to export; one fit: {fits})."]
    cuts = b["cuts"]  # the plan's, and the re-plan's once the GAN was trained, as far as they still hold
    changed = b["changed"]  # the run's settings against the recipe's
    if cuts:
        out.append("- Cut to fit, in the plan's order (what costs the answer least first): " + "; ".join(cuts) + ".")
        out += [f"  - `{k}`: {shown(v[0])} → {shown(v[1])}" for k, v in changed.items()]
        if b.get("before_the_evaluation", {}).get("over_budget"):
            out.append("- Even with every cut, the evaluation was estimated over the budget once the GAN was trained.")
    else:
        out.append("- Nothing was cut: the recipe fits the budget as it is.")
    h = results.headline
    for x in ([h, *h.others] if h else []):
        s = x.seed_plan
        if s:
            out.append(f"- {x.classifier}: at the {s['seeds']} confirmatory seeds it got, the power to call a "
                       f"{s['effect_points']:.1f}-point difference is {s['power']:.2f} (target {s['target']:.2f}).")
        else:
            out.append(f"- {x.classifier}: {x.seeds} confirmatory seeds (no seed plan: its power is not estimated).")
    return out


def _time(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def one_gan(results: Results) -> bool:
    """Whether the report's confirmatory GAN arms drew from one GAN (no verdict word: stats.verdict)."""
    h = results.headline
    return bool(h and h.difference and h.difference.gan_trainings == 1)
