"""The list of error codes in spec/errors.md is closed: every code the package can emit is in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_LITERAL = re.compile(r"""["'](E_[A-Z0-9_]+)["']""")  # a code is always written as a string literal
LISTED = re.compile(r"`(E_[A-Z0-9_]+)`")


def codes_in_source() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((ROOT / "src" / "notrain").rglob("*.py")):
        for code in CODE_LITERAL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def test_every_code_in_the_source_is_listed_in_spec_errors_md():
    listed = set(LISTED.findall((ROOT / "spec" / "errors.md").read_text(encoding="utf-8")))
    found = codes_in_source()
    missing = {code: where for code, where in found.items() if code not in listed}
    assert not missing, f"codes used in src/ but not listed in spec/errors.md: {missing}"


def test_the_scan_finds_codes_wherever_they_are_written():
    found = codes_in_source()
    # Class defaults (E_SIGNAL, E_URL), keyword arguments (E_EXPORT_NO_ORIGIN, E_JSON_SURROGATE), a dict (E_IO).
    assert {"E_SIGNAL", "E_EXPORT_NO_ORIGIN", "E_JSON_SURROGATE", "E_URL", "E_IO"} <= set(found)
