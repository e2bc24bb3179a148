"""The house's rules, held by tests: no import circle, no long module without a reason, a code map that names every room."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vccore"
MOST_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The vccore modules this one imports at import time (TYPE_CHECKING blocks and function bodies left out).

    Importing ``a.b.c`` runs ``a`` and ``a.b`` first, so those count as imported too (except the
    importer's own packages, which are already running).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    # A module's own packages run before it (Python imports parents first): not an edge.
    ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}

    def add(target: str) -> None:
        while target:
            if target in known and target != name and target not in ancestors:
                found.add(target)
            target = target.rpartition(".")[0]

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                add(module)
                for alias in node.names:
                    add(f"{module}.{alias.name}")
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for block in ("body", "orelse", "finalbody"):
                    visit(getattr(node, block, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := walk(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_the_package_has_no_import_circle() -> None:
    assert _cycle(_graph()) is None


def test_the_circle_finder_finds_a_circle() -> None:
    graph = _graph()
    graph["vccore.results"] = graph["vccore.results"] | {"vccore.verify.verifier"}
    assert _cycle(graph) is not None


# The floors of the code map (CONTRIBUTING.md), top first. A module imports only from its own
# floor or below; the circle test keeps a floor's rooms from importing each other both ways.
FLOORS: list[tuple[str, ...]] = [
    ("vccore", "vccore.__main__", "vccore.cli", "vccore.http", "vccore.batch"),
    ("vccore.issuer", "vccore.sunbird"),
    ("vccore.verify",),
    ("vccore._compiled", "vccore._document_shapes"),
    ("vccore.status", "vccore.store"),
    (
        "vccore.entities",
        "vccore.entity_import",
        "vccore._templates",
        "vccore.handlebars",
        "vccore.payloads",
        "vccore.render",
        "vccore.pdf",
        "vccore.certificate_templates",
        "vccore.qr",
    ),
    (
        "vccore.proofs",
        "vccore.suites",
        "vccore.keys",
        "vccore._ed25519",
        "vccore.dids",
        "vccore.verification_methods",
        "vccore.key_files",
        "vccore._key_encryption",
    ),
    (
        "vccore.canon",
        "vccore._rdfc10",
        "vccore._nquads",
        "vccore._jcs",
        "vccore.contexts",
        "vccore._multibase",
        "vccore._datetime",
        "vccore._json",
        "vccore._vocab",
        "vccore._resources",
        "vccore.errors",
        "vccore.codes",
        "vccore.results",
        "vccore._signed",
        "vccore._cache",
        "vccore._threads",
        "vccore._fetch",
    ),
]


def _floor(module: str) -> int:
    """The floor a module is on, counted from the top (0), by its room (its package, or itself)."""
    for number, rooms in enumerate(FLOORS):
        if any(module == room or (room != "vccore" and module.startswith(room + ".")) for room in rooms):
            return number
    raise AssertionError(f"{module} is on no floor of the code map: add it to FLOORS and to CONTRIBUTING.md")


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} (floor {_floor(module)}) imports {target} (floor {_floor(target)})"
        for module, targets in graph.items()
        for target in targets
        if _floor(target) < _floor(module)
    )


def test_imports_run_down_the_floors() -> None:
    assert _upward(_graph()) == []


def test_the_floor_check_sees_an_import_going_up() -> None:
    graph = _graph()
    graph["vccore.canon"] = graph["vccore.canon"] | {"vccore.issuer"}
    assert _upward(graph) == ["vccore.canon (floor 7) imports vccore.issuer (floor 1)"]


def _contributing() -> str:
    return (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")


def test_a_module_over_500_lines_has_a_reason_in_the_code_map() -> None:
    text = _contributing()
    for path in _modules().values():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MOST_LINES:
            relative = path.relative_to(ROOT).as_posix()
            reason = re.search(rf"^- `{re.escape(relative)}` is long: .+$", text, re.MULTILINE)
            assert reason, f"{relative} has {lines} lines and no reason in CONTRIBUTING.md"


def test_the_code_map_names_every_room_and_only_rooms_that_exist() -> None:
    text = _contributing()
    rooms = {path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*.py")}
    rooms |= {
        path.relative_to(ROOT).as_posix() + "/"
        for path in PACKAGE.iterdir()
        if path.is_dir() and (path / "__init__.py").exists()
    }
    named = set(re.findall(r"`(vccore/[A-Za-z0-9_/.]+)`", text))
    missing = {
        room
        for room in rooms
        if room.endswith(".py") and room not in named and room.rpartition("/")[0] + "/" not in named
    }
    assert not missing, f"CONTRIBUTING.md's code map does not name {sorted(missing)}"
    assert named <= rooms, f"CONTRIBUTING.md names rooms that do not exist: {sorted(named - rooms)}"
