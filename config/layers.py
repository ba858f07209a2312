"""The layers of Fairdraw's apps, and the check that every import between them points down.

Standard library only: `python3 dev.py check-layers` runs it before any virtualenv exists, and
the test command runs it on every change. docs/architecture.md explains what each layer owns.

An app may import from the apps below it, never from one above or beside it. Imports are
read from the source (module level and inside functions alike); tests and migrations are not
part of an app's code and are left out. `config/` is the project itself, above every app.
"""

import ast
import sys
from collections import defaultdict
from pathlib import Path

# Bottom first. Each app may import only from apps earlier in this list.
LAYERS = (
    "core",  # shared infrastructure: audit log, operator settings, staff groups, admin helpers
    "notifications",  # the outbox and its transports (e-mail, Klaviyo, Twilio); no messages
    "accounts",  # identity: the user, sign-up, sign-in, profile
    "responsible_play",  # spending limits, breaks, self-exclusion
    "competitions",  # the competition, its lifecycle, public list/detail, read API
    "tickets",  # basket, orders, tickets, allocation, payments, refunds, postal entries
    "draws",  # ledger, provably fair selection, verification
    "winners",  # winners, approval, announcement, delivery, Champions
    "harm_signals",  # customers flagged for review from their play
    "complaints",  # customer complaints and their handling
    "pages",  # top: public and account pages that span domains
    "backoffice",  # top: staff dashboard and customer admin that span domains
    "demo",  # top: demo data for development
)

SKIPPED_PARTS = {"migrations", "tests", "__pycache__"}


def _imported_modules(tree: ast.AST, module: str, is_package: bool):
    """Every module an AST imports, with its line, relative imports resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                target = node.module or ""
            else:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            yield target, node.lineno
            # `from pkg import sub` names a module too; only the package matters here.


def import_graph(root: Path, layers=LAYERS) -> dict[tuple[str, str], list[str]]:
    """{(importer app, imported app): ["path:line", ...]} for imports between apps."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for app in layers:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root)
            if SKIPPED_PARTS & set(relative.parts):
                continue
            parts = list(relative.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for target, line in _imported_modules(tree, ".".join(parts), is_package):
                other = target.split(".")[0]
                if other in layers and other != app:
                    edges[(app, other)].append(f"{relative}:{line}")
    return dict(edges)


def find_cycles(edges) -> list[list[str]]:
    """Strongly connected groups of more than one app (Tarjan), each a cycle to break."""
    graph = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    index, low, on_stack, stack, groups = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def problems(root: Path, layers=LAYERS) -> list[str]:
    """What is wrong with the layering under `root`: upward imports and cycles."""
    rank = {app: position for position, app in enumerate(layers)}
    edges = import_graph(root, layers)
    found = []
    for (source, target), places in sorted(edges.items()):
        if rank[target] > rank[source]:
            found.append(f"{source} imports {target}, which is above it: " + ", ".join(places[:5]))
    for group in find_cycles(edges):
        found.append("import cycle between apps: " + " <-> ".join(group))
    return found


def describe(root: Path, layers=LAYERS) -> str:
    """The layers and the edges between them, for people (`dev.py check-layers -v`)."""
    edges = import_graph(root, layers)
    lines = []
    for app in reversed(layers):
        below = sorted({t for (s, t) in edges if s == app}, key=layers.index, reverse=True)
        lines.append(f"{app:18} -> {', '.join(below) or '(nothing)'}")
    lines.append(f"{len(edges)} importing pairs among {len(layers)} apps")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(__file__).resolve().parent.parent
    if "-v" in argv:
        print(describe(root))
    found = problems(root)
    for problem in found:
        print(problem)
    if found:
        print(f"check-layers: {len(found)} problem(s); see docs/architecture.md §1")
        return 1
    print("check-layers: every import between apps points down; no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
