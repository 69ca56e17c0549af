"""The house: one package per modality, the registry on top, no import cycle.

The import graph is computed from the source with `ast`, module-level and function-level imports
alike (an import inside a function is still an arrow), and held against the layout DESIGN.md draws:

  top        augmentor.modalities (the registry), augmentor.pipeline, augmentor.cli.*: start from files
  packages   augmentor.image, augmentor.table, augmentor.signal: one per modality
  generic    everything else, the core (augmentor.modality) among it
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import augmentor
from augmentor import modalities

ROOT = Path(augmentor.__file__).parent
PACKAGES = ("augmentor.image", "augmentor.table", "augmentor.signal")
TOP = ("augmentor.modalities", "augmentor.pipeline", "augmentor.cli")
REGISTRY = "augmentor.modalities"


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _targets(module: str, path: Path, node: ast.AST, known: dict[str, Path]) -> list[str]:
    """The augmentor modules an import statement names (`from . import x` names module `x`)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name.split(".")[0] == "augmentor"]
    elif node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
        names = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]
    elif (node.module or "").split(".")[0] == "augmentor":
        names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                 for a in node.names]
    else:
        names = []
    out = []
    for name in names:
        while name and name not in known:  # `augmentor.image.data.LabelledData` -> its module
            name = name.rpartition(".")[0]
        if name and name != module:
            out.append(name)
    return out


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    graph = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {t for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                         for t in _targets(module, path, n, known)}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _under(module: str, roots: tuple[str, ...]) -> str | None:
    return next((r for r in roots if module == r or module.startswith(r + ".")), None)


def _below(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in graph[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_graph_sees_function_level_imports():
    """The checker itself: an import inside a function is an arrow, `from . import x` names module x."""
    graph = import_graph()
    assert "augmentor.synthesize" in graph["augmentor.modalities"]  # imported inside a function there
    assert {"augmentor.image", "augmentor.table", "augmentor.signal"} <= graph["augmentor.modalities"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    assert _cycles(import_graph()) == []


def test_only_the_top_imports_the_registry_and_nothing_below_imports_the_top():
    graph = import_graph()
    importers = sorted(m for m, deps in graph.items() if REGISTRY in deps)
    assert [m for m in importers if not _under(m, TOP)] == []
    below = _below(graph, REGISTRY)  # everything the registry builds on
    assert sorted(m for m in below if _under(m, TOP)) == []


def test_each_modality_package_imports_only_itself_and_generic_code():
    graph = import_graph()
    offenders = []
    for module, deps in graph.items():
        own = _under(module, PACKAGES)
        if own is None:
            continue
        for dep in deps:
            other = _under(dep, PACKAGES)
            if (other is not None and other != own) or _under(dep, TOP):
                offenders.append(f"{module} -> {dep}")
    assert offenders == []


def test_generic_code_never_imports_a_modality_package():
    graph = import_graph()
    offenders = [f"{m} -> {d}" for m, deps in graph.items() if not _under(m, PACKAGES + TOP)
                 for d in deps if _under(d, PACKAGES)]
    assert offenders == []


def _names_a_modality(node: ast.AST) -> bool:
    names = set(modalities.NAMES)
    if isinstance(node, ast.Compare):
        parts = [node.left, *node.comparators]
        return any(isinstance(p, ast.Constant) and p.value in names for p in parts)
    if isinstance(node, ast.Dict):
        return any(isinstance(k, ast.Constant) and k.value in names for k in node.keys)
    return False


def test_only_the_modality_packages_dispatch_on_a_modality():
    """Outside the three packages (and the registry), no module compares anything with a modality's
    name or keys a table by it: per-kind behaviour lives in the package that implements it."""
    offenders = []
    for module, path in _modules().items():
        if _under(module, PACKAGES) or module == REGISTRY:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.name}:{n.lineno}" for n in ast.walk(tree) if _names_a_modality(n)]
    assert offenders == []


def test_no_file_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_registry_entries_are_complete_and_bound():
    for name in modalities.NAMES:
        m = modalities.get(name)
        assert m.name == name and m.serve_formats and m.formats and callable(m.writer) and callable(m.reader)
    assert modalities.for_spec("builtin:digits").name == "image"
    assert modalities.for_spec("x.csv").name == "table"
    assert modalities.for_spec("builtin:plaid").name == "signal"
    from augmentor.image import ImageCodec, LabelledData
    from augmentor.signal import SignalCodec, SignalData
    from augmentor.table import TableCodec, TableData

    for cls, name in ((LabelledData, "image"), (ImageCodec, "image"), (TableData, "table"), (TableCodec, "table"),
                      (SignalData, "signal"), (SignalCodec, "signal")):
        assert cls.MODALITY is modalities.get(name)
    with pytest.raises(Exception, match="unknown modality"):
        modalities.get("video")
    with pytest.raises(Exception, match="unknown builtin dataset 'nope'. Available: digits, breast_cancer"):
        modalities.for_spec("builtin:nope")
