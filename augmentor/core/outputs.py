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
- `partial_dir` / `read_manifest`: a job writes into `.NAME.partial/` with a `job.json`
  and a streamed `manifest.csv` (the source of truth for what a folder holds); a killed
  job of the same kind resumes from the manifest's longest whole prefix.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import re
import shutil
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from .atomic import replace_dir, write_bytes
from .errors import OutputExistsError, ResourceLimitError, UnsafeArtifactError

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
        # a rank of a distributed job: its launcher holds this lock for the whole job
        inherited = os.environ.get("AUGMENTOR_LOCK_HELD") == str(target) and "RANK" in os.environ
        _held[target] = [None if inherited else _acquire(target, out, option), 0]
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
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            who = f"PID {holder}" if holder.isdigit() else "another augmentor process"
            raise OutputExistsError(f"{option} {out} is being written by another augmentor process ({who}, "
                                    f"lock {lock}); wait for it to finish or choose another path") from None
        try:  # the previous holder may have unlinked the file we opened: lock the live one
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
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


# --- the manifest and the partial folder ---------------------------------------------------

MANIFEST_FIELDS = ["file", "class", "source", "seed", "model_sha256"]
# A sample inside a multi-sample file is `FILE#ROW`; only augmentor's own file names take a
# row, so a '#' inside a class folder's name never splits a PNG path.
_ROW_REF = re.compile(r"^(shard-\d{5,}\.npz|samples\.(?:csv|parquet))#(\d+)$")


def split_ref(file: str) -> tuple[str, int | None]:
    """A manifest `file` entry -> (relative path, row within the file or None)."""
    m = _ROW_REF.match(file)
    return (m.group(1), int(m.group(2))) if m else (file, None)


def read_manifest(out: str | Path) -> list[dict]:
    path = Path(out) / "manifest.csv"
    if not path.is_file():
        raise UnsafeArtifactError(f"{out}: no manifest.csv; is this an augmentor output folder?")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != MANIFEST_FIELDS:
            raise UnsafeArtifactError(f"{path}: columns {reader.fieldnames}, expected {MANIFEST_FIELDS}")
        return list(reader)


@contextlib.contextmanager
def partial_dir(out: Path, job: dict, resumable: bool):
    """Yield (partial folder, manifest rows kept from an interrupted run of the same job);
    on success the partial folder replaces `out` in one rename."""
    partial = out.with_name(f".{out.name}.partial")
    kept: list[dict] = []
    if partial.exists() and any(partial.iterdir()) and not (partial / "job.json").is_file():
        raise OutputExistsError(f"{partial} exists but is not an augmentor partial output (no job.json); "
                                "move it away or choose another --out")
    if partial.exists():
        kept = _resume(partial, job) if resumable else None
        if kept is None:
            log.warning("%s: an interrupted run of a different job; starting over", partial)
            shutil.rmtree(partial)
            kept = []
        else:
            log.warning("%s: resuming an interrupted run; %d samples kept", partial, len(kept))
    partial.mkdir(parents=True, exist_ok=True)
    write_bytes(partial / "job.json", json.dumps(job, sort_keys=True).encode())
    if not kept:
        with (partial / "manifest.csv").open("w", newline="") as f:
            csv.DictWriter(f, MANIFEST_FIELDS).writeheader()
    try:
        yield partial, kept
        (partial / "job.json").unlink()
        write_marker(partial, "synthesis")
        replace_dir(partial, out)
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)  # a failed job (not a killed one) leaves nothing
        raise


PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _whole_png(path: Path) -> bool:
    """A PNG cut off by a kill lacks its closing IEND chunk."""
    try:
        with path.open("rb") as f:
            f.seek(-len(PNG_END), os.SEEK_END)
            return f.read() == PNG_END
    except OSError:
        return False


def _resume(partial: Path, job: dict) -> list[dict] | None:
    """The longest prefix of the manifest whose files are whole; everything else removed.
    None when the partial folder belongs to another job."""
    try:
        if json.loads((partial / "job.json").read_text()) != json.loads(json.dumps(job, sort_keys=True)):
            return None
        text = (partial / "manifest.csv").read_text()
    except (OSError, ValueError):
        return None
    lines = text.splitlines(keepends=True)
    if not lines or not lines[-1].endswith("\n"):
        lines = lines[:-1]  # a row cut off by the kill
    kept: list[dict] = []
    shards: dict[str, int] = {}
    for r in csv.DictReader(lines):
        rel, index = split_ref(r["file"])
        path = partial / rel
        if index is not None:
            if rel not in shards:
                try:
                    with np.load(path, allow_pickle=False) as z:
                        shards[rel] = len(z["y"])
                except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                    shards[rel] = 0
            if index >= shards[rel]:
                break
        elif not _whole_png(path):
            break
        kept.append(r)
    # A shard can be flushed before the manifest rows of its last batch are written: keep
    # only shards whose every row is listed, so the resumed layout equals an unbroken run's.
    listed_per_shard: dict[str, int] = {}
    for r in kept:
        rel, index = split_ref(r["file"])
        if index is not None:
            listed_per_shard[rel] = listed_per_shard.get(rel, 0) + 1
    short = [rel for rel, n in listed_per_shard.items() if n != shards[rel]]
    if short:
        kept = kept[:next(i for i, r in enumerate(kept) if split_ref(r["file"])[0] in short)]
    listed = {split_ref(r["file"])[0] for r in kept} | {"manifest.csv", "job.json"}
    for f in partial.rglob("*"):
        if f.is_file() and str(f.relative_to(partial)) not in listed:
            f.unlink()
    with (partial / "manifest.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(kept)
    return kept
