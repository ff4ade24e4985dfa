"""The shape of the code, checked: apps depend one way, modules and functions stay short.

The order, from the floor up (an app may import from its own rank's floor and below, never above):

    0  project core   changemgmt/*.py: clock, roles, pagination, panels (the panel registry), the
                      Celery app — below every app, so any app may use them
    1  audit, catalog the audit record and notifications; the AI features, teams and tiers
    2  tickets        the change ticket, its lifecycle and the CAB
    3  windows,       release windows, freezes and the calendar;
       killswitches   the three layers, the gateway policy, game days
    4  rollouts,      ramp plans, health samples and the sweeper;
       reporting      the process numbers (they read tickets, audit and killswitches)
    5  web            the dashboard and the project's pages
    -  settings, urls, wsgi: the wiring, which sees everything

Two apps of one rank do not import each other, except the pairs in PEER_USES (one way only).
A lower app that needs to hear from a higher one offers a signal or a registry (ticket_transitioned,
tickets.guards.register, windows.calendar.register_event_source, changemgmt.panels); imports
inside functions count like any other.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "changemgmt"

CORE = 0
RANKS = {
    "audit": 1,
    "catalog": 1,
    "tickets": 2,
    "windows": 3,
    "killswitches": 3,
    "rollouts": 4,
    "reporting": 4,
    "web": 5,
}
WIRING = {"settings", "urls", "wsgi"}
# (importer, imported), one way only. audit is the floor: catalog's admin keeps the audit trail
# with audit's admin mixin. Game days show on windows' calendar through its event-source registry.
PEER_USES = {("catalog", "audit"), ("killswitches", "windows")}

MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def python_files(under: Path):
    return sorted(
        p
        for p in under.rglob("*.py")
        if not any(part.startswith(".") or part == "node_modules" for part in p.parts)
    )


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = ROOT):
    """(line, absolute module name) of every import in the file, at any depth: a lazy import
    inside a function is a dependency all the same."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package.pop()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            # `from changemgmt import clock` / `from . import services` name modules too.
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def place(module: str, package: Path = PACKAGE):
    """(app or None for the core, rank) of a changemgmt module; None for anything else."""
    parts = module.split(".")
    if parts[0] != "changemgmt":
        return None
    if len(parts) == 1:
        return None, CORE
    top = parts[1]
    if top in WIRING:
        return top, None
    if top in RANKS:
        return top, RANKS[top]
    if (package / top).is_dir():
        return top, "unranked"
    return None, CORE  # a core module (or a name imported from the package itself)


def layering_violations(root: Path = ROOT):
    package = root / "changemgmt"
    found = []
    for path in python_files(package):
        if "migrations" in path.parts:
            continue
        app, rank = place(module_name(path, root), package)
        where = path.relative_to(root)
        if rank == "unranked":
            found.append(f"{where}: app '{app}' has no rank: add it to RANKS in this test")
            continue
        if rank is None:
            continue  # the wiring
        for line, target in imported_modules(path, root):
            placed = place(target, package)
            if placed is None:
                continue
            other, other_rank = placed
            if other == app or other_rank == "unranked":
                continue
            if other_rank is None:
                found.append(f"{where}:{line}: imports {target} (the project wiring)")
            elif other_rank > rank:
                found.append(
                    f"{where}:{line}: {app or 'core'} (rank {rank}) imports {target} "
                    f"({other}, rank {other_rank}): a higher app"
                )
            elif other_rank == rank and (app, other) not in PEER_USES:
                found.append(
                    f"{where}:{line}: {app or 'core'} imports {target} from its peer {other} "
                    "(same rank; allowed only through PEER_USES)"
                )
    return found


def test_no_module_imports_from_a_higher_app():
    violations = layering_violations()
    assert not violations, (
        "imports against the layering (go through a signal or a registry, or move the code to the "
        "app it belongs to):\n" + "\n".join(violations)
    )


def test_every_app_under_the_package_has_a_rank():
    apps = {p.parent.name for p in PACKAGE.glob("*/apps.py")}
    assert apps <= set(RANKS), f"apps without a rank in RANKS: {sorted(apps - set(RANKS))}"


def test_peer_uses_go_one_way():
    assert not {(b, a) for a, b in PEER_USES} & PEER_USES


def test_the_walker_sees_a_lazy_relative_import_from_a_higher_app(tmp_path):
    """The check can fail: an import inside a function, written relative to the package, counts."""
    for app in ("audit", "tickets"):
        (tmp_path / "changemgmt" / app).mkdir(parents=True)
        (tmp_path / "changemgmt" / app / "__init__.py").write_text("")
    (tmp_path / "changemgmt" / "audit" / "late.py").write_text(
        "import json\n\n\ndef hook():\n    from ..tickets.services import ticket_transitioned\n"
    )
    (tmp_path / "changemgmt" / "tickets" / "fine.py").write_text(
        "from changemgmt.audit import late\nfrom . import services\n"
    )
    assert layering_violations(tmp_path) == [
        "changemgmt/audit/late.py:5: audit (rank 1) imports "
        "changemgmt.tickets.services.ticket_transitioned (tickets, rank 2): a higher app"
    ]


def test_the_walker_refuses_a_peer_import_and_an_unranked_app(tmp_path):
    for app in ("windows", "killswitches", "newapp"):
        (tmp_path / "changemgmt" / app).mkdir(parents=True)
    (tmp_path / "changemgmt" / "windows" / "calendar.py").write_text(
        "from changemgmt.killswitches import gamedays\n"
    )
    (tmp_path / "changemgmt" / "killswitches" / "gamedays.py").write_text(
        "from changemgmt.windows.calendar import register_event_source\n"
    )
    (tmp_path / "changemgmt" / "newapp" / "views.py").write_text("")
    assert layering_violations(tmp_path) == [
        "changemgmt/newapp/views.py: app 'newapp' has no rank: add it to RANKS in this test",
        "changemgmt/windows/calendar.py:1: windows imports changemgmt.killswitches.gamedays from "
        "its peer killswitches (same rank; allowed only through PEER_USES)",
    ]


def test_no_module_is_over_450_lines():
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in python_files(PACKAGE)
        if "migrations" not in path.parts
        and (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split along a seam):\n" + "\n".join(
        long
    )


def long_functions(paths):
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}() is {n} lines"


def test_no_function_is_over_80_lines_outside_tests_and_benchmarks():
    paths = [
        p
        for p in python_files(ROOT)
        if p.relative_to(ROOT).parts[0] not in ("tests", "benchmarks", ".venv", "node_modules")
    ]
    long = list(long_functions(paths))
    assert not long, (
        f"functions over {MAX_FUNCTION_LINES} lines (read as a few named steps):\n"
        + "\n".join(long)
    )
