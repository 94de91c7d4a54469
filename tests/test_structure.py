"""The shape of the helper code: small, split by its reader, no import cycles, scripts apart from tests.

``utils/``'s top-level modules are what a learner may open (at most 400 lines in all); the course's
machinery lives in ``utils/machinery`` (with them, at most 2,000 lines). When a limit is hit, move
code into a maintained library or out of the course, not into a new helper.

Import cycles are checked at module level, where they break: importing any module must never
re-enter one that is half initialised. Two learner-facing functions reach the machinery at call
time (``local_cloud.start`` starts the helper process, ``data.make_glad_tile`` runs the sample
factory); those imports sit inside the functions on purpose, so ``import utils.data`` stays light.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UTILS = ROOT / "utils"
TOP_LEVEL = sorted(UTILS.glob("*.py"))
ALL_HELPERS = sorted(UTILS.rglob("*.py"))


def lines(files: list[Path]) -> int:
    return sum(len(f.read_text(encoding="utf-8").splitlines()) for f in files)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it is imported (statements outside functions and classes)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:  # only the top level: function bodies run later, if ever
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try, ast.With)) else [node]:
            if isinstance(sub, ast.Import):
                names.update(alias.name for alias in sub.names)
            elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                names.add(sub.module)
                names.update(f"{sub.module}.{alias.name}" for alias in sub.names)
    return names


def test_helper_code_stays_small() -> None:
    assert lines(TOP_LEVEL) <= 400, f"utils/*.py is {lines(TOP_LEVEL)} lines: the learner's helpers stay at most 400"
    assert lines(ALL_HELPERS) <= 2000, f"utils/ is {lines(ALL_HELPERS)} lines in all: at most 2,000"


def test_no_module_level_import_cycles() -> None:
    modules = {module_name(p): p for p in ALL_HELPERS}
    graph = {name: {m for m in module_level_imports(p) if m in modules and m != name} for name, p in modules.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for dep in sorted(graph[name]):
            if dep in path + [name]:
                pytest.fail("import cycle at module level: " + " -> ".join(path[path.index(dep):] + [name, dep]
                                                                             if dep in path else [name, dep]))
            if dep not in done:
                visit(dep, path + [name])
        done.add(name)

    for name in sorted(set(graph) - done):
        visit(name, [])
    # The check sees the edges it must: the machinery builds on the learner's modules.
    assert "utils.data" in graph["utils.machinery.sample_data"]


@pytest.mark.parametrize("path", sorted((ROOT / "scripts").rglob("*.py")) + ALL_HELPERS,
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_scripts_and_helpers_do_not_import_the_tests(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad = [a.name for a in node.names if a.name.split(".")[0] in {"tests", "conftest"}]
        elif isinstance(node, ast.ImportFrom):
            bad = [node.module] if (node.module or "").split(".")[0] in {"tests", "conftest"} else []
        else:
            bad = []
        assert not bad, f"{path.name}:{node.lineno} imports {bad}: shared code belongs in utils.machinery"
    assert "sys.path" not in path.read_text(encoding="utf-8") or path.name == "sitecustomize.py", \
        f"{path.name} edits sys.path: import through the installed package instead"
