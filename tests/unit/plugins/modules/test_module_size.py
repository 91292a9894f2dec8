"""Every module is a thin shell (kubernetes.core's habit): it builds itself, calls one service function in
module_utils, and exits or fails. Its code outside DOCUMENTATION, EXAMPLES and RETURN stays at 80 lines or fewer."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Set

import pytest

MODULES_DIR = Path(__file__).resolve().parents[4] / "plugins" / "modules"
DOC_VARIABLES = {"DOCUMENTATION", "EXAMPLES", "RETURN"}
MAX_CODE_LINES = 80


def doc_lines(tree: ast.Module) -> Set[int]:
    """Line numbers (1-based) of the DOCUMENTATION, EXAMPLES and RETURN assignments."""
    lines: Set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(target, ast.Name) and target.id in DOC_VARIABLES for target in node.targets):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def code_lines(path: Path) -> int:
    """Non-blank, non-comment lines outside the documentation strings."""
    text = path.read_text(encoding="utf-8")
    skipped = doc_lines(ast.parse(text, filename=str(path)))
    return sum(
        1
        for number, line in enumerate(text.splitlines(), start=1)
        if number not in skipped and line.strip() and not line.strip().startswith("#")
    )


def test_code_lines_count_code_only(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text('#!/usr/bin/python\n# comment\n\nDOCUMENTATION = r"""\nmodule: x\n"""\nEXAMPLES = "a"\nRETURN = r"""\n\n"""\n\n'
                      "def main():\n    # inside\n    pass\n")
    assert code_lines(module) == 2


@pytest.mark.parametrize("module", sorted(MODULES_DIR.glob("*.py")), ids=lambda path: path.stem)
def test_module_is_a_thin_shell(module: Path) -> None:
    assert module.stem != "__init__"
    count = code_lines(module)
    assert count <= MAX_CODE_LINES, f"{module.name} has {count} code lines outside DOCUMENTATION/EXAMPLES/RETURN (at most {MAX_CODE_LINES})"
