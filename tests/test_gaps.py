import pytest
from hypothesis import given
from hypothesis import strategies as st

from augmentor.core.errors import GapPlanError
from augmentor.core.gaps import NAMED, parse_strategy, plan_gaps

COUNTS = {"a": 100, "b": 10, "c": 40}


def test_auto_is_not_majority():
    assert plan_gaps(COUNTS, "auto") == plan_gaps(COUNTS, "not majority") == {"b": 90, "c": 60}


def test_named_strategies_match_imblearn_semantics():
    assert plan_gaps(COUNTS, "minority") == {"b": 90}
    assert plan_gaps(COUNTS, "not minority") == {"a": 0, "c": 60}
    assert plan_gaps(COUNTS, "all") == {"a": 0, "b": 90, "c": 60}
    assert plan_gaps(COUNTS, "not-majority") == {"b": 90, "c": 60}


def test_imblearn_agrees_on_the_plan():
    import numpy as np
    from imblearn.over_sampling import RandomOverSampler

    y = np.repeat(list(COUNTS), list(COUNTS.values()))
    for name in ("auto", "minority", "not minority", "all"):
        ros = RandomOverSampler(sampling_strategy=name).fit(np.zeros((len(y), 1)), y)
        assert {str(k): v for k, v in ros.sampling_strategy_.items()} == plan_gaps(COUNTS, name)


def test_dict_float_and_flat_targets():
    assert plan_gaps(COUNTS, {"b": 50}) == {"b": 40}
    assert plan_gaps({"x": 100, "y": 20}, 0.5) == {"y": 30}
    assert plan_gaps(COUNTS, 50) == {"a": 0, "b": 40, "c": 10}
    assert plan_gaps(COUNTS, lambda c: {"b": c["a"]}) == {"b": 90}


@pytest.mark.parametrize("strategy, message", [
    ({"zebra": 5}, "unknown class 'zebra'"),
    ({"b": -1}, "negative"),
    ({"a": 50}, "below its current 100"),
    ("most", "unknown sampling strategy"),
    (0.5, "2 classes only"),
    (-3, ">= 0"),
])
def test_precise_errors(strategy, message):
    with pytest.raises(GapPlanError, match=message):
        plan_gaps(COUNTS, strategy)


def test_float_below_current_is_an_error():
    with pytest.raises(GapPlanError, match="below its current"):
        plan_gaps({"x": 100, "y": 60}, 0.5)


def test_parse_strategy():
    assert parse_strategy("3=100, 7=50") == {"3": 100, "7": 50}
    assert parse_strategy("500") == 500
    assert parse_strategy("0.5") == 0.5
    assert parse_strategy("not-minority") == "not-minority"
    with pytest.raises(GapPlanError, match="3=x"):
        parse_strategy("3=x")


counts_st = st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.integers(0, 10_000),
                            min_size=2, max_size=8)


@given(counts_st, st.sampled_from(NAMED))
def test_named_plans_reach_the_majority_exactly(counts, name):
    plan = plan_gaps(counts, name)
    top = max(counts.values())
    assert all(n >= 0 for n in plan.values())
    assert all(counts[c] + n == top for c, n in plan.items())


@given(counts_st, st.one_of(st.integers(-5, 20_000), st.floats(-1, 2), st.text(max_size=12),
                            st.dictionaries(st.text("abcdefg", min_size=1, max_size=3),
                                            st.integers(-10, 20_000), max_size=4)))
def test_fuzz_plans_are_exact_or_documented_errors(counts, strategy):
    try:
        plan = plan_gaps(counts, strategy)
    except GapPlanError:
        return
    assert set(plan) <= set(counts)
    assert all(isinstance(n, int) and n >= 0 for n in plan.values())
    if isinstance(strategy, dict):
        assert all(counts[c] + plan[c] == strategy[c] for c in plan)
