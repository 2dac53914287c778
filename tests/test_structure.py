"""The package's shape: no import cycles (imports inside functions count), dependencies that point
one way between subpackages, and short functions. Read from the source with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "digitlab"
# Lower layers never import higher ones.
LAYERS = ["core", "data", "augment", "models", "inference", "training", "evaluation", "tools", "apps"]
MAX_FUNCTION_LINES = 60
# Old import paths kept for one release: thin re-exports at the top, outside the layers.
SHIMS = {"digitlab.config", "digitlab.train", "digitlab.evaluate"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str) -> set[str]:
    """Every digitlab module ``name`` imports, at the top or inside functions (``from . import x`` counts
    the package as well as ``x``, since importing ``x`` runs the package's ``__init__`` first)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target not in (name, "digitlab"):
                found.add(target)
    return found


GRAPH = {name: imported_modules(name) for name in MODULES}


def find_cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(GRAPH):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_the_walk_sees_imports_inside_functions():
    # digitlab.inference.export imports onnx inside a function, and its own package's modules at the top
    assert "digitlab.inference.predictor" in GRAPH["digitlab.inference.export"]
    assert len(MODULES) > 40 and all(layer(m) is not None for m in MODULES if m.count(".") >= 2)


def test_no_import_cycles_inside_digitlab():
    cycle = find_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_lower_layers_never_import_higher_ones():
    wrong = [
        f"{m} ({LAYERS[layer(m)]}) imports {t} ({LAYERS[layer(t)]})"
        for m, targets in GRAPH.items()
        for t in targets
        if layer(m) is not None and layer(t) is not None and layer(t) > layer(m)
    ]
    assert not wrong, "\n".join(wrong)


def test_only_the_old_import_paths_sit_outside_the_subpackages():
    top = {module_name(p) for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    assert top == SHIMS


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_function_is_longer_than_60_lines(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    long = [
        f"{n.name} ({n.end_lineno - n.lineno + 1} lines, line {n.lineno})"
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{MODULES[name]}: " + ", ".join(long)
