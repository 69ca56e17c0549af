"""Failures while writing leave nothing half-done; arbitrary recipe bytes never crash."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augmentor.config.recipe import load_recipe, with_overrides
from augmentor.core import atomic
from augmentor.core.errors import OutputExistsError, RecipeError
from augmentor.gan.checkpoint import list_checkpoints, load_checkpoint
from augmentor.gan.train import train
from augmentor.registry import load_dataset
from augmentor.report.render import write_report


def test_failed_rename_keeps_previous_checkpoint(tmp_path, image_folder, tiny_recipe, monkeypatch):
    d = load_dataset(image_folder)
    first = train(d, tmp_path / "run", tiny_recipe, progress=False).checkpoint
    before = first.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        train(d, tmp_path / "run", with_overrides(tiny_recipe, {"train.epochs": 4}), resume=True,
              progress=False)
    monkeypatch.undo()
    assert list_checkpoints(tmp_path / "run") == [first]
    assert first.read_bytes() == before
    load_checkpoint(first)
    leftovers = [p for p in (tmp_path / "run").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise Boom
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_report_folder_is_not_overwritten(tmp_path):
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "report.md").write_text("previous")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_report(tmp_path / "rep", {})
    assert (tmp_path / "rep" / "report.md").read_text() == "previous"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_recipe_bytes(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "r.toml"
    path.write_bytes(blob)
    try:
        load_recipe(path)
    except RecipeError:
        pass
