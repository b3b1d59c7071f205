"""The layering rule holds: imports flow api -> daemon services -> stores -> shim/runtime -> kernel, never up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "berth"

# package -> packages it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "berth.kernel": ("berth.runtime", "berth.seccomp", "berth.shim", "berth.store", "berth.daemon", "berth.api",
                     "berth.cli"),
    "berth.runtime": ("berth.shim", "berth.store", "berth.daemon", "berth.api", "berth.cli", "berth.client"),
    "berth.shim": ("berth.store", "berth.daemon", "berth.api", "berth.cli", "berth.client"),
    "berth.netns": ("berth.store", "berth.daemon", "berth.api", "berth.cli", "berth.client"),
    "berth.zygote": ("berth.store", "berth.daemon", "berth.api", "berth.cli", "berth.client"),
    "berth.store": ("berth.daemon", "berth.api", "berth.cli", "berth.shim", "berth.runtime"),
    "berth.api": ("berth.daemon", "berth.cli", "berth.store", "berth.shim", "berth.runtime"),
    "berth.cli": ("berth.daemon", "berth.api", "berth.store", "berth.shim", "berth.runtime", "berth.kernel"),
    "berth.client": ("berth.daemon", "berth.api", "berth.store", "berth.shim", "berth.runtime", "berth.kernel"),
    "berth.distribution": ("berth.daemon", "berth.api", "berth.cli", "berth.shim", "berth.runtime", "berth.client"),
    "berth.seccomp": ("berth.runtime", "berth.shim", "berth.store", "berth.daemon", "berth.api", "berth.cli",
                      "berth.client"),
    "berth.registry": ("berth.daemon", "berth.api.routes", "berth.api.app", "berth.api.middleware", "berth.cli",
                       "berth.client", "berth.shim", "berth.runtime", "berth.kernel"),
    "berth.oci": ("berth.daemon", "berth.api", "berth.store", "berth.shim", "berth.runtime", "berth.cli"),
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        mod = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        out.append((mod, path))
    return out


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_module_respects_layers(module: str, path: Path) -> None:
    for package, banned in FORBIDDEN.items():
        if module == package or module.startswith(package + "."):
            bad = [n for n in _imports(path) if any(n == b or n.startswith(b + ".") for b in banned)]
            assert not bad, f"{module} imports {bad}: that crosses a layer"


def test_services_do_not_import_each_other() -> None:
    for module, path in _modules():
        if module.startswith("berth.daemon.images"):
            assert not [n for n in _imports(path) if n.startswith("berth.daemon.containers")], module
        if module.startswith("berth.daemon.containers"):
            assert not [n for n in _imports(path) if n.startswith("berth.daemon.images")], module


def test_every_module_has_a_docstring() -> None:
    missing = [m for m, p in _modules() if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not missing, f"modules without a docstring: {missing}"
