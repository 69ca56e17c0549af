"""Plan how many synthetic samples each class needs: `plan_gaps(counts, strategy)`.

The strategies mean what they mean in imbalanced-learn's over-samplers
(`sampling_strategy`), so its users feel at home:

- "auto" / "not majority": every class but the majority is raised to the majority count;
- "minority": only the smallest class is raised to the majority count;
- "not minority": every class but the minority is raised to the majority count;
- "all": every class is raised to the majority count (the majority gets 0);
- float r (two classes only): the minority is raised to r x the majority count;
- dict {class: target}: each listed class is raised to exactly `target`;
- int N: a flat target; every class below N is raised to N, the others get nothing;
- callable(counts) -> dict: as the dict form.

The result maps class -> number of samples to *add*, like imblearn's `sampling_strategy_`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .errors import GapPlanError

Strategy = str | float | int | Mapping[str, int] | Callable[[dict[str, int]], Mapping[str, int]]
NAMED = ("auto", "not majority", "minority", "not minority", "all")


def plan_gaps(counts: Mapping[str, int], strategy: Strategy = "auto") -> dict[str, int]:
    """Samples to add per class for `strategy` (see module doc). Raises GapPlanError."""
    counts = _check_counts(counts)
    if callable(strategy) and not isinstance(strategy, (str, Mapping)):
        strategy = strategy(dict(counts))
        if not isinstance(strategy, Mapping):
            raise GapPlanError("a callable sampling strategy must return a dict {class: target}")
    if isinstance(strategy, str):
        return _named(counts, strategy)
    if isinstance(strategy, bool):
        raise GapPlanError(f"sampling strategy must not be a boolean, got {strategy!r}")
    if isinstance(strategy, int):
        if strategy < 0:
            raise GapPlanError(f"flat target must be >= 0, got {strategy}")
        return {c: max(0, strategy - n) for c, n in counts.items()}
    if isinstance(strategy, float):
        return _ratio(counts, strategy)
    if isinstance(strategy, Mapping):
        return _targets(counts, strategy)
    raise GapPlanError(f"unsupported sampling strategy {strategy!r}; use one of {NAMED}, "
                       "a float, an int, a dict or a callable")


def _check_counts(counts: Mapping[str, int]) -> dict[str, int]:
    if len(counts) < 2:
        raise GapPlanError(f"need at least 2 classes to plan gaps, got {len(counts)}")
    out = {}
    for c, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise GapPlanError(f"count of class '{c}' must be a non-negative integer, got {n!r}")
        out[str(c)] = n
    return out


def _named(counts: dict[str, int], name: str) -> dict[str, int]:
    key = name.strip().lower().replace("-", " ").replace("_", " ")
    majority = max(counts, key=counts.__getitem__)
    minority = min(counts, key=counts.__getitem__)
    top = counts[majority]
    if key in ("auto", "not majority"):
        chosen = [c for c in counts if c != majority]
    elif key == "minority":
        chosen = [minority]
    elif key == "not minority":
        chosen = [c for c in counts if c != minority]
    elif key == "all":
        chosen = list(counts)
    else:
        raise GapPlanError(f"unknown sampling strategy '{name}'; use one of: {', '.join(NAMED)}, "
                           "a flat count N, or CLASS=N,...")
    return {c: top - counts[c] for c in chosen}


def _ratio(counts: dict[str, int], ratio: float) -> dict[str, int]:
    if len(counts) != 2:
        raise GapPlanError(
            f"a float sampling strategy applies to 2 classes only, got {len(counts)}; "
            "use a dict {class: target} for more"
        )
    if not 0 < ratio <= 1:
        raise GapPlanError(f"float sampling strategy must be in (0, 1], got {ratio}")
    majority = max(counts, key=counts.__getitem__)
    minority = min(counts, key=counts.__getitem__)
    target = int(ratio * counts[majority])
    if target < counts[minority]:
        raise GapPlanError(
            f"ratio {ratio} gives class '{minority}' a target of {target}, below its current "
            f"{counts[minority]} samples; over-sampling cannot remove samples. Use a ratio >= "
            f"{counts[minority] / counts[majority]:.3f}"
        )
    return {minority: target - counts[minority]}


def _targets(counts: dict[str, int], targets: Mapping[str, int]) -> dict[str, int]:
    out = {}
    for c, t in targets.items():
        c = str(c)
        if c not in counts:
            raise GapPlanError(f"unknown class '{c}' in sampling strategy; classes are: "
                               f"{', '.join(counts)}")
        if isinstance(t, bool) or not isinstance(t, int):
            raise GapPlanError(f"target for class '{c}' must be an integer, got {t!r}")
        if t < 0:
            raise GapPlanError(f"target for class '{c}' is negative ({t})")
        if t < counts[c]:
            raise GapPlanError(
                f"target {t} for class '{c}' is below its current {counts[c]} samples; "
                "over-sampling cannot remove samples"
            )
        out[c] = t - counts[c]
    return out


def parse_strategy(text: str) -> Strategy:
    """Parse a command-line strategy: a name, `N`, a float ratio, or `CLASS=N,CLASS=N`."""
    text = text.strip(" ") if "=" in text else text.strip()
    if "=" in text:
        out: dict[str, int] = {}
        for part in filter(None, (p.strip(" ") for p in text.split(","))):
            name, _, value = part.rpartition("=")
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
                raise GapPlanError(f"class name {name!r} in '{text!r}' holds a control character (a newline or "
                                   "tab?); class names are given as they are, without them")
            name = name.strip(" ")
            if name in out:
                raise GapPlanError(f"class '{name}' is given twice ('{text}'); give each class once")
            try:
                out[name] = int(value)
            except ValueError:
                raise GapPlanError(f"'{part}': expected CLASS=N with an integer N") from None
        return out
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def check_strategy(text: str, max_total: int | None = None) -> Strategy:
    """Parse `text` and check what can be checked without the class counts."""
    strategy = parse_strategy(text)
    if isinstance(strategy, str):
        if strategy.strip().lower().replace("-", " ").replace("_", " ") not in NAMED:
            raise GapPlanError(f"unknown sampling strategy '{strategy}'; use one of: {', '.join(NAMED)}, "
                               "a flat count N, or CLASS=N,...")
    elif isinstance(strategy, float):
        if not 0 < strategy <= 1:
            raise GapPlanError(f"float sampling strategy must be in (0, 1], got {strategy}")
    elif isinstance(strategy, int):
        if strategy < 0 or (max_total is not None and strategy > max_total):
            raise GapPlanError(f"flat target must be >= 0{_cap(max_total)}, got {strategy}")
    else:
        bad = {c: n for c, n in strategy.items() if n < 0 or (max_total is not None and n > max_total)}
        if bad or not strategy:
            raise GapPlanError(f"CLASS=N targets must be >= 0{_cap(max_total)}: {bad or text!r}")
    return strategy


def _cap(max_total: int | None) -> str:
    return "" if max_total is None else f" and <= {max_total}"
