"""The house's rules, read from the source: imports run only downward (a lower feature learns what a
higher one knows through a hook the higher one registers), no feature guards an import of another
with ``try/except ImportError``, no private name crosses a module, one currency sign."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLATFORM = Path(__file__).resolve().parent.parent / "platform"

# Each feature and the features it must never import (they sit above it).
ABOVE = {
    "streams": {"capture", "billing_socialization", "incidents", "dashboards", "transparency", "alerts", "video"},
    "capture": {"video"},  # capture asks video for live frames through a hook video registers
    "billing_socialization": {"incidents", "dashboards", "transparency", "alerts"},
    "incidents": {"billing_socialization", "dashboards", "transparency", "alerts"},
    "dashboards": {"transparency", "alerts"},
}
FEATURES = {"tenants", "streams", "capture", "billing_socialization", "incidents", "dashboards", "transparency",
            "alerts", "ops", "video"}


def _modules(package: str | None = None):
    for path in sorted((PLATFORM / package if package else PLATFORM).rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _imported(path: Path, tree) -> list[tuple[str, list[str]]]:
    """(camnet module, names) for every import of the package, relative ones resolved."""
    here = path.relative_to(PLATFORM).with_suffix("").parts[:-1]
    if path.name == "__init__.py":
        here = path.relative_to(PLATFORM).parts[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[:len(here) - node.level + 1])
                module = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("camnet"):
                module = node.module.removeprefix("camnet").lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            if not node.module:  # from . import x, y: each is a module
                out += [(f"{module}.{n}".strip("."), []) for n in names]
            else:
                out.append((module, names))
        elif isinstance(node, ast.Import):
            out += [(a.name.removeprefix("camnet").lstrip("."), []) for a in node.names if a.name.startswith("camnet")]
    return out


@pytest.mark.parametrize("feature", sorted(ABOVE))
def test_a_feature_never_imports_one_above_it(feature):
    wrong = [f"{path.relative_to(PLATFORM)} imports {module}" for path, tree in _modules(feature)
             for module, _ in _imported(path, tree) if module.split(".")[0] in ABOVE[feature]]
    assert wrong == []


def test_only_the_app_factory_imports_dashboards():
    wrong = [str(path.relative_to(PLATFORM)) for path, tree in _modules()
             if path.relative_to(PLATFORM).parts[0] not in ("dashboards", "__init__.py")
             and any(module.split(".")[0] == "dashboards" for module, _ in _imported(path, tree))]
    assert wrong == []


def test_no_feature_guards_an_import_of_another():
    wrong = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                    for h in node.handlers):
                inner = ast.Module(body=node.body, type_ignores=[])
                mine = path.relative_to(PLATFORM).parts[0]
                if any(module.split(".")[0] in FEATURES - {mine} for module, _ in _imported(path, inner)):
                    wrong.append(f"{path.relative_to(PLATFORM)}:{node.lineno}")
    assert wrong == []


@pytest.mark.parametrize("feature", ["dashboards", "incidents", "billing_socialization", "streams"])
def test_no_private_name_crosses_a_module(feature):
    wrong = [f"{path.relative_to(PLATFORM)} takes {name} from {module}" for path, tree in _modules(feature)
             for module, names in _imported(path, tree) for name in names
             if name.startswith("_") and not name.startswith("__")]
    assert wrong == []


def test_the_cli_module_does_not_import_the_app_factory_back():
    tree = ast.parse((PLATFORM / "cli.py").read_text())
    assert not [m for m, names in _imported(PLATFORM / "cli.py", tree) if m == "" and "create_app" in names]


def test_one_currency_sign():
    files = [p for p in PLATFORM.rglob("*") if p.suffix in (".py", ".html", ".js") and "vendor" not in p.parts]
    assert [str(p.relative_to(PLATFORM)) for p in files if "₫" in p.read_text()] == []
