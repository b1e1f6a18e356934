-- The aggregator's first schema (SQLite). Times are integer milliseconds since the epoch, UTC.

-- Every log entry, pending (log_index NULL) or sequenced. A pending row is written before a receipt
-- is returned; the sequencer gives it its index in the same transaction as the new checkpoint.
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    idempotency_key BLOB UNIQUE,
    leaf BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    kind TEXT NOT NULL,
    publisher TEXT,
    received_at INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    log_index INTEGER UNIQUE
) STRICT;
CREATE INDEX entries_pending ON entries (id) WHERE log_index IS NULL;

-- The latest checkpoint: one row at most, replaced by compare-and-swap on (size, root).
CREATE TABLE checkpoint (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note BLOB NOT NULL
) STRICT;

-- C2SP tlog-tiles, as opaque bytes: hash tiles by (level, index, width), entry bundles by (index, width).
CREATE TABLE tiles (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    width INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (level, idx, width)
) STRICT, WITHOUT ROWID;
CREATE TABLE entry_bundles (
    idx INTEGER NOT NULL,
    width INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (idx, width)
) STRICT, WITHOUT ROWID;

-- Publishers' manifests with history; equivocation flags two payloads sharing one sequence.
CREATE TABLE manifests (
    id INTEGER PRIMARY KEY,
    publisher TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    payload_sha256 BLOB NOT NULL,
    envelope BLOB NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES entries (id),
    equivocation INTEGER NOT NULL DEFAULT 0,
    UNIQUE (publisher, sequence, payload_sha256)
) STRICT;
CREATE INDEX manifests_equivocations ON manifests (publisher, sequence) WHERE equivocation;

-- Rollback floors and key pins: they outlive restarts, or a restart would reopen the door to rollbacks.
CREATE TABLE floors (
    publisher TEXT PRIMARY KEY,
    sequence INTEGER NOT NULL,
    payload_sha256 BLOB NOT NULL,
    issued TEXT NOT NULL,
    keyid TEXT NOT NULL
) STRICT;
CREATE TABLE pins (
    origin TEXT NOT NULL,
    keyid TEXT NOT NULL,
    PRIMARY KEY (origin, keyid)
) STRICT, WITHOUT ROWID;

-- The origins crawled on a schedule, with conditional-GET validators per document.
CREATE TABLE origins (
    origin TEXT PRIMARY KEY,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    next_crawl_at INTEGER NOT NULL,
    last_status INTEGER,
    failures INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX origins_due ON origins (next_crawl_at);
CREATE TABLE validators (
    origin TEXT NOT NULL REFERENCES origins (origin) ON DELETE CASCADE,
    document TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    PRIMARY KEY (origin, document)
) STRICT, WITHOUT ROWID;

-- Account proofs (Keyoxide-style), re-checked on a schedule.
CREATE TABLE account_proofs (
    publisher TEXT NOT NULL,
    account_url TEXT NOT NULL,
    status TEXT NOT NULL,
    checked_at INTEGER NOT NULL,
    next_check_at INTEGER NOT NULL,
    PRIMARY KEY (publisher, account_url)
) STRICT;
CREATE INDEX account_proofs_due ON account_proofs (next_check_at);
