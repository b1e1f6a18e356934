"""The core stays pure: no module in notrain.core may import anything that does I/O."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "src" / "notrain" / "core"
ALLOWED = {
    "__future__", "base64", "binascii", "collections.abc", "dataclasses", "datetime", "enum", "functools", "hashlib", "html", "ipaddress", "json", "re",
    "typing", "unicodedata", "urllib.parse",  # stdlib, no I/O
    "base58", "cryptography", "numpy",  # pure computation
    "ahocorasick",  # pyahocorasick: a C extension, computation only (linear multi-pattern name matching)
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
