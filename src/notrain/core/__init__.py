"""The pure core of notrain: no I/O, no framework, only bytes in and values out.

Public surface (everything else is internal and may change):

* keys: :class:`PrivateKey`, :class:`PublicKey`, :func:`jwk_thumbprint`
* envelopes: :mod:`notrain.core.dsse` (``sign``, ``parse``, ``verify``, ``pae``)
* manifests: :func:`parse_payload`, :class:`Manifest`, :func:`verify_manifest`, :func:`accept_bare`
* key sets: :func:`parse_keyset`, :func:`make_keyset`, :func:`make_rotation`
* deciding: :class:`Catalog`, :class:`Statement`, :func:`decide`, :class:`Decision`
* account proofs: :func:`proof_token`, :func:`has_proof`
* errors: :class:`NotrainError` and its subclasses, each with a stable ``code``
* transparency log (C2SP tlog-tiles, signed notes): :mod:`notrain.core.merkle` (hashes, proofs),
  :mod:`~notrain.core.tiles`, :mod:`~notrain.core.note`, :mod:`~notrain.core.checkpoint`,
  :mod:`~notrain.core.logentry`, :mod:`~notrain.core.receipt`; their errors are :class:`LogError`s
* snapshots for offline checks: :mod:`notrain.core.snapshot` (``build``, ``load``), its binary fuse
  filters :mod:`~notrain.core.snapshotfilter` and deltas :mod:`~notrain.core.snapshotdelta`
"""

from .accounts import has_proof, proof_token
from .catalog import Catalog, ContentHash
from .decision import Decision, Evidence, Statement, decide, fail_closed
from .errors import EnvelopeError, JSONError, KeyMaterialError, NotrainError, PayloadError, PolicyError, SignatureError
from .logerrors import LogError
from .keys import PrivateKey, PublicKey, jwk_thumbprint
from .keyset import KeySet, make_keyset, make_rotation, parse_keyset
from .manifest import MANIFEST_TYPE, Manifest, merge_part, parse_payload
from .verify import Verified, accept_bare, peek_publisher, trusted_keys, verify_manifest
from .vocab import AI_USE, CATEGORIES, SEARCH, TRAIN_AI, State

__all__ = [
    "AI_USE", "CATEGORIES", "Catalog", "ContentHash", "Decision", "EnvelopeError", "Evidence", "JSONError",
    "KeyMaterialError", "KeySet", "LogError", "MANIFEST_TYPE", "Manifest", "NotrainError", "PayloadError", "PolicyError",
    "PrivateKey", "PublicKey", "SEARCH", "SignatureError", "State", "Statement", "TRAIN_AI", "Verified",
    "accept_bare", "decide", "has_proof", "proof_token", "fail_closed", "jwk_thumbprint", "make_keyset", "make_rotation", "merge_part",
    "parse_keyset", "parse_payload", "peek_publisher", "trusted_keys", "verify_manifest",
]
