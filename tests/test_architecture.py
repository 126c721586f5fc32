"""The package's arrows, read from the source: the core imports no Qt, nothing imports upwards, no
private name crosses a package, and no two client-side files share a name."""

from __future__ import annotations

import ast
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
    return sorted((PACKAGE / package).glob("*.py"))


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
        for path in _files(package)
        if path.name != "__init__.py"
    )
    assert [name for name, count in names.items() if count > 1] == []


def test_every_package_says_what_it_holds() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.split()) >= 5, f"{init.relative_to(PACKAGE)}: {doc!r}"
    assert (PACKAGE / "py.typed").is_file()
