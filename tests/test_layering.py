"""helpers' modules import one another in one direction, and only at module level.

Each module of the package (subpackages such as ``helpers/exercises`` included) is parsed with
``ast``. An import of a helpers module at module level (also inside a module-level ``if`` or
``try``) is an edge of the import graph: the graph must be acyclic, and the top-level modules
must follow the order of the module list in the package docstring, which states the layering
(layers -> models -> training -> generation -> plots/widgets, with the rest in between). An
import of a helpers module inside a function or class hides an edge, usually to dodge a cycle:
none is allowed. A genuinely optional, heavy dependency imported on demand would be listed in
``ON_DEMAND`` with its reason; there is none.
"""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import pytest

import helpers

PACKAGE = Path(helpers.__file__).parent
ON_DEMAND: dict[tuple[str, str], str] = {}  # (importing module, imported module) -> why it is imported in a function


def _modules(package: Path) -> dict[str, Path]:
    """Module names relative to helpers ("models", "exercises._verdict"; "__init__" is helpers itself)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]  # a subpackage's __init__ is the subpackage
        names[".".join(parts)] = path
    return names


def _resolve(dotted: str, modules) -> str:
    """The module that a dotted name relative to helpers lives in ("" and unknown names: the package)."""
    while dotted and dotted not in modules:
        dotted = dotted.rpartition(".")[0]
    return dotted or "__init__"


def _targets(node: ast.Import | ast.ImportFrom, module: str, modules) -> set[str]:
    """The helpers modules that one import statement of ``module`` imports."""
    if isinstance(node, ast.Import):
        return {_resolve(a.name.partition(".")[2], modules) for a in node.names if a.name.startswith("helpers.")}
    if node.level == 0:
        if node.module != "helpers" and not (node.module or "").startswith("helpers."):
            return set()  # another package
        base = node.module.partition(".")[2]
    else:  # relative: level 1 is the module's own package, 2 the one above it
        package = module.split(".") if modules[module].name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1] if module != "__init__" else []
        base = ".".join([*package, *([node.module] if node.module else [])])
    # ``from base import name``: a submodule if base.name is one, else a name defined in base
    return {_resolve(f"{base}.{a.name}".strip("."), modules) for a in node.names}


def _imports(module: str, modules) -> tuple[set[str], set[str]]:
    """(module-level, inside a function or class) helpers modules imported by ``module``."""
    tree = ast.parse(modules[module].read_text(encoding="utf-8"))
    top, hidden = set(), set()

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            (hidden if in_function else top).update(_targets(node, module, modules) - {module})
        nested = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, nested)

    visit(tree, False)
    return top, hidden


MODULES = _modules(PACKAGE)
GRAPH = {module: _imports(module, MODULES) for module in MODULES}
TOP_LEVEL = sorted(m for m in MODULES if "." not in m and MODULES[m].name != "__init__.py")  # the .py files


def _documented_order() -> list[str]:
    """The modules of the package docstring's list, in order."""
    return re.findall(r"^    (\w+) +\S", helpers.__doc__, flags=re.MULTILINE)


def _closure(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for imported in GRAPH[todo.pop()][0]:
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def test_no_helpers_module_is_imported_inside_a_function():
    hidden = {(module, imported) for module, (_, local) in GRAPH.items() for imported in local}
    assert hidden <= set(ON_DEMAND), (
        f"imports inside functions (move them to the top of the module): {sorted(hidden - set(ON_DEMAND))}"
    )


def test_the_module_level_import_graph_has_no_cycle():
    graphlib.TopologicalSorter({module: top for module, (top, _) in GRAPH.items()}).prepare()  # raises CycleError


def test_the_docstrings_module_list_is_complete_and_each_module_imports_only_modules_above_it():
    order = _documented_order()
    public = [m for m in TOP_LEVEL if not m.startswith("_")]
    assert sorted(order) == public, "helpers/__init__.py's docstring must list every public module once"
    for i, module in enumerate(order):
        below = {m for m in GRAPH[module][0] if not m.startswith("_")} - set(order[:i])
        assert not below, f"{module} imports {sorted(below)}, listed below it in helpers/__init__.py"
    private = [m for m in TOP_LEVEL if m.startswith("_")]
    for module in private:
        assert GRAPH[module][0] <= set(private), f"the private {module} imports public modules"


@pytest.mark.parametrize(
    "lower, upper",
    [
        ("layers", "models"),
        ("models", "training"),
        ("training", "generation"),
        ("generation", "checkpoints"),
        ("models", "plots"),
        ("plots", "widgets"),
    ],
)
def test_imports_run_one_way_from_layers_to_the_widgets(lower, upper):
    assert lower in _closure(upper) and upper not in _closure(lower)


def test_the_parser_sees_every_kind_of_import(tmp_path):
    """The walk finds module-level and hidden imports, relative and absolute, in subpackages too."""
    for name in ("__init__", "plots", "models", "energy", "data", "layers", "training", "widgets"):
        (tmp_path / f"{name}.py").write_text("")
    (tmp_path / "probe.py").write_text(
        "from . import plots\nfrom .models import PolymerVAE\nimport helpers.energy\nfrom helpers import data, train_vae\n"
        "try:\n    from .layers import mlp\nexcept ImportError:\n    pass\n"
        "def f():\n    from .training import train_vae\n\nclass C:\n    import helpers.widgets\n"
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "__init__.py").write_text("from . import part\n")
    (tmp_path / "sub" / "part.py").write_text(
        "from ..models import PolymerVAE\nfrom . import other\ndef f():\n    from .. import training\n"
    )
    (tmp_path / "sub" / "other.py").write_text("")
    modules = _modules(tmp_path)
    top, hidden = _imports("probe", modules)
    assert top == {"plots", "models", "energy", "data", "__init__", "layers"} and hidden == {"training", "widgets"}
    assert _imports("sub", modules) == ({"sub.part"}, set())
    assert _imports("sub.part", modules) == ({"models", "sub.other"}, {"training"})
