"""Writing a vectors file, or telling whether the committed one is stale (``--check``): the ending every
generator shares."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def write_or_check(target: Path, vectors: list[dict], argv: list[str]) -> int:
    """Write ``{"vectors": ...}`` to ``target``; with ``--check`` in ``argv``, only compare (1 if stale)."""
    text = json.dumps({"vectors": vectors}, indent=1, ensure_ascii=False) + "\n"
    if "--check" not in argv:
        target.write_text(text, encoding="utf-8")
        return 0
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return 0
    print(f"spec/vectors/{target.name} is stale: run python spec/vectors/{Path(argv[0]).name}", file=sys.stderr)
    return 1
