"""A user's learner named by import path: `"package.module:Class"` or `"package.module:Class(key=value, ...)"`.

A spec names a class, never a call. Like a Hydra `_target_`, naming an import path imports that package
and runs its class's constructor — code the user chose to install — but nothing else runs: before anything
is imported the spec's length and nesting are bounded; after import the named object must be a class
(a plain function, a builtin or a module is refused) from a package that is not one of the standard
library's system-facing modules (os, subprocess, shutil, ...), and its *class* must already have the
methods a learner needs (`fit` and `predict_proba` or `predict`) before any instance is made. Only then is
it constructed, with keyword literals (numbers, strings, booleans, None, lists, dicts) read with `ast`,
never evaluated. Image networks may also name a factory, a function or class whose first three parameters are
`(channels, n_classes, size)` and that returns an `nn.Module` (image/networks.py); the names are checked
before it is called, so no other library function can be reached this way. Every failure is one `RecipeError`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.errors import RecipeError

MAX_LENGTH = 1000  # characters in one spec: a real one is well under 200
MAX_DEPTH = 8  # nested brackets in its arguments
FACTORY_PARAMETERS = ("channels", "n_classes", "size")  # the documented signature of an image network factory
# Packages whose classes and functions act on the machine (processes, files, the network, the interpreter):
# no learner lives there, and naming one is how a recipe would run a command.
SYSTEM_MODULES = frozenset({
    "os", "posix", "nt", "sys", "subprocess", "shutil", "builtins", "importlib", "runpy", "code", "codeop",
    "pty", "signal", "socket", "ssl", "http", "urllib", "ftplib", "smtplib", "telnetlib", "webbrowser", "ctypes",
    "multiprocessing", "concurrent", "threading", "_thread", "asyncio", "pathlib", "tempfile", "glob", "io",
    "pickle", "marshal", "shelve", "dbm", "sqlite3", "zipfile", "tarfile", "gzip", "bz2", "lzma", "zipimport",
    "pydoc", "pdb", "bdb", "trace", "timeit", "cProfile", "profile", "gc", "inspect", "types", "operator",
    "functools", "platform", "sysconfig", "site", "venv", "ensurepip", "distutils", "setuptools", "pip",
    "logging", "atexit", "faulthandler", "resource", "fcntl", "mmap", "select", "selectors", "xmlrpc",
    "socketserver", "wsgiref", "email", "mailbox", "imaplib", "poplib", "uuid", "getpass", "pwd", "grp",
    "spwd", "crypt", "termios", "tty", "curses", "readline", "rlcompleter", "fileinput", "filecmp", "linecache",
    "codecs", "numpy", "pandas", "torch", "joblib", "cloudpickle", "dill", "ray", "augmentor",
})


def is_import_path(spec: str) -> bool:
    return ":" in spec


def shown(spec: str, limit: int = 80) -> str:
    """The spec as an error message quotes it: at most `limit` characters."""
    spec = " ".join(str(spec).split())
    return spec if len(spec) <= limit else f"{spec[:limit - 3]}... ({len(spec):,} characters)"


def check_size(spec: str) -> None:
    if len(spec) > MAX_LENGTH:
        raise RecipeError(f"learner '{shown(spec)}': a learner spec is at most {MAX_LENGTH} characters; name a "
                          "class and a few keyword arguments")
    depth = deepest = 0
    for ch in spec:
        depth += ch in "([{"
        depth -= ch in ")]}"
        deepest = max(deepest, depth)
    if deepest > MAX_DEPTH + 1:  # +1: the call's own parentheses
        raise RecipeError(f"learner '{shown(spec)}': its arguments nest {deepest - 1} brackets deep; at most "
                          f"{MAX_DEPTH} are read")


def parse(spec: str) -> tuple[str, str, dict[str, Any]]:
    """`"a.b:C(x=1)"` -> ("a.b", "C", {"x": 1}); bounded in length and nesting before it is parsed."""
    check_size(spec)
    head, _, rest = spec.partition("(")
    module, sep, attr = head.strip().partition(":")
    if (not sep or not module or not attr or not module.replace(".", "").replace("_", "").isalnum()
            or not attr.replace(".", "").replace("_", "").isalnum()):
        raise RecipeError(f"learner '{shown(spec)}': write an import path as 'package.module:Class' or "
                          "'package.module:Class(key=value, ...)'")
    kwargs: dict[str, Any] = {}
    if rest:
        try:
            call = ast.parse(f"f({rest}", mode="eval").body
            if not isinstance(call, ast.Call) or call.args:
                raise ValueError("positional arguments")
            if any(k.arg is None for k in call.keywords):
                raise ValueError("**kwargs")
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as e:
            raise RecipeError(f"learner '{shown(spec)}': its arguments must be key=literal pairs "
                              f"({type(e).__name__}: {shown(str(e), 60)})") from None
    return module, attr, kwargs


def _import(spec: str, module: str, attr: str) -> Any:
    top = module.split(".")[0]
    if top in SYSTEM_MODULES or top.startswith("_"):
        raise RecipeError(f"learner '{shown(spec)}': {module} is not a learner package (augmentor refuses "
                          "names from modules that act on the system); name a classifier class, e.g. "
                          "'sklearn.ensemble:RandomForestClassifier'")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as e:
        raise RecipeError(f"learner '{shown(spec)}': cannot import {module} ({e}); install it (e.g. pip install "
                          f"'augmentor[learners]') or fix the module path") from None
    for part in attr.split("."):
        if part.startswith("_") or not hasattr(obj, part):
            raise RecipeError(f"learner '{shown(spec)}': {module} has no public '{attr}'; check the name after "
                              "the colon")
        obj = getattr(obj, part)
    home = getattr(obj, "__module__", None) or ""
    if home.split(".")[0] in SYSTEM_MODULES - {"augmentor"}:
        raise RecipeError(f"learner '{shown(spec)}': {module}:{attr} comes from {home}, a module that acts on "
                          "the system; name a classifier class")
    return obj


def resolve(spec: str, methods: Sequence[str] = ("fit", "predict_proba")) -> tuple[type, dict[str, Any]]:
    """The class an import path names and its literal keyword arguments. Nothing is constructed or called:
    the object must be a class whose instances have every one of `methods`."""
    module, attr, kwargs = parse(spec)
    obj = _import(spec, module, attr)
    if not inspect.isclass(obj):
        kind = ("a module" if inspect.ismodule(obj) else "a builtin" if inspect.isbuiltin(obj)
                else "a function" if inspect.isroutine(obj) else f"a {type(obj).__name__} object")
        raise RecipeError(f"learner '{shown(spec)}': {module}:{attr} is {kind}, not a class; a learner spec names "
                          "a classifier class (e.g. 'sklearn.ensemble:RandomForestClassifier(n_estimators=300)')")
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if missing:
        raise RecipeError(f"learner '{shown(spec)}': class {obj.__name__} has no {' or '.join(missing)}(); a "
                          f"learner needs {' and '.join(methods)} (wrap it in a class that has them)")
    return obj, kwargs


def resolve_factory(spec: str) -> tuple[Callable, dict[str, Any]]:
    """Image networks: a class or a plain Python function (a factory `(channels, n_classes, size, **kwargs)`),
    never a builtin or a module, and never from a system module. Nothing is called here."""
    module, attr, kwargs = parse(spec)
    obj = _import(spec, module, attr)
    documented = "a network factory is a Python function or nn.Module class whose first three parameters are " \
                 "(channels, n_classes, size)"
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        raise RecipeError(f"learner '{shown(spec)}': {module}:{attr} is not a Python function or class; {documented}")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        raise RecipeError(f"learner '{shown(spec)}': {module}:{attr} has no readable signature; {documented}"
                          ) from None
    if tuple(signature.parameters)[:3] != FACTORY_PARAMETERS:
        raise RecipeError(f"learner '{shown(spec)}': {module}:{attr} takes {tuple(signature.parameters)[:3]}; "
                          f"{documented}")
    try:
        signature.bind(1, 2, 3, **kwargs)
    except TypeError as e:
        raise RecipeError(f"learner '{shown(spec)}': {module}:{attr} cannot be called as (channels, n_classes, "
                          f"size{''.join(f', {k}=...' for k in kwargs)}): {e}") from None
    return obj, kwargs


def build(factory: Callable, kwargs: dict[str, Any], name: str, seed: int):
    """A user's estimator from its class and literal arguments, seeded through `random_state` when it has one."""
    try:
        est = factory(**kwargs)
    except Exception as e:  # the user's constructor: any failure is theirs to fix
        raise RecipeError(f"learner '{shown(name)}': building it raised {type(e).__name__}: {shown(str(e), 160)}"
                          ) from None
    if hasattr(est, "get_params") and "random_state" in est.get_params():
        est.set_params(random_state=seed)
    return est


def short_name(spec: str) -> str:
    """How a report names the learner: the spec without its arguments' whitespace."""
    return " ".join(spec.split())


def check_scores(name: str, scores: Any, rows: int, n_classes: int, columns: int | None = None) -> np.ndarray:
    """A learner's `predict_proba` (or decision) output as (rows, n_classes or `columns`) finite floats, or one
    `RecipeError` naming the learner and what is wrong: a report is never written from a broken learner."""
    try:
        s = np.asarray(scores, np.float64)
    except (TypeError, ValueError) as e:
        raise RecipeError(f"learner '{shown(name)}': predict_proba returned {type(scores).__name__}, not numbers "
                          f"({shown(str(e), 80)})") from None
    want = n_classes if columns is None else columns
    if s.ndim != 2 or s.shape[0] != rows or s.shape[1] != want:
        raise RecipeError(f"learner '{shown(name)}': predict_proba returned shape {s.shape} for {rows} samples; "
                          f"it must return ({rows}, {want}): one row per sample, one column per class it was "
                          "fitted on")
    if not np.isfinite(s).all():
        raise RecipeError(f"learner '{shown(name)}': predict_proba returned {int((~np.isfinite(s)).sum())} "
                          "non-finite values (NaN or inf); fix the learner")
    return s


def check_labels(name: str, predicted: Any, rows: int) -> np.ndarray:
    """A learner's `predict` output: one label per sample, or one `RecipeError` naming the learner."""
    p = np.asarray(predicted)
    if p.ndim != 1 or len(p) != rows:
        raise RecipeError(f"learner '{shown(name)}': predict returned shape {p.shape} for {rows} samples; it must "
                          f"return ({rows},): one label per sample")
    return p


def handful(y: Any, per_class: int = 10, seed: int = 0) -> np.ndarray:
    """Indices of up to `per_class` rows of every class: the rows a learner's trial fit sees."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(picks))


def trial(name: str, step: str, call: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run one step of a user's learner (fit, predict_proba, a copy), turning any failure into one line."""
    try:
        return call(*args, **kwargs)
    except RecipeError:
        raise
    except Exception as e:  # the user's code: any failure is theirs to fix, named in one line
        raise RecipeError(f"learner '{shown(name)}': {step} raised {type(e).__name__}: {shown(str(e), 200)}"
                          ) from None
