"""Every name a module of the project imports from another, imported for real: module-level
imports, imports inside functions (benchmarks defer theirs until they run) and type-checking
imports alike. A rename that leaves a caller behind fails here, in the suite, instead of in a
benchmark or a code path nobody ran."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections import defaultdict
from pathlib import Path

import pytest

from devkit.sources import PACKAGES, python_files

REPO = Path(__file__).resolve().parents[1]
OURS = PACKAGES
# Modules that still import what no longer exists (strict: once one imports cleanly this fails
# until it leaves the list). None today.
BROKEN: dict[str, str] = {}


def _package_of(path: Path) -> str:
    """The package ``path`` is a module of (itself, for an ``__init__.py``)."""
    if not path.is_relative_to(REPO):
        return ""
    return ".".join(path.relative_to(REPO).parent.parts)


def imported_names(path: Path) -> dict[str, list[tuple[int, str | None]]]:
    """Module -> (line, name) for every import of ours in ``path``, wherever it stands (a name of
    None: the module itself, ``import a.b``)."""
    package = _package_of(path)
    wanted: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            if module.split(".")[0] in OURS:
                wanted[module] += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OURS:
                    wanted[alias.name].append((node.lineno, None))
    return wanted


def missing_names(path: Path) -> list[str]:
    """``file:line: module.name`` for each import of ``path`` that fails."""
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    problems = []
    for module_name, names in imported_names(path).items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            problems += [f"{where}:{line}: {module_name} ({exc})" for line, _ in names]
            continue
        for line, name in names:
            if name is None or name == "*" or hasattr(module, name):
                continue
            # A submodule not imported yet (``from package import module``).
            is_package = hasattr(module, "__path__")
            if not is_package or importlib.util.find_spec(f"{module_name}.{name}") is None:
                problems.append(f"{where}:{line}: {module_name}.{name}")
    return problems


def _cases() -> list[object]:
    cases: list[object] = []
    for path in python_files(*OURS):
        if not imported_names(path):
            continue
        name = str(path.relative_to(REPO))
        marks = [pytest.mark.xfail(strict=True, reason=BROKEN[name])] if name in BROKEN else []
        cases.append(pytest.param(path, id=name, marks=marks))
    return cases


@pytest.mark.parametrize("path", _cases())
def test_every_imported_name_exists(path: Path) -> None:
    problems = missing_names(path)
    assert not problems, "\n".join(problems)


def test_a_missing_name_is_found(tmp_path: Path) -> None:
    """The check can fail: an import inside a function of a name that is gone is reported."""
    module = tmp_path / "gone.py"
    module.write_text(
        "def main():\n    from stock_assets.definitions import ASSETS\n    return ASSETS\n"
    )
    problems = missing_names(module)
    assert [p.split(": ", 1)[1] for p in problems] == ["stock_assets.definitions.ASSETS"]
