"""The answer that opens report.md: per learner the confirmatory verdict, the difference with its Holm-adjusted
interval (the verdict's rule) and the unadjusted one, what the best arm without a GAN is, and how each arm was
chosen."""

from __future__ import annotations

import math

from ..evaluation.results import Comparison, Headline, LearnerResult
from .choices import search_line


def p_text(p: float | None) -> str:
    return "—" if p is None or math.isnan(p) else (f"{p:.3f}" if p >= 0.001 else "< 0.001")


def _holm(p: float) -> str:
    text = p_text(p)
    return f"Holm p {text}" if text.startswith("<") else f"Holm p = {text}"


def ci_text(v: Comparison | None) -> str:
    if not v:
        return "—"
    if not v.has_interval:
        return f"{v.mean * 100:+.1f} [—]"
    return f"{v.mean * 100:+.1f} [{v.low * 100:+.1f}, {v.high * 100:+.1f}]"


def _verdict_ci(v: Comparison | None, explain: bool = False) -> str:
    """A confirmatory comparison: its Holm-adjusted interval (the verdict's rule) and the unadjusted one."""
    if not v:
        return "—"
    lo, hi = v.holm_interval
    if math.isnan(lo):
        return f"{ci_text(v)} points ({interval_label(v)})"
    why = ": it excludes 0 exactly when the verdict is helps or hurts" if explain else ""
    return (f"{v.mean * 100:+.1f} [{lo * 100:+.1f}, {hi * 100:+.1f}] points (Holm-adjusted 95 % interval{why}; "
            f"unadjusted [{v.low * 100:+.1f}, {v.high * 100:+.1f}])")


def pm_text(s) -> str:
    return f"{s.mean * 100:.1f} ± {s.std * 100:.1f}"


def _which(best_non_gan: str, whose: str) -> str:
    """What the best arm without a GAN is: the search's winner, or self-training that beat it on validation."""
    if best_non_gan.startswith("real+self-training"):
        return f"self-training on the unlabelled pool, which beat {whose} search's winner on validation"
    return f"{whose} search's winner"


def use_text(verdict: str, gan_arm: str, best: str) -> str:
    """What to do, from a confirmatory verdict: the GAN arm only when it helps."""
    if verdict == "helps":
        return f"use the GAN arm, {gan_arm}"
    return f"use {best}, the best arm without a GAN" + (
        " (the GAN data did not beat it)" if verdict in ("no detectable change", "hurts") else
        " (the GAN data could not be judged: why, beside the answer)")


def interval_label(v: Comparison) -> str:
    """What the interval printed beside a confirmatory comparison is."""
    if not math.isnan(v.holm_interval[0]):
        return "Holm-adjusted 95 % interval"
    if v.gan_trainings == 1:
        return "95 % interval, unadjusted, over classifier seeds, draws and test sampling: not GAN training"
    return "95 % interval, unadjusted"


def summary(h: Headline) -> str:
    """One learner's answer in one line: verdict, difference with its Holm-adjusted interval, what to use."""
    d = h.difference
    lo, hi = d.verdict_interval
    interval = "" if math.isnan(lo) else f" [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    return (f"best GAN arm {h.gan_arm} against {h.best_non_gan_arm}: {100 * d.mean:+.1f}{interval} points "
            f"({interval_label(d)}), {h.seeds} seeds; against real data alone: {h.vs_real.verdict}"
            f"{credit(h)}. What to do: {use_text(h.verdict, h.gan_arm, h.best_non_gan_arm)}.")


def credit(h: Headline) -> str:
    """Where a gain over real data comes from when the GAN arm does not beat the best arm without a GAN."""
    if h.vs_real is None or h.vs_real.verdict not in ("helps", "hurts") or h.verdict in ("helps", "hurts") \
            or h.best_non_gan_arm == "real":
        return ""
    how = ("self-training on the unlabelled pool, with its rebalancing and augmentation"
           if "self-training" in h.best_non_gan_arm else "its rebalancing and augmentation")
    return (f" (that gain is the best arm without a GAN's — {how} — which the GAN arm builds on; the GAN samples "
            "add no detectable change to it)")


def gan_level_lines(h: Headline) -> list[str]:
    """Why confirmatory comparisons read "not enough evidence" (one line per reason, naming them), and a table of
    each GAN training seed's difference where the comparisons were made at the GAN level."""
    why: dict[str, list[str]] = {}
    rows = []
    for x in [h, *h.others]:
        for c in (x.difference, x.vs_real):
            if c is None:
                continue
            if c.verdict_reason:
                why.setdefault(c.verdict_reason, []).append(f"{x.classifier}: {c.arm} vs {c.reference}")
            if c.per_gan_seed:
                rows.append((x.classifier, c))
    out = [line for reason, names in why.items()
           for line in ("", f"**Not enough evidence** ({'; '.join(names)}): {reason}.")]
    if rows:
        gans = max(len(c.per_gan_seed) for _, c in rows)
        out += ["", "Per GAN training seed: the mean difference (points) of the classifier seeds that drew from each "
                "GAN — the interval's unit, so the spread between GANs is in it.", "",
                "| learner | comparison | " + " | ".join(f"GAN {g}" for g in range(gans)) + " | sd between GANs |",
                "|---|---|" + "---:|" * gans + "---:|"]
        for clf, c in rows:
            cells = {g["gan"]: f"{100 * g['mean']:+.1f} ({g['seeds']})" for g in c.per_gan_seed}
            out.append(f"| {clf} | {c.arm} vs {c.reference} | "
                       + " | ".join(cells.get(g, "—") for g in range(gans)) + f" | {100 * c.sd:.1f} |")
        out += ["", "(in brackets: the classifier seeds that drew from that GAN)"]
    return out


def answer_at_a_glance(h: Headline | None) -> list[str]:
    """The top of report.md: one line per learner, then where the figures and the details are."""
    out = ["## The answer", ""]
    if h is None:
        return out + ["No GAN arm took part: every comparison below is an exploratory estimate.", ""]
    for x in [h, *h.others]:
        out += [f"- **{x.classifier}: {x.verdict}** — {summary(x)}"]
    return out + ["", "The figures: report.html beside this file. How each arm was chosen and every number: below.",
                  ""]


def answer_lines(h: Headline | None, first: LearnerResult, learners: dict[str, LearnerResult]) -> list[str]:
    out = ["## How the answer was reached", ""]
    if h is None:
        return out + ["No GAN arm took part in this evaluation, so there is no confirmatory family: every "
                      "comparison below is an exploratory estimate.", ""]
    g, b, ba = h.gan_arm, h.best_non_gan_arm, h.balanced_accuracy
    word = {"helps": "beats", "hurts": "loses to", "no detectable change": "is not distinguishable from",
            "not enough evidence": "cannot yet be judged against"}
    out.append(f"**Did the GAN data beat the best you can do without it? {h.verdict}.** The best GAN arm on "
               f"validation, **{g}** ({ba[g] * 100:.1f} % balanced accuracy on test), {word[h.verdict]} the best "
               f"arm without a GAN ({_which(b, 'the')}), **{b}** ({ba[b] * 100:.1f} %): "
               f"{_verdict_ci(h.difference, True)}, {_holm(h.difference.p_holm)}, {h.seeds} seeds ({h.classifier}).")
    if b != "real":
        out.append("")
        out.append(f"Against real data alone ({ba['real'] * 100:.1f} %): **{h.vs_real.verdict}**, "
                   f"{_verdict_ci(h.vs_real)}, {_holm(h.vs_real.p_holm)}{credit(h)}.")
    d = h.difference
    out += gan_level_lines(h)
    if h.verdict == "hurts":
        out += ["", "**The synthetic data did not help here**: the best arm without a GAN did better; use it."]
    elif h.verdict == "no detectable change" and d.has_interval:
        lo, hi = d.verdict_interval
        out += ["", f"**No evidence that the synthetic data helps**: the data are consistent with anything from "
                f"{lo * 100:+.1f} to {hi * 100:+.1f} points against {b}, at {h.seeds} seeds."]
    elif h.verdict == "helps":
        out += ["", f"**The synthetic data helped**: {g} beats the best arm without a GAN."]
    for o in h.others:  # the modality's other learners answer too, in the same confirmatory family
        ob = o.balanced_accuracy
        out += ["", f"**{o.classifier}: {o.verdict}.** Its best GAN arm on validation, {o.gan_arm} "
                f"({ob[o.gan_arm] * 100:.1f} %), against its best arm without a GAN "
                f"({_which(o.best_non_gan_arm, 'its')}), "
                f"{o.best_non_gan_arm} "
                f"({ob[o.best_non_gan_arm] * 100:.1f} %): {_verdict_ci(o.difference)}, {_holm(o.difference.p_holm)}, "
                f"{o.seeds} seeds" + (f"; against real ({ob['real'] * 100:.1f} %): {o.vs_real.verdict}, "
                                      f"{_verdict_ci(o.vs_real)}, {_holm(o.vs_real.p_holm)}{credit(o)}."
                                      if o.best_non_gan_arm != "real" else ".")]
    c = first.classic
    if c.candidates:
        chosen = (f"**{c.chosen}** chosen on validation among {', '.join(c.candidates)}" if c.chosen else
                  f"**left out**: {c.reason}")
        out += ["", f"Classic augmentation: {chosen}."]
    for clf, res in learners.items():
        out += search_line(clf, res)
    for head in [h, *h.others]:
        n = head.gan_choice_noise
        if n:
            se = "" if n["se"] is None or math.isnan(n["se"]) else f" ± {n['se'] * 100:.1f}"
            out += ["", f"Best GAN arm for {head.classifier}: {head.gan_arm}, chosen on the validation split "
                    f"({head.chosen_on.get(head.gan_arm, math.nan) * 100:.1f} %, {n['seeds']} seeds); its margin over "
                    f"the runner-up, {n['runner_up']}: {n['margin'] * 100:+.1f}{se} points."]
    return out + [""]


