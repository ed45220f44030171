"""The package's layout rules (docs/architecture.md), checked on src/interbrain.

- Layers only import downwards: the import-linter contract of pyproject.toml
  (``lint-imports``).
- No import cycle between modules (strongly connected components of the import graph).
- No function-local import of interbrain's own modules (nothing dodges a cycle by
  importing late), nor ``importlib.import_module`` of them.
- No private name (``_foo``) of a public module used by another module
  (``from X import _foo`` or ``X._foo``).
- No module over 500 lines.

Each test lists every offender in its failure message.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "interbrain"
MAX_LINES = 500
INSTALL = f"{sys.executable} -m pip install -e '.[test]'  (or: make install)"


def _modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of src/interbrain."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _is_public(module: str) -> bool:
    """No part of the dotted name starts with an underscore."""
    return not any(part.startswith("_") for part in module.split("."))


def _is_private_name(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module of ``from ... import`` in module ``importer``."""
    if node.level == 0:
        return node.module or ""
    package = importer if _is_package(importer) else importer.rpartition(".")[0]
    parts = package.split(".")
    base = parts[:len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _own(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _where(module: str, node: ast.AST) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{node.lineno}"


def _trees() -> Iterator[tuple[str, ast.Module]]:
    for module, path in MODULES.items():
        yield module, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# --------------------------------------------------------------------------- layers

def test_layers_only_import_downwards():
    """``lint-imports`` keeps every contract of pyproject.toml."""
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail(f"lint-imports (import-linter) is not installed next to {sys.executable}: "
                    f"{INSTALL}")
    result = subprocess.run([str(exe), "--no-cache", "--no-logo"], cwd=ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail("lint-imports found imports against the layers of pyproject.toml "
                    f"[tool.importlinter]:\n{result.stdout.strip()}\n{result.stderr.strip()}",
                    pytrace=False)


# --------------------------------------------------------------------------- cycles

def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def test_strongly_connected_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert _strongly_connected(graph) == [["a", "b", "c"], ["d", "e"]]


def test_no_import_cycle(require):
    grimp = require("grimp")          # with import-linter
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True, cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = _strongly_connected(edges)
    lines = []
    for component in cycles:
        lines.append("cycle: " + " <-> ".join(component))
        members = set(component)
        for importer in component:
            for imported in sorted(edges[importer] & members):
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    lines.append(f"  {importer} -> {imported} (l.{detail['line_number']}: "
                                 f"{detail['line_contents']})")
    if cycles:
        pytest.fail("import cycles between modules:\n" + "\n".join(lines), pytrace=False)


# --------------------------------------------------------------------------- late imports

class _LateImports(ast.NodeVisitor):
    """Imports of interbrain modules inside functions (named by the innermost function),
    and ``import_module`` calls of them anywhere."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.functions: list[str] = []
        self.found: list[str] = []

    def _function(self, node) -> None:
        self.functions.append(getattr(node, "name", "lambda"))
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function  # noqa: N815

    def _report(self, node: ast.AST, text: str) -> None:
        self.found.append(f"{_where(self.module, node)} in {self.functions[-1]}(): {text}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802 (ast API)
        if self.functions and _own(_resolve(self.module, node)):
            self._report(node, f"from {'.' * node.level}{node.module or ''} import "
                               + ", ".join(a.name for a in node.names))

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802 (ast API)
        names = [a.name for a in node.names if _own(a.name)]
        if self.functions and names:
            self._report(node, f"import {', '.join(names)}")

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802 (ast API)
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if (name in ("import_module", "__import__") and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str) and _own(node.args[0].value)):
            self.found.append(f"{_where(self.module, node)}: {name}({node.args[0].value!r})")
        self.generic_visit(node)


def _late_imports(module: str, tree: ast.Module) -> list[str]:
    visitor = _LateImports(module)
    visitor.visit(tree)
    return visitor.found


def test_no_function_local_imports_of_the_package():
    offenders = [line for module, tree in _trees() for line in _late_imports(module, tree)]
    if offenders:
        pytest.fail("interbrain modules imported inside functions (import them at the top "
                    "of the module; a cycle this hides must be broken instead):\n"
                    + "\n".join(offenders), pytrace=False)


# --------------------------------------------------------------------------- private names

def _private_uses(module: str, tree: ast.Module) -> Iterator[str]:
    """``from X import _name`` and ``X._name`` where X is another public module."""
    aliases: dict[str, str] = {}   # local name -> interbrain module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            if not _own(source):
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if full in MODULES:   # a submodule: bound as a module
                    aliases[alias.asname or alias.name] = full
                    continue
                if (_is_private_name(alias.name) and _is_public(source)
                        and source != module):
                    yield (f"{_where(module, node)}: from {source} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _own(alias.name) and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and _is_private_name(node.attr)):
            source = aliases[node.value.id]
            if _is_public(source) and source != module and f"{source}.{node.attr}" not in MODULES:
                yield f"{_where(module, node)}: {source}.{node.attr}"


def test_no_private_names_of_other_modules():
    offenders = [line for module, tree in _trees() for line in _private_uses(module, tree)]
    if offenders:
        pytest.fail("private names of public modules used by other modules (make the name "
                    "public, or move it to where it is used):\n" + "\n".join(offenders),
                    pytrace=False)


# --------------------------------------------------------------------------- size

def test_no_module_over_500_lines():
    sizes = {path: len(path.read_text(encoding="utf-8").splitlines())
             for path in MODULES.values()}
    over = sorted((n, path) for path, n in sizes.items() if n > MAX_LINES)
    if over:
        pytest.fail(f"modules over {MAX_LINES} lines (split them by what they compute):\n"
                    + "\n".join(f"{path.relative_to(ROOT)}: {n} lines" for n, path in over),
                    pytrace=False)


def test_reading_a_study_imports_no_statistics_libraries():
    """Loading study.toml builds each stage's settings without the model machinery:
    ``import interbrain.study`` imports neither patsy nor statsmodels (nor the mixed
    models of ``interbrain.stats.mixed``)."""
    code = ("import sys, interbrain.study; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('patsy', 'statsmodels') or m.startswith('interbrain.stats.mixed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"import interbrain.study loaded {out}"
