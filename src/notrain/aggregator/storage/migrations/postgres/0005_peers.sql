-- Federation (spec/log.md, "Federation"): the last checkpoint verified of each peer log, kept forever (the
-- next one must be consistent with it), how far its entries were copied, and the forks caught: two notes
-- of one peer that cannot both be true, verbatim, with the consistency proof that failed.
CREATE TABLE peers (
    origin TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    checkpoint BYTEA,
    size BIGINT NOT NULL,
    copied BIGINT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    skipped BIGINT NOT NULL,
    checked_at BIGINT
);

CREATE TABLE peer_evidence (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin TEXT NOT NULL,
    digest BYTEA NOT NULL UNIQUE,  -- ForkEvidence.digest: the same two notes are stored once
    old_note BYTEA NOT NULL,
    new_note BYTEA NOT NULL,
    proof BYTEA NOT NULL,  -- the proof's hashes, concatenated (32 octets each)
    reason TEXT NOT NULL,
    found_at BIGINT NOT NULL
);
