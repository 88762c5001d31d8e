#!/usr/bin/env python3
"""Fails when the modules of a crate's src/ import each other in a cycle.

usage: module_cycles.py SRC_DIR

A node is a file (`shard/lease.rs` is `shard::lease`, `shard/mod.rs` is
`shard`). An edge A -> B is a path in A that names B: `crate::b::..`,
`super::b::..` (or `super::super::b::..`, from a module nested in A) or a
`use` of `b` from the parent module. Items gated on `#[cfg(nanometrics_loom)]`
are left out: the graph is the one the shipped (std) build has. Exits 1 and
prints every cycle (a strongly connected component of more than one node).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Dict, List, Set

LOOM = "#[cfg(nanometrics_loom)]"


def strip_loom(text: str) -> str:
    """Removes items gated on the loom cfg: the attribute and the item after it."""
    out: List[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() != LOOM:
            out.append(lines[i])
            i += 1
            continue
        i += 1
        depth = 0
        opened = False
        while i < len(lines):
            line = re.sub(r"//.*", "", lines[i])
            depth += line.count("{") - line.count("}")
            opened = opened or "{" in line
            i += 1
            if depth <= 0 and (opened or line.rstrip().endswith((";", ","))):
                break
    return "\n".join(out)


def module_of(src: Path, f: Path) -> str:
    parts = list(f.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return "::".join(parts) or "crate"


def main() -> int:
    src = Path(sys.argv[1])
    files = sorted(src.rglob("*.rs"))
    modules = {module_of(src, f): f for f in files}
    edges: Dict[str, Set[str]] = {m: set() for m in modules}
    for m, f in modules.items():
        text = re.sub(r"//[^\n]*", "", strip_loom(f.read_text(encoding="utf-8")))
        parent = m.rsplit("::", 1)[0] if "::" in m else "crate"
        for path in re.findall(r"\b((?:crate|super)(?:::\w+)+)", text):
            segs = path.split("::")
            if segs[0] == "crate":
                base: List[str] = []
                segs = segs[1:]
            else:
                # `super` from this file is the parent; each further `super`
                # (from a module nested inside this file) goes up one more.
                base = [] if parent == "crate" else parent.split("::")
                segs = segs[1:]
                while segs and segs[0] == "super":
                    segs = segs[1:]
                    # nested inline modules: the first extra `super` is this file
                    base = base if m.count("::") == len(base) else base[:-1]
            target = None
            for k in range(len(segs), 0, -1):
                cand = "::".join(base + segs[:k])
                if cand in modules:
                    target = cand
                    break
            if target and target != m and not m.startswith(target + "::"):
                edges[m].add(target)
    # Tarjan's strongly connected components.
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    cycles: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(modules):
        if v not in index:
            visit(v)
    for c in cycles:
        detail = "; ".join(f"{a} -> {', '.join(sorted(edges[a] & set(c)))}" for a in c)
        print(f"import cycle among {', '.join(c)}: {detail}")
    print(f"{len(modules)} modules, {sum(map(len, edges.values()))} edges, {len(cycles)} cycles")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
