"""Federation: copying peer aggregators' logs into this one without trusting the peers (spec/log.md, "Federation").

:mod:`.tree` checks a peer's tiles (pure), :mod:`.peerlog` reads them over HTTP, :mod:`.pull` runs the rounds.
"""
