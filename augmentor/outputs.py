"""The output-folder protocol: what augmentor may write, replace or remove, and when.

- `check_outputs` is the one overlap check, made before any work: no output (`--out`,
  `--report`, a run folder) may equal, contain or lie inside an input (resolved through
  symlinks down to class folders and symlinked files), another output, or the current
  working folder.
- `prepare_output` refuses an existing file, a non-empty folder without `--overwrite`,
  and — even with `--overwrite` — a folder augmentor did not create: every folder
  augmentor finishes carries a `MARKER` file naming its kind, and only such a folder is
  ever replaced.
- `output_lock` holds an exclusive lock (`.NAME.lock` beside the output) for the whole
  job, so a second process on the same output gets a clear error instead of interleaving.
- `check_free_space` refuses a job whose estimated size exceeds the free disk space.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .errors import OutputExistsError, ResourceLimitError

try:  # POSIX; on other systems outputs are not locked (documented in docs/reliability.md)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
MARKER = ".augmentor-output"
KINDS = ("synthesis", "report", "run")


def _resolve(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def input_paths(spec: str | os.PathLike) -> list[Path]:
    """The resolved paths an input reads: the file or folder itself and, for a folder, each
    class folder and each symlinked entry (a class folder may be a link to elsewhere)."""
    if str(spec).startswith("builtin:"):
        return []
    root = Path(spec)
    found = [_resolve(root)]
    if root.is_dir():
        for child in root.iterdir():
            if child.is_symlink() or child.is_dir():
                found.append(_resolve(child))
            if child.is_dir():
                found += [_resolve(f) for f in child.iterdir() if f.is_symlink()]
    return found


def _overlap(a: Path, b: Path) -> bool:
    return a == b or a in b.parents or b in a.parents


def check_outputs(outputs: Mapping[str, str | os.PathLike], inputs: Iterable[str | os.PathLike]) -> None:
    """Raise OutputExistsError if any output overlaps an input, another output or the
    current folder. `outputs` maps an option name (for the message) to a path."""
    cwd = Path.cwd().resolve()
    resolved = {opt: _resolve(p) for opt, p in outputs.items()}
    for opt, out in resolved.items():
        if out == cwd or out in cwd.parents:
            raise OutputExistsError(f"{opt} {outputs[opt]} is the current folder or one of its parents; "
                                    "name a new folder for the output")
    protected = [(str(spec), p) for spec in inputs for p in input_paths(spec)]
    for opt, out in resolved.items():
        for spec, p in protected:
            if _overlap(out, p):
                raise OutputExistsError(
                    f"{opt} {outputs[opt]} overlaps the input {spec}"
                    + (f" (through {p})" if p != _resolve(spec) else "")
                    + "; write outputs next to the data, never into, over or around it")
    names = list(resolved)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if _overlap(resolved[a], resolved[b]):
                raise OutputExistsError(f"{a} {outputs[a]} and {b} {outputs[b]} overlap; give each its "
                                        "own folder")


def is_augmentor_output(folder: Path, kind: str) -> bool:
    try:
        return json.loads((folder / MARKER).read_text()).get("kind") == kind
    except (OSError, ValueError, AttributeError):
        return False


def write_marker(folder: Path, kind: str) -> None:
    """Mark a folder augmentor created (call on the temporary folder before its rename)."""
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    (folder / MARKER).write_text(json.dumps({"kind": kind, "writer": "augmentor"}) + "\n")


def prepare_output(out: str | os.PathLike, kind: str, overwrite: bool, option: str = "--out") -> None:
    """Refuse `out` unless it is absent, an empty folder, or (with `overwrite`) a folder of
    this `kind` that augmentor wrote. Never renames or removes anything itself."""
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise OutputExistsError(f"{option} {out}: name a new folder for the output")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputExistsError(f"{option} {out} exists and is not a folder; augmentor never "
                                "replaces a file or a link: choose another path")
    if not out.exists() or not any(out.iterdir()):
        return
    if not overwrite:
        raise OutputExistsError(f"{option} {out} already exists and is not empty; choose another "
                                "path or pass --overwrite")
    if not is_augmentor_output(out, kind):
        raise OutputExistsError(
            f"{option} {out} is not empty and was not written by augmentor as a {kind} folder "
            f"(no {MARKER} marker); --overwrite only replaces augmentor's own outputs. Choose "
            "another path, or move the folder away yourself")


_held: dict[Path, list] = {}  # resolved output -> [lock fd or None, depth]


@contextlib.contextmanager
def output_lock(out: str | os.PathLike, option: str = "--out") -> Iterator[None]:
    """Hold an exclusive lock on `out` for the job (re-entrant within one process)."""
    target = _resolve(out)
    if target not in _held:
        _held[target] = [_acquire(target, out, option), 0]
    _held[target][1] += 1
    try:
        yield
    finally:
        _held[target][1] -= 1
        if _held[target][1] == 0:
            fd = _held.pop(target)[0]
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.unlink(target.with_name(f".{target.name}.lock"))
                os.close(fd)


def _acquire(target: Path, out: str | os.PathLike, option: str) -> int | None:
    if fcntl is None:  # pragma: no cover
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_name(f".{target.name}.lock")
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputExistsError(f"{option} {out} is being written by another augmentor process "
                                    f"(lock {lock}); wait for it to finish or choose another path") from None
        try:  # the previous holder may have unlinked the file we opened: lock the live one
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def check_free_space(folder: str | os.PathLike, needed: int, what: str) -> None:
    """Refuse when `needed` bytes (an estimate) exceed the free space where `folder` goes."""
    probe = _resolve(folder)
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise ResourceLimitError(f"{what} needs about {needed / 1e9:.2f} GB but {probe} has "
                                 f"{free / 1e9:.2f} GB free; free some space or ask for fewer samples")
