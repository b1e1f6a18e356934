"""C2PA / CAWG training-and-data-mining assertions read from a signed C2PA manifest.

Both label families are read: ``c2pa.training-mining`` (C2PA 1.x) and
``cawg.training-mining`` (CAWG 1.1), with entry keys under either prefix and
``constraint_info`` or ``constraints_info``.  Entries map to AIPREF so:

* ``*.ai_generative_training`` -> ``train-ai``;
* ``*.ai_inference`` -> ``ai-use`` (inference by any model covers inference by
  a generative one, both ways);
* ``*.data_mining`` -> when not allowed, ``train-ai`` and ``ai-use`` disallowed
  wherever the assertion has no entry of its own for them: a prohibition of
  mining covers the narrower uses (as a TDM reservation does), a permission of
  mining grants none of them;
* ``*.ai_training`` (training of any model) -> when not allowed, ``train-ai``
  disallowed unless the assertion says otherwise for generative training: a
  prohibition of all training covers generative training; a permission of
  training in general grants nothing AIPREF's ``train-ai`` means.

``constrained`` counts as ``notAllowed`` (CAWG says so when nothing else is
known); any other ``use`` is ignored with a warning.

Trust.  The validation state (``Trusted``, ``Valid`` = intact but the signer
is not on the trust list, ``Invalid``) goes into the evidence detail.  Valid
counts like Trusted: an unknown signer is no worse than unsigned XMP, which
is honoured too.  When the active manifest is neither, only its prohibitions
are honoured and a warning says why: a forged opt-out can only make a crawler
skip an image, while a forged permission could launder one.  Prohibitions in ingredient
manifests are honoured too (the derivative still contains that work); their
permissions never are (they were given for another asset).

The reader never touches the network: remote manifests, OCSP and every other
fetch are disabled, so a hostile asset cannot make a crawler call a URL.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Iterator

import c2pa as c2pa_lib

from ..core.decision import Statement
from ..core.vocab import AI_USE, TRAIN_AI, State
from .base import C2PA_TRAINING_MINING, MAX_RAW_CHARS, check_size, make_statement

MAX_ASSET_BYTES = 64 * 2**20

ASSERTION = re.compile(r"\A(?:c2pa|cawg)\.training-mining(?:__\d+)?\Z")  # __N: a repeated assertion
ENTRY = re.compile(r"\A(?:c2pa|cawg)\.(ai_generative_training|ai_inference|ai_training|data_mining)\Z")
DIRECT = {"ai_generative_training": TRAIN_AI, "ai_inference": AI_USE}
MINING_COVERS = (TRAIN_AI, AI_USE)
USES = {"allowed": State.ALLOWED, "notAllowed": State.DISALLOWED, "constrained": State.DISALLOWED}
INTACT = ("Valid", "Trusted")

OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}, "core": {"allowed_network_hosts": []}}


def c2pa_statements(data: bytes, mime_type: str, source: str, *, trust_anchors: str | None = None) -> list[Statement]:
    """One statement per training-mining assertion in ``data``'s manifest store.

    ``mime_type`` is a hint (a Content-Type header is fine; the library
    trusts the bytes over it).  ``trust_anchors`` is a PEM bundle of root
    certificates the operator trusts (e.g. the C2PA trust list); without it
    the best state is ``Valid``.  Assets without C2PA data, or that the
    library cannot read, give ``[]``; only an oversized input raises.
    """
    check_size(data, MAX_ASSET_BYTES, "asset")
    store = _manifest_store(data, mime_type.split(";")[0].strip(), trust_anchors)
    if store is None:
        return []
    state, validation = _validation(store)
    active = store.get("active_manifest")
    return [
        _statement(assertion, label, label == active, state, validation, source)
        for label, assertion in _assertions(store)
        if ASSERTION.match(str(assertion.get("label")))
    ]


def _manifest_store(data: bytes, mime_type: str, trust_anchors: str | None) -> dict | None:
    """The store as the library's JSON report, or None when there is none or the library gives up."""
    try:
        reader = c2pa_lib.Reader.try_create(mime_type, io.BytesIO(data), context=_context(trust_anchors))
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
    except (c2pa_lib.C2paError, ValueError):
        return None
    return store if isinstance(store, dict) else None


def _validation(store: dict) -> tuple[str, str]:
    """The store's validation state, and the same with its failure codes for the evidence detail."""
    state = store.get("validation_state")
    state = state if isinstance(state, str) else "Unknown"
    statuses = store.get("validation_status")
    codes = sorted({str(s.get("code")) for s in statuses if isinstance(s, dict)}) if isinstance(statuses, list) else []
    return state, f"validation {state}" + (f" ({', '.join(codes)})" if codes else "")


def _assertions(store: dict) -> Iterator[tuple[str, dict]]:
    """(manifest label, assertion) for every assertion of every manifest in the store."""
    manifests = store.get("manifests")
    for label, manifest in manifests.items() if isinstance(manifests, dict) else ():
        assertions = manifest.get("assertions") if isinstance(manifest, dict) else None
        for assertion in assertions if isinstance(assertions, list) else ():
            if isinstance(assertion, dict):
                yield label, assertion


@functools.lru_cache(maxsize=8)
def _context(trust_anchors: str | None) -> c2pa_lib.Context:
    """A reusable reader context: offline, trusting ``trust_anchors`` in addition to the SDK's own list."""
    return c2pa_lib.Context.from_dict({**OFFLINE, "trust": {"user_anchors": trust_anchors}})


def _statement(assertion: dict, manifest: str, active: bool, state: str, validation: str, source: str) -> Statement:
    data = assertion.get("data")
    entries = data.get("entries") if isinstance(data, dict) else None
    warnings = []
    if not isinstance(entries, dict) and isinstance(data, dict):
        warnings.append('entries are not inside an "entries" map (early CAWG layout)')
        entries = data
    uses, notes = _uses(entries or {}, warnings)
    prefs = {category: uses[kind] for kind, category in DIRECT.items() if kind in uses}
    if uses.get("ai_training") is State.DISALLOWED:
        prefs.setdefault(TRAIN_AI, State.DISALLOWED)
    if uses.get("data_mining") is State.DISALLOWED:
        for category in MINING_COVERS:
            prefs.setdefault(category, State.DISALLOWED)
    detail = [validation, "active manifest" if active else f"ingredient manifest {manifest}", *notes]
    if active and state not in INTACT:
        warnings.append(f"the C2PA manifest is not valid ({state}): only its prohibitions are honoured")
    if not (active and state in INTACT) and State.ALLOWED in prefs.values():
        prefs = {c: s for c, s in prefs.items() if s is State.DISALLOWED}
        detail.append("permissions ignored")
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return make_statement(
        prefs,
        C2PA_TRAINING_MINING,
        source,
        raw=raw,
        rule=f"{manifest}/{assertion['label']}",
        warnings=warnings,
        detail="; ".join(detail),
    )


def _uses(entries: dict, warnings: list[str]) -> tuple[dict[str, State], list[str]]:
    """Entry kind -> stated use (the stricter one when both prefixes say it), plus notes for the detail."""
    uses: dict[str, State] = {}
    notes = []
    for key, entry in entries.items():
        match = ENTRY.match(str(key))
        if not match:
            continue  # custom entries (other claim generators' labels) say nothing AIPREF knows
        use = entry.get("use") if isinstance(entry, dict) else None
        if not isinstance(use, str) or use not in USES:
            warnings.append(f"{key}: unknown use {str(use)[:40]!r} ignored")
            continue
        kind = match.group(1)
        if uses.get(kind) is not State.DISALLOWED:
            uses[kind] = USES[use]
        info = entry.get("constraint_info", entry.get("constraints_info"))
        if kind == "ai_training" or info:
            notes.append(f"{key}: {use}" + (f" ({str(info)[:MAX_RAW_CHARS]})" if info else ""))
    return uses, notes
