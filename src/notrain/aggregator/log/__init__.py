"""The log room: one sequencer integrates pending entries into tiles and signs checkpoints.

Ingest only *appends* durable pending entries (and hands out receipts); this room alone assigns log
indices, so there is exactly one writer of the tree however many processes serve the API.
"""
