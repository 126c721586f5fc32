"""The package's arrows, read from the source: the core imports no Qt, nothing imports upwards, no
private name crosses a package, and no two client-side files share a name."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_aignostics"
CORE = ("slides", "platform", "server", "apps", "results", "workflow")
ALLOWED = {  # package → the sibling packages it may import (lazily or not)
    "slides": set(),
    "platform": {"slides"},
    "apps": {"slides", "platform"},
    "server": {"slides", "platform", "apps"},
    "results": {"slides", "platform"},
    "workflow": {"slides", "platform", "server"},
    "widgets": {"slides", "platform", "results", "workflow"},
}
QT = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari.qt", "napari._qt")


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every import in a file, relative ones made absolute."""
    package = path.relative_to(PACKAGE.parent).parent.parts
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((module, [alias.name for alias in node.names]))
    return found


def _files(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def test_the_core_imports_no_qt() -> None:
    offending = [
        f"{path.relative_to(PACKAGE)}: {module}"
        for package in CORE
        for path in _files(package)
        for module, _ in _imports(path)
        if module.startswith(QT)
    ]
    assert offending == []


def test_arrows_point_down_and_no_private_name_crosses_a_package() -> None:
    problems = []
    for package, allowed in ALLOWED.items():
        for path in _files(package):
            for module, names in _imports(path):
                parts = module.split(".")
                if parts[0] != "napari_aignostics" or len(parts) < 2:
                    continue
                target = parts[1]
                if target in ALLOWED and target != package and target not in allowed:
                    problems.append(f"{path.relative_to(PACKAGE)} imports {module}")
                if target != package and any(n.startswith("_") for n in names):
                    problems.append(f"{path.relative_to(PACKAGE)} imports private {names}")
    assert problems == []


def test_client_side_file_names_are_unique() -> None:
    names = Counter(
        path.name
        for package in ("slides", "platform", "results", "widgets", "workflow")
        for path in sorted((PACKAGE / package).glob("*.py"))
        if path.name != "__init__.py"
    )
    assert [name for name, count in names.items() if count > 1] == []


def test_every_package_says_what_it_holds() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.split()) >= 5, f"{init.relative_to(PACKAGE)}: {doc!r}"
    assert (PACKAGE / "py.typed").is_file()


SERVER = PACKAGE / "server"
STORE = SERVER / "store"
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|UPDATE\s+\w+\s+SET|INSERT\s+(OR\s+\w+\s+)?INTO|DELETE\s+FROM)\b",
    re.DOTALL,
)
STATE_WRITES = {  # store methods that change states: only the lifecycle calls them
    "claim_item",
    "terminate_item",
    "terminate_run",
    "complete_run",
    "set_run_state",
    "requeue_item",
    "mark_outputs_deleted",
}


def _strings(tree: ast.AST) -> list[str]:
    """Every string literal, f-string parts joined."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            found.append("".join(
                v.value if isinstance(v, ast.Constant) else "?" for v in node.values
            ))
    return found


def test_sql_lives_in_the_store_and_states_change_in_the_lifecycle() -> None:
    sql, writes = [], []
    for path in _files("server"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.relative_to(PACKAGE)
        if STORE not in path.parents:
            sql += [f"{name}: {text[:60]!r}" for text in _strings(tree) if SQL.search(text)]
        if path.name != "lifecycle.py":
            writes += [
                f"{name}: {node.attr}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and node.attr in STATE_WRITES
                and STORE not in path.parents
            ]
    assert sql == []
    assert writes == []


def test_routes_take_a_typed_caller_and_no_untyped_dicts() -> None:
    problems, routes = [], 0
    for path in sorted((SERVER / "routes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not any("router." in ast.unparse(d) for d in node.decorator_list):
                continue
            routes += 1
            annotations = [a.annotation for a in node.args.args if a.annotation] + [node.returns]
            for annotation in annotations:
                text = ast.unparse(annotation) if annotation is not None else ""
                if "dict[str, Any]" in text or text == "Any":
                    problems.append(f"{path.name}:{node.name}: {text}")
    assert routes >= 30
    assert problems == []
