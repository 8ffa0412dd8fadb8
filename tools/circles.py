"""Fail if the `use` graph between the files of src/ has a circle.

The layout rule (README, "Contributing"): a parent file is a map plus
registration, each child file is one lesson, shared pieces are leaf modules that
import no lesson. A child that reaches back into its parent, or two lessons that
take from each other, show up here as a circle, which this prints file by file.

Edges come from code, not comments: every ``crate::a::b`` / ``super::a`` path in a
``use`` line or an expression is resolved to the deepest module file that exists,
and ``mod`` lines are edges from a parent to its children. Run: ``python
tools/circles.py`` (``make lint`` does).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")
GROUP = re.compile(r"\b(crate|super)::((?:\w+::)*)\{([^}]*)\}", re.S)
MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)


def module_of(path: Path) -> list[str]:
    """`src/awaitable/wake.rs` -> ["awaitable", "wake"]; `src/lib.rs` -> []."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return [] if parts == ["lib"] else parts


def file_of(module: list[str]) -> Path | None:
    """The deepest existing file for a module path, or None."""
    for n in range(len(module), -1, -1):
        candidate = SRC.joinpath(*module[:n]).with_suffix(".rs") if n else SRC / "lib.rs"
        if candidate.exists():
            return candidate
    return None


def code_of(path: Path) -> str:
    """The file without its comments (doc links name modules without using them)."""
    return "\n".join(line.split("//", 1)[0] for line in path.read_text().splitlines())


def edges(path: Path) -> set[Path]:
    here, code, found = module_of(path), code_of(path), set()

    def resolve(root: str, rest: list[str]) -> None:
        base = [] if root == "crate" else here[:-1]
        target = file_of(base + [part for part in rest if part])
        if target and target != path:
            found.add(target)

    for root, prefix, names in GROUP.findall(code):
        for name in names.split(","):
            resolve(root, prefix.split("::") + name.strip().split("::")[:1])
    for match in PATH.finditer(code):
        resolve(match.group(1), match.group(2).split("::")[1:])
    for child in MOD.findall(code):
        target = file_of([*here, child])
        if target and target != path:
            found.add(target)
    return found


def circles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """Strongly connected components of more than one file (Tarjan)."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    found: list[list[Path]] = []

    def visit(node: Path) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    graph = {path: edges(path) for path in sorted(SRC.rglob("*.rs"))}
    found = circles(graph)
    for component in found:
        names = [str(p.relative_to(SRC.parent)) for p in component]
        print("import circle:", " <-> ".join(names))
        for a in component:
            for b in sorted(graph[a] & set(component)):
                print(f"  {a.relative_to(SRC.parent)} -> {b.relative_to(SRC.parent)}")
    if not found:
        print(f"no import circle between the {len(graph)} files of src/")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
