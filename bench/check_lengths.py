"""No function over 60 lines: ``python -m bench.check_lengths [PATH …]`` (default: bench/).

Counts a function from its ``def`` (decorators included) to its last line; exits 1 and lists
every function over the limit.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMIT = 60


def long_functions(path: Path, limit: int = LIMIT) -> list[tuple[str, int, int]]:
    """(name, first line, length) of each function in `path` longer than `limit` lines."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > limit:
                found.append((node.name, first, length))
    return found


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path(__file__).resolve().parent]
    files = [p for r in roots for p in ([r] if r.is_file() else sorted(r.rglob("*.py")))]
    bad = [(f, *hit) for f in files for hit in long_functions(f)]
    for f, name, line, length in bad:
        print(f"{f}:{line}: {name} is {length} lines (> {LIMIT})")
    print(f"{len(files)} files, {len(bad)} functions over {LIMIT} lines")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
