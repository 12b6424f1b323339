#!/usr/bin/env python3
"""Checks the shape of tracework's code: rooms import only the rooms below them, no module-level
import cycle exists, no module imports another module's ``_private`` names, and every package
says in its docstring what it owns.

usage: check_layout.py [SRC_DIR]   (default: src)      exit 1 on any finding

Every import counts for the room order, also those inside functions and under
``TYPE_CHECKING``: an import deferred into a function is still a dependency. Cycles are looked
for among module-level imports, the ones that run when a module is loaded.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "tracework"

# Lowest first. A room may import its own modules and those of rooms of a lower rank; rooms of
# the same rank are siblings and do not import each other.
RANKS: dict[str, int] = {
    "core": 0,
    "formats": 1,
    "ingest": 2,
    "dataset": 2,
    "fieldnotes": 3,
    "review": 3,
    "pay": 4,
    "audit": 5,
    "docs": 6,
    "render": 7,
    "web": 8,
    "demo": 9,
    "": 10,            # the package itself: the public facade (tracework.ingest_mturk, …)
    "cli": 11,
    "__main__": 12,
}


@dataclass(frozen=True)
class Import:
    module: str            # the importing module
    target: str            # the module imported (or the module a name is imported from)
    names: tuple[str, ...]
    line: int
    top_level: bool


def module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_nodes(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.If | ast.Try):
            is_type_check = isinstance(node, ast.If) and (
                getattr(node.test, "id", None) == "TYPE_CHECKING"
                or getattr(node.test, "attr", None) == "TYPE_CHECKING")
            if not is_type_check:
                ids.update(id(n) for n in ast.walk(node))
        else:
            ids.add(id(node))
    return ids


def imports(src: Path) -> Iterator[Import]:
    for path in sorted(src.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        mod = module_name(src, path)
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        top = _top_level_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(mod, alias.name, (), node.lineno, id(node) in top)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                yield Import(mod, target, tuple(a.name for a in node.names), node.lineno,
                             id(node) in top)


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANKS else ""


def _resolve(target: str, name: str, modules: set[str]) -> str:
    """``from tracework.fieldnotes import notes`` imports the module tracework.fieldnotes.notes."""
    sub = f"{target}.{name}"
    return sub if sub in modules else target


def findings(src: Path) -> list[str]:
    found = list(imports(src))
    modules = {module_name(src, p) for p in src.rglob("*.py") if "migrations" not in p.parts}
    out: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in found:
        if not (imp.target == PACKAGE or imp.target.startswith(PACKAGE + ".")):
            continue
        targets = {_resolve(imp.target, n, modules) for n in imp.names} or {imp.target}
        for target in targets:
            here, there = room(imp.module), room(target)
            if here != there and RANKS[there] >= RANKS[here]:
                out.append(f"{imp.module}:{imp.line}: room {here or PACKAGE!r} imports "
                           f"{target} of room {there or PACKAGE!r}, which is not below it")
            if imp.top_level and target in modules and target != imp.module:
                graph[imp.module].add(target)
        for name in imp.names:
            if name.startswith("_") and not name.startswith("__") \
                    and _resolve(imp.target, name, modules) == imp.target:
                out.append(f"{imp.module}:{imp.line}: imports the private name {name} "
                           f"from {imp.target}")
    out.extend(f"import cycle: {' -> '.join(c)}" for c in _cycles(graph))
    for path in sorted(src.rglob("__init__.py")):
        if "migrations" in path.parts:
            continue
        if ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None:
            out.append(f"{module_name(src, path)}: the package has no docstring saying what "
                       "it owns")
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def main(argv: list[str]) -> int:
    src = Path(argv[1] if len(argv) > 1 else "src")
    problems = findings(src)
    for p in problems:
        print(p)
    print(f"{len(problems)} layout findings in {src}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
