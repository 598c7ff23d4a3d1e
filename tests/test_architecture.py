"""The layout keeps its shape: imports run one way between areas, no import cycle between modules,
views stay short. Read with ``ast`` from the source, so a violation fails before anything runs."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "stages"

# The areas from the lowest to the highest (README, "Layout"): a module may import its own area
# and the ones before it, never one after it, not even inside a function.
ORDER = (
    "core", "auth", "scheduling", "calendar_feeds", "enrollment", "attendance", "evaluation", "certificates",
    "reports", "privacy", "api", "jobs", "home", "app",
)
# Modules directly under stages/ that are not core helpers: the app factory and what builds on
# every area (the models' registry, the CLI, the demo data, backups).
APP_MODULES = {"stages", "stages.models", "stages.cli", "stages.demo", "stages.backup", "stages.backup_cli"}
MAX_VIEW_LINES = 40


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


MODULES = _modules()


def area_of(module: str) -> str:
    if module in APP_MODULES:
        return "app"
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[1] in ORDER):
        return parts[1]
    return "core"


def _imported(module: str, path: Path) -> set[str]:
    """The stages modules ``module`` imports (a name imported from a package counts as its
    submodule when there is one)."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("stages")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("stages"):
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in MODULES else target)
    return {name for name in found if name in MODULES}


GRAPH = {module: _imported(module, path) for module, path in MODULES.items()}


def test_every_module_belongs_to_a_known_area():
    assert {area_of(module) for module in MODULES} <= set(ORDER)


def test_imports_run_one_way_between_areas():
    upward = [
        f"{module} ({area_of(module)}) imports {target} ({area_of(target)})"
        for module, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if ORDER.index(area_of(target)) > ORDER.index(area_of(module))
    ]
    assert upward == []


def test_no_import_cycle_between_modules():
    cycles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in GRAPH[module]:
            if state.get(target) == "open":
                cycles.append(" → ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def _view_functions():
    for module, path in sorted(MODULES.items()):
        if ".views" not in module and not module.endswith("views"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "route"
                for d in node.decorator_list
            ):
                yield module, node


@pytest.mark.parametrize("module, view", [(m, v.name) for m, v in _view_functions()])
def test_views_are_short(module, view):
    node = next(v for m, v in _view_functions() if m == module and v.name == view)
    length = node.end_lineno - node.lineno + 1
    assert length <= MAX_VIEW_LINES, f"{module}.{view}: {length} lines"


# What a view may write to the audit log itself: reads, downloads and the login session's own
# events. Every change is audited by the service that makes it, so an import, a job or the CLI
# leaves the same trace as the form.
VIEW_AUDIT_ACTIONS = {
    "auth.login", "auth.login_failed", "auth.logout",
    "measures.list", "participant.viewed", "participant.exported", "session.participants_viewed",
    "roster.viewed", "roster.downloaded", "signatures.viewed", "convocation.downloaded", "certificate.downloaded",
    "export.downloaded", "dashboard.viewed", "audit_log.exported", "summons.page_viewed", "api.read",
    "yearly_report.viewed", "yearly_report.exported",
    "incidents.viewed", "evaluation.results_viewed", "evaluation.links_printed",
    "ledger.listed", "receipt.downloaded", "invoice.downloaded",
    "non_execution.viewed", "monthly_summary.viewed",
}


def _view_audit_actions():
    for module, path in sorted(MODULES.items()):
        if ".views" not in module and not module.endswith("views"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") in {"audit", "audit_many"}):
                action = node.args[0]
                yield module, action.value if isinstance(action, ast.Constant) else ast.unparse(action)


def test_views_audit_only_reads():
    actions = list(_view_audit_actions())
    assert actions, "no audit call found in any view: the test reads the wrong files"
    assert [(m, a) for m, a in actions if a not in VIEW_AUDIT_ACTIONS] == []
