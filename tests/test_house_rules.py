"""The core stays pure: no module in notrain.core may import anything that does I/O."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "src" / "notrain" / "core"
ALLOWED = {
    "__future__", "base64", "binascii", "collections.abc", "dataclasses", "datetime", "enum", "functools", "hashlib", "html", "ipaddress", "json", "operator", "re",
    "typing", "unicodedata", "urllib.parse",  # stdlib, no I/O
    "base58", "cryptography", "numpy",  # pure computation
    "ahocorasick",  # pyahocorasick: a C extension, computation only (linear multi-pattern name matching)
    "msgspec", "pybase64",  # C extensions, computation only (I-JSON's first tier, strict base64)
}


def test_core_imports_only_pure_modules():
    offenders = []
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


INTEGRATIONS = ("scrapy", "aggregator", "filter")


def _imported_packages(path: Path) -> set[str]:
    """The notrain subpackages a module imports, relative imports resolved against its own package."""
    package = path.relative_to(CORE.parent).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            names = [base + (node.module or "").split(".")] if node.level else [(node.module or "").split(".")]
        else:
            continue
        for parts in names:
            parts = [p for p in parts if p]
            if parts and parts[0] == "notrain":
                parts = parts[1:]
            if parts:
                found.add(parts[0])
    return found


def test_integrations_never_import_each_other():
    """scrapy/, aggregator/ and filter/ meet through core/, fetch/ and the wire format (DESIGN.md)."""
    offenders = []
    for integration in INTEGRATIONS:
        for path in (CORE.parent / integration).rglob("*.py"):
            others = _imported_packages(path) & (set(INTEGRATIONS) - {integration})
            offenders += [f"{path.relative_to(CORE.parent)}: {other}" for other in sorted(others)]
    assert offenders == []


def test_core_never_imports_the_rest_of_notrain():
    """core/ is the bottom of the house: everything may import it, it imports nothing of notrain above it."""
    above = {p.stem for p in CORE.parent.iterdir() if p.stem not in ("core", "__init__", "__pycache__")}
    offenders = [f"{path.name}: {package}" for path in CORE.glob("*.py") for package in _imported_packages(path) & above]
    assert offenders == []
