"""Scrapy signals sent by notrain (connect with ``crawler.signals.connect``).

``manifest_verified(sender, origin, manifest)``
    A manifest was fetched and verified (or re-verified after expiry) for
    ``origin``; ``manifest`` is the :class:`~notrain.core.manifest.Manifest`.
    ``sender`` is the crawler, as for Scrapy's own signals (handlers connected
    with ``crawler.signals.connect`` only hear that sender).  Handlers may be
    coroutines.
"""

manifest_verified = object()
