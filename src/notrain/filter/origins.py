"""Origins of a URL column, vectorised, and which rows need the exact per-URL path.

Most dataset rows come from origins that have no manifest, so the filter must
answer them without splitting each URL in Python.  Arrow's regex kernel reads
the origin of every URL in the plain spelling ``http(s)://host[:port]`` followed
by ``/``, ``?``, ``#`` or the end, on the ASCII-lowercased text; every other
spelling (userinfo, backslashes, tabs, leading spaces, IPv6 literals, ports with
leading zeros, non-ASCII hosts such as a Kelvin sign that Python lowercases to
``k``...) is left to the scalar core.

Why a plain row's key is safe: core.urls.split_url leaves such a URL as it is
(nothing to strip, nothing before the host), ``urlsplit`` then finds the same
host and port, and core.manifest.origin_of_split either returns exactly this
key (default port dropped) or None for a host or port that is not canonical.
A canonical origin that has rules therefore equals a plain row's key only when
it is that row's origin: probing the keys against the set of origins with rules
loses no row (tests/test_filter_batch.py checks it against the scalar core on
hostile URLs).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.catalog import Catalog, account_scope

_PLAIN = r"^(?P<scheme>https?)://(?P<host>[a-z0-9.-]+)(?::(?P<port>[1-9][0-9]{0,4}))?(?:[/?#]|$)"


def origins_with_rules(catalog: Catalog) -> pa.Array:
    """Every origin whose URLs a statement of ``catalog`` may speak about: each site publisher
    (its path rules and default) and the origin of each listed account (proven or not: a superset)."""
    found: set[str] = set()
    for manifest in catalog.manifests():
        if not manifest.is_did_key:
            found.add(manifest.publisher)
        for account in manifest.accounts:
            scope = account_scope(account.url)
            if scope is not None:
                found.add(scope[0])
    return pa.array(sorted(found), pa.string())


def plain_origins(urls: pa.Array) -> pa.Array:
    """The origin of each plainly spelled URL; null for every other row (and null URLs)."""
    parts = pc.extract_regex(pc.ascii_lower(urls), _PLAIN)
    scheme, host, port = (parts.field(name) for name in ("scheme", "host", "port"))
    default = pc.if_else(pc.equal(scheme, "https"), "443", "80")
    no_port = pc.fill_null(pc.or_(pc.equal(port, ""), pc.equal(port, default)), True)  # an absent group reads as ""
    port = pc.if_else(no_port, "", pc.binary_join_element_wise(":", port, ""))
    return pc.if_else(pc.is_valid(parts), pc.binary_join_element_wise(scheme, "://", host, port, ""), pa.scalar(None, pa.string()))


def rows_needing_rules(urls: pa.Array, with_rules: pa.Array) -> np.ndarray:
    """Row mask: the URL is not plain (the scalar core decides it) or its origin has rules."""
    origins = plain_origins(urls)
    odd = pc.and_(pc.is_null(origins), pc.is_valid(urls))
    probed = pc.is_in(origins, value_set=with_rules) if len(with_rules) else pa.nulls(len(urls), pa.bool_()).fill_null(False)
    return pc.or_(odd, probed.fill_null(False)).to_numpy(zero_copy_only=False)
