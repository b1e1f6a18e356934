"""Which rows of a URL column need the exact per-URL path: a vectorised probe by host.

Most dataset rows come from origins that have no manifest, so the filter must
answer them without splitting each URL in Python.  Arrow's regex kernel reads
the host of every URL in the plain spelling ``http(s)://host[:digits]``
followed by ``/``, ``?``, ``#`` or the end, on the ASCII-lowercased text, and
probes it against the hosts of the origins that have rules.  Only rows whose
host is one of them, and rows in any other spelling (userinfo, backslashes,
tabs, leading spaces, IPv6 literals, non-ASCII hosts such as a Kelvin sign that
Python lowercases to ``k``...), go to the scalar core, which decides them exactly.

Why a plain row that is not probed can have no URL statement: core.urls.split_url
leaves such a URL as it is (nothing to strip, nothing before the host), and
``urlsplit`` then reads the same host, since nothing but digits stands between
it and the end of the authority; core.manifest.origin_of_split keeps that host
or gives no origin at all.  So the URL's origin, if it has one, has this host,
and an origin with rules has a probed host (tests/test_filter_batch.py checks
this against the scalar core on hostile URLs).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.catalog import Catalog, account_scope

_PLAIN = r"^https?://(?P<host>[a-z0-9.-]+)(?::[0-9]*)?(?:[/?#]|$)"


def hosts_with_rules(catalog: Catalog) -> pa.Array:
    """The host of every origin whose URLs a statement of ``catalog`` may speak about: each site
    publisher (its path rules and default) and the origin of each listed account (proven or not)."""
    origins: set[str] = set()
    for manifest in catalog.manifests():
        if not manifest.is_did_key:
            origins.add(manifest.publisher)
        for account in manifest.accounts:
            scope = account_scope(account.url)
            if scope is not None:
                origins.add(scope[0])
    return pa.array(sorted({urlsplit(origin).hostname for origin in origins}), pa.string())


def plain_hosts(urls: pa.Array) -> pa.Array:
    """The host of each plainly spelled URL; null for every other row (and null URLs)."""
    return pc.struct_field(pc.extract_regex(pc.ascii_lower(urls), _PLAIN), "host")  # null where it is no match


def rows_needing_rules(urls: pa.Array, with_rules: pa.Array) -> np.ndarray:
    """Row mask: the URL is not plain (the scalar core decides it) or its host has rules."""
    hosts = plain_hosts(urls)
    odd = pc.and_(pc.is_null(hosts), pc.is_valid(urls))
    if not len(with_rules):
        return odd.to_numpy(zero_copy_only=False)
    probed = pc.fill_null(pc.is_in(hosts, value_set=with_rules), False)
    return pc.or_(odd, probed).to_numpy(zero_copy_only=False)
