"""A user's learner named by import path: `"package.module:attr"` or `"package.module:attr(key=value, ...)"`.

The arguments are Python literals (numbers, strings, booleans, None, lists, dicts), read with `ast`,
never evaluated. The module is imported only when a recipe or command names it. Every failure is one
`RecipeError` naming the learner and how to fix it.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from typing import Any

from .errors import RecipeError


def is_import_path(spec: str) -> bool:
    return ":" in spec


def parse(spec: str) -> tuple[str, str, dict[str, Any]]:
    """`"a.b:C(x=1)"` -> ("a.b", "C", {"x": 1})."""
    head, _, rest = spec.partition("(")
    module, sep, attr = head.strip().partition(":")
    if not sep or not module or not attr.replace(".", "").replace("_", "").isalnum():
        raise RecipeError(f"learner '{spec}': write an import path as 'package.module:Name' or "
                          "'package.module:Name(key=value, ...)'")
    kwargs: dict[str, Any] = {}
    if rest:
        try:
            call = ast.parse(f"f({rest}", mode="eval").body
            if not isinstance(call, ast.Call) or call.args:
                raise ValueError("positional arguments")
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
            if None in kwargs:
                raise ValueError("**kwargs")
        except (SyntaxError, ValueError) as e:
            raise RecipeError(f"learner '{spec}': its arguments must be key=literal pairs ({e})") from None
    return module, attr, kwargs


def resolve(spec: str) -> tuple[Callable, dict[str, Any]]:
    """The object an import path names, and its literal keyword arguments."""
    module, attr, kwargs = parse(spec)
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as e:
        raise RecipeError(f"learner '{spec}': cannot import {module} ({e}); install it (e.g. pip install "
                          f"'augmentor[learners]') or fix the module path") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise RecipeError(f"learner '{spec}': {module} has no '{attr}'; check the name after the colon")
        obj = getattr(obj, part)
    if not callable(obj):
        raise RecipeError(f"learner '{spec}': {module}:{attr} is not callable (a class or factory function)")
    return obj, kwargs


def build(factory: Callable, kwargs: dict[str, Any], name: str, seed: int):
    """A user's estimator from its factory and literal arguments, seeded through `random_state` when it has one."""
    try:
        est = factory(**kwargs)
    except Exception as e:  # the user's constructor: any failure is theirs to fix
        raise RecipeError(f"learner '{name}': building it raised {type(e).__name__}: {e}") from None
    if hasattr(est, "get_params") and "random_state" in est.get_params():
        est.set_params(random_state=seed)
    return est


def short_name(spec: str) -> str:
    """How a report names the learner: the spec without its arguments' whitespace."""
    return " ".join(spec.split())
