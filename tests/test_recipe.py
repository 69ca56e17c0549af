from pathlib import Path

import pytest

from augmentor.config.recipe import load_recipe, recipe_from_dict, with_overrides
from augmentor.core.errors import RecipeError

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_recipes_load():
    r = load_recipe(ROOT / "recipes" / "digits.toml")
    assert r.name == "digits"
    assert r.data.imbalance.classes == ("0", "1", "2", "3", "4")
    assert r.data.imbalance.keep == 0.1
    assert r.evaluate.seeds >= 3


def test_unknown_key_is_named(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text("[train]\nepochs = 3\nstpes = 4\n")
    with pytest.raises(RecipeError, match=r"unknown key 'train\.stpes'"):
        load_recipe(p)


@pytest.mark.parametrize("table, key", [
    ({"train": {"epochs": "ten"}}, "train.epochs"),
    ({"train": {"epochs": 2.5}}, "train.epochs"),
    ({"train": {"balanced_sampling": 1}}, "train.balanced_sampling"),
    ({"data": {"imbalance": {"classes": [1, 2]}}}, "data.imbalance.classes"),
    ({"data": 3}, "data"),
])
def test_wrong_type_is_named(table, key):
    with pytest.raises(RecipeError, match=key.replace(".", r"\.")):
        recipe_from_dict(table)


def test_int_accepted_where_float_expected():
    assert recipe_from_dict({"train": {"lr_g": 1}}).train.lr_g == 1.0


def test_overrides_are_type_checked():
    r = recipe_from_dict({})
    assert with_overrides(r, {"train.epochs": 7, "evaluate.seeds": None}).train.epochs == 7
    with pytest.raises(RecipeError, match="train.epochs"):
        with_overrides(r, {"train.epochs": "x"})
    with pytest.raises(RecipeError, match="train.nope"):
        with_overrides(r, {"train.nope": 1})


def test_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[train\n")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(p)
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "missing.toml")


def test_shipped_recipes_all_load():
    """Every recipe in recipes/ parses and validates (their data need not be present)."""
    for path in sorted((ROOT / "recipes").glob("*.toml")):
        assert load_recipe(path).name, path


def test_teacher_weight_and_join_take_a_number_or_candidates():
    ev = recipe_from_dict({"evaluate": {"teacher_weight": 0.5, "teacher_join": [0.5, 0.75]}}).evaluate
    assert ev.teacher_weight == (0.5,) and ev.teacher_join == (0.5, 0.75)
    for bad in ({"teacher_weight": [0.5, 0.5]}, {"teacher_weight": 0}, {"teacher_join": [1.0]},
                {"teacher_join": []}, {"teacher_weight": "half"}):
        with pytest.raises(RecipeError, match="evaluate.teacher_"):
            recipe_from_dict({"evaluate": bad})
