"""Class names are data, never paths.

A class name becomes a folder name (ImageFolder output) and a manifest value, so every
entry point that takes names from outside — image folders, `.npz` labels, table label
columns, ONNX metadata — checks them here: no empty name, no `.`/`..`, no path
separator, no control character, at most `MAX_NAME_BYTES` bytes of UTF-8, no leading
dot (a hidden folder is skipped when a folder is read back), and no two names that
differ only in case (they would share one folder on macOS and Windows).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from .errors import InvalidDataError

MAX_NAME_BYTES = 200
_SEPARATORS = ("/", "\\")


def name_problem(name: object) -> str | None:
    """Why `name` cannot be a class name, or None when it can."""
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not text"
    if name.strip() == "":
        return "is empty or blank"
    if name in (".", ".."):
        return "is '.' or '..'"
    if name.startswith("."):
        return "starts with '.' (it would be a hidden folder)"
    if any(s in name for s in _SEPARATORS):
        return "contains a path separator ('/' or '\\')"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "contains a control or invisible format character"
    if name != name.strip():
        return "starts or ends with whitespace"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    return None


def check_class_names(names: Iterable[object], where: str, fix: str = "rename the class") -> tuple[str, ...]:
    """Return `names` as a tuple of str, or raise InvalidDataError naming the first bad one."""
    names = tuple(names)
    for name in names:
        why = name_problem(name)
        if why:
            shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
            raise InvalidDataError(f"{where}: class name {shown} {why}; class names become folder "
                                   f"names, so {fix}")
    seen: dict[str, str] = {}
    for name in names:
        key = unicodedata.normalize("NFC", name).casefold()
        if key in seen:
            what = "appears twice" if seen[key] == name else f"and {seen[key]!r} differ only in case"
            raise InvalidDataError(f"{where}: class name {name!r} {what}; class names must be "
                                   f"unique, ignoring case, so {fix}")
        seen[key] = name
    return names  # type: ignore[return-value]
