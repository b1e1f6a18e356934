"""No regular expression in notrain ends with Python's ``$`` (spec/README.md, "Regular expressions").

In Python ``$`` also matches before a final line feed, so ``re.match(r"^[a-z]+$", "foo\\n")``
succeeds; a validator written that way accepts ``"train-ai\\n"`` as a label. Whole-string checks use
``re.fullmatch`` or ``\\A...\\Z``. This test reads every pattern literal in the package.
"""

import ast
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "notrain"
RE_FUNCTIONS = {"compile", "match", "search", "fullmatch", "findall", "finditer", "sub", "subn", "split"}
# Patterns that use '$' on purpose, with the reason.
ALLOWED = {
    # Finds a dot segment in a path pattern, which never contains a line feed (spec/paths.md).
    ("export.py", r"//|/\.\.?(?:/|$)"),
}


def dollar_anchors(pattern: str) -> bool:
    """Whether ``pattern`` has an end-of-line ``$`` (not escaped, not inside a character class)."""
    in_class = escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            return True
    return False


def pattern_literals():
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in RE_FUNCTIONS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "re"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, (str, bytes))
            ):
                value = node.args[0].value
                yield path.name, value.decode("latin-1") if isinstance(value, bytes) else value


def test_the_scanner_finds_what_it_looks_for():
    assert dollar_anchors(r"^[a-z]+$") and dollar_anchors(r"(?:/|$)")
    assert not dollar_anchors(r"\A[a-z]+\Z") and not dollar_anchors(r"[$]") and not dollar_anchors(r"\$")
    assert re.match(r"^[a-z]+$", "foo\n") and not re.fullmatch(r"[a-z]+", "foo\n")  # the bug in question
    assert sum(1 for _ in pattern_literals()) > 30


def test_no_pattern_ends_at_a_line_end():
    found = {(name, pattern) for name, pattern in pattern_literals() if dollar_anchors(pattern)}
    assert found - ALLOWED == set()
