"""The package's import graph: no cycles, and the adapters load nothing heavy.

The graph is read from the source (module-level imports only: an import inside a function
or under ``if TYPE_CHECKING:`` runs later or never, so it cannot make a cycle at import
time), so a cycle is reported before anyone trips over a half-initialised module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "consentguard"
SOURCE = Path(__file__).resolve().parent.parent / "src" / PACKAGE


def _module_name(path: Path, root: Path = SOURCE.parent) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _top_level_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """Imports run when the module is: statement level, ``try``/``if`` blocks included,
    except ``if TYPE_CHECKING:``; not inside functions or classes."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                found += _top_level_imports(node.body)
            found += _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody,
                          *(handler.body for handler in node.handlers)):
                found += _top_level_imports(block)
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each package module and the package modules it imports at module level.

    Importing ``a.b.c`` runs ``a`` and ``a.b`` first: an edge to each, except to the
    importer's own ancestors, which are already importing when it runs. ``from a import
    name`` needs ``a`` itself to have run when ``name`` is not a submodule: an edge to
    ``a`` even when it is an ancestor (the half-initialised package of a real cycle).
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        own = _ancestors(name) | ({name} if is_package else set())
        targets: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text("utf-8")).body):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    targets |= {alias.name} | (_ancestors(alias.name) - own)
                continue
            base = _resolve(name, is_package, node)
            targets |= _ancestors(base) - own
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as ``[a, b, ..., a]``, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def package_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_reads_module_level_imports_only(tmp_path: Path) -> None:
    source = tmp_path / "pkg"
    source.mkdir()
    (source / "__init__.py").write_text("from .a import A\n")
    (source / "a.py").write_text(
        "from typing import TYPE_CHECKING\nimport pkg.b\nif TYPE_CHECKING:\n"
        "    from .c import C\ntry:\n    from . import d\nexcept ImportError:\n"
        "    d = None\ndef f():\n    from .e import E\nclass A: ...\n")
    for name in "bcde":
        (source / f"{name}.py").write_text("")
    (source / "sub").mkdir()
    (source / "sub" / "__init__.py").write_text("")
    (source / "sub" / "x.py").write_text("from ..a import A\nfrom .. import b\n")
    modules = {_module_name(p, tmp_path): p for p in sorted(source.rglob("*.py"))}
    graph = import_graph(modules)
    # (the package itself is no edge: it is importing already when its submodule runs)
    assert graph["pkg"] == {"pkg.a"}
    assert graph["pkg.a"] == {"pkg.b", "pkg.d"}
    assert graph["pkg.sub.x"] == {"pkg.a", "pkg.b"}
    assert find_cycle(graph) is None
    # A name taken from a package still importing: a real cycle.
    (source / "b.py").write_text("from pkg import A\n")
    assert find_cycle(import_graph(modules)) == ["pkg", "pkg.a", "pkg.b", "pkg"]

def test_the_package_import_graph_has_no_cycle() -> None:
    graph = import_graph(package_modules())
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_importing_the_adapters_loads_no_database_or_cli_machinery() -> None:
    script = ("import sys, consentguard, consentguard.asgi, consentguard.wsgi; "
              "print(' '.join(sorted(m for m in ('sqlite3', 'argparse', 'sqlalchemy') "
              "if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == []


@pytest.mark.parametrize("module", ["sqlite3", "argparse"])
def test_the_subprocess_check_sees_what_is_loaded(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import sys, {module}; "
                           f"print({module!r} in sys.modules)"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True"
