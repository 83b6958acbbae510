"""Imports run downward (issue 16, item 5): closebooks, then integrations and reconciliation (which
never import each other), then ledger, then common, which imports no app. Application code imports
nothing from tests/, and no module's imports lead back to it.

The contracts are in pyproject.toml (``[tool.importlinter]``) and import-linter checks them on the
graph grimp builds from the source, where an import inside a function counts like any other."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
APPS = ("common", "ledger", "integrations", "reconciliation", "closebooks")


def test_layers_independence_and_sibling_loops_follow_the_contracts():
    """Issue 16 item 5: ledger imports no other app; integrations and reconciliation import neither
    each other nor closebooks; common imports no app; no app imports tests/; no loop between the
    modules or sub-packages of a package. On failure the output names each offending import."""
    result = subprocess.run(  # noqa: S603 - the venv's own lint-imports, fixed arguments
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_is_reached_again_by_its_own_imports():
    """Issue 16 item 5: no import loop anywhere in the application's modules, including one through a
    package's ``__init__`` (a re-export), which the sibling contract above does not look at."""
    graph = grimp.build_graph(*APPS, cache_dir=None)
    loops = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            chain = graph.find_shortest_chain(importer=imported, imported=importer)
            if chain:
                loops.append(" -> ".join((importer, *chain)))
    assert not loops, "import loops:\n" + "\n".join(loops)
