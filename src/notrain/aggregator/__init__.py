"""``notrain serve``: the aggregator, a service anyone can run (issue 8).

It stores publishers' exact signed bytes, never re-signs them, and keeps an append-only C2SP tlog-tiles
log of what it observed.  Data flows one way, one room per stage: ingest -> verify (``notrain.core``)
-> store (:mod:`notrain.aggregator.storage`, the only persistent state) -> sequence -> serve -> page.
Everything a client must be able to check without trusting the service lives in ``notrain.core``.
"""
