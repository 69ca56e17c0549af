"""The house: one package per stage and per modality, each importing only the layers below it.

The import graph is computed from the source with `ast`, module-level and function-level imports alike (an
import inside a function is still an arrow), and held against the layering docs/architecture.md draws: LAYERS
below, package -> the packages it may import. A circle, an import running back up (or sideways between two
modalities), or a file over 400 lines fails a test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import augmentor
from augmentor import registry

ROOT = Path(augmentor.__file__).parent
STAGES = ("core", "config", "gan", "synthesis", "evaluation", "report", "serving")  # bottom to top
MODALITIES = ("image", "table", "signal")
LAYERS: dict[str, set[str]] = {
    "core": set(),
    "config": {"core"},
    "gan": {"core", "config"},
    "synthesis": {"core", "config", "gan"},
    "evaluation": {"core", "config", "gan", "synthesis"},
    "report": {"core", "config", "gan", "synthesis", "evaluation"},
    "serving": {"core", "config", "gan", "synthesis"},
    **{m: set(STAGES) for m in MODALITIES},  # a modality builds on every stage, never on another modality
    "registry": {*STAGES, *MODALITIES},  # the only importer of the modality packages
    "pipeline": {*STAGES, "registry"},
    "sampler": {*STAGES, "registry"},  # GANOverSampler: arrays in memory, through the registry
    "comparison": {*STAGES, "registry", "pipeline", "sampler"},  # compare(): augmentor run's judgement from a notebook
    "cli": {*STAGES, "registry", "pipeline"},
    "__main__": {"cli"},
    "augmentor": set(),  # the package's face: names resolved lazily, by string
}
TOP_MODULES_AT_MOST = 6
REGISTRY = "augmentor.registry"
SAMPLER = "augmentor.sampler"  # GANOverSampler takes the modality by name from its caller (modality="image")
COMPARISON = "augmentor.comparison"  # compare() too


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
    """Strongly connected components of more than one module (Tarjan)."""
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


def package(module: str) -> str:
    """`augmentor.evaluation.engine` -> "evaluation"; `augmentor.pipeline` -> "pipeline"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_the_graph_sees_function_level_imports():
    """The checker itself: an import inside a function is an arrow, `from . import x` names module x."""
    graph = import_graph()
    assert "augmentor.synthesis.synthesize" in graph["augmentor.registry"]  # imported inside a function there
    assert {"augmentor.image", "augmentor.table", "augmentor.signal"} <= graph["augmentor.registry"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    assert _cycles(import_graph()) == []


def test_every_package_is_in_the_layer_table():
    assert sorted({package(m) for m in _modules()} - set(LAYERS)) == []


def test_every_import_runs_down_the_layers():
    """No import runs back up, and no modality imports another: each arrow between packages is in LAYERS."""
    offenders = sorted(f"{m} -> {d}" for m, deps in import_graph().items() for d in deps
                       if package(d) != package(m) and package(d) not in LAYERS[package(m)])
    assert offenders == []


def test_the_layer_table_detects_a_back_import():
    graph = {"augmentor.core.errors": {"augmentor.evaluation.stats"}, "augmentor.evaluation.stats": set()}
    assert [f"{m} -> {d}" for m, deps in graph.items() for d in deps
            if package(d) != package(m) and package(d) not in LAYERS[package(m)]] == [
        "augmentor.core.errors -> augmentor.evaluation.stats"]


def test_the_top_level_is_the_packages_and_at_most_six_modules():
    modules = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(modules) <= TOP_MODULES_AT_MOST, modules


def _names_a_modality(node: ast.AST) -> bool:
    names = set(registry.NAMES)
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
        if package(module) in MODALITIES or module in (REGISTRY, SAMPLER, COMPARISON):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.name}:{n.lineno}" for n in ast.walk(tree) if _names_a_modality(n)]
    assert offenders == []


def test_no_file_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_the_architecture_page_names_every_package_and_its_imports():
    """docs/architecture.md, the map this test holds the code against, draws the same table."""
    page = (ROOT.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, allowed in LAYERS.items():
        if name in ("augmentor", "__main__"):
            continue
        row = next((line for line in page.splitlines() if line.startswith("| `")
                    and f"`{name}`" in line.split("|")[1]), None)
        assert row is not None, f"docs/architecture.md has no row for {name}"
        cited = {w.strip("` ") for w in row.split("|")[3].split(",") if w.strip("` —")}
        assert cited == allowed, (name, cited, allowed)


def test_registry_entries_are_complete_and_bound():
    for name in registry.NAMES:
        m = registry.get(name)
        assert m.name == name and m.serve_formats and m.formats and callable(m.writer) and callable(m.reader)
    assert registry.for_spec("builtin:digits").name == "image"
    assert registry.for_spec("x.csv").name == "table"
    assert registry.for_spec("builtin:plaid").name == "signal"
    from augmentor.image import ImageCodec, LabelledData
    from augmentor.signal import SignalCodec, SignalData
    from augmentor.table import TableCodec, TableData

    for cls, name in ((LabelledData, "image"), (ImageCodec, "image"), (TableData, "table"), (TableCodec, "table"),
                      (SignalData, "signal"), (SignalCodec, "signal")):
        assert cls.MODALITY is registry.get(name)
    with pytest.raises(Exception, match="unknown modality"):
        registry.get("video")
    with pytest.raises(Exception, match="unknown builtin dataset 'nope'. Available: digits, breast_cancer"):
        registry.for_spec("builtin:nope")
