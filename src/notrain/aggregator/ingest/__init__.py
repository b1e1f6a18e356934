"""Ingest: what comes in (submissions, crawled origins, account proofs) is verified by core and appended."""
