-- Federation (spec/log.md, "Federation"): the last checkpoint verified of each peer log, kept forever (the
-- next one must be consistent with it), how far its entries were copied, and the forks caught: two notes
-- of one peer that cannot both be true, verbatim, with the consistency proof that failed.
CREATE TABLE peers (
    origin TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    checkpoint BLOB,
    size INTEGER NOT NULL,
    copied INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    skipped INTEGER NOT NULL,
    checked_at INTEGER
) STRICT, WITHOUT ROWID;

CREATE TABLE peer_evidence (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    digest BLOB NOT NULL UNIQUE,  -- ForkEvidence.digest: the same two notes are stored once
    old_note BLOB NOT NULL,
    new_note BLOB NOT NULL,
    proof BLOB NOT NULL,  -- the proof's hashes, concatenated (32 octets each)
    reason TEXT NOT NULL,
    found_at INTEGER NOT NULL
) STRICT;
