-- The aggregator's first schema (PostgreSQL). Times are integer milliseconds since the epoch, UTC.

-- Every log entry, pending (log_index NULL) or sequenced. A pending row is written before a receipt
-- is returned; the sequencer gives it its index in the same transaction as the new checkpoint.
CREATE TABLE entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key BYTEA UNIQUE,
    leaf BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    kind TEXT NOT NULL,
    publisher TEXT,
    received_at BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    log_index BIGINT UNIQUE
);
CREATE INDEX entries_pending ON entries (id) WHERE log_index IS NULL;

-- The latest checkpoint: one row at most, replaced by compare-and-swap on (size, root).
CREATE TABLE checkpoint (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    note BYTEA NOT NULL
);

-- C2SP tlog-tiles, as opaque bytes: hash tiles by (level, index, width), entry bundles by (index, width).
CREATE TABLE tiles (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    width INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (level, idx, width)
);
CREATE TABLE entry_bundles (
    idx BIGINT NOT NULL,
    width INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (idx, width)
);

-- Publishers' manifests with history; equivocation flags two payloads sharing one sequence.
CREATE TABLE manifests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    publisher TEXT COLLATE "C" NOT NULL,
    sequence BIGINT NOT NULL,
    payload_sha256 BYTEA NOT NULL,
    envelope BYTEA NOT NULL,
    entry_id BIGINT NOT NULL REFERENCES entries (id),
    equivocation BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (publisher, sequence, payload_sha256)
);
CREATE INDEX manifests_equivocations ON manifests (publisher, sequence) WHERE equivocation;

-- Rollback floors and key pins: they outlive restarts, or a restart would reopen the door to rollbacks.
CREATE TABLE floors (
    publisher TEXT PRIMARY KEY,
    sequence BIGINT NOT NULL,
    payload_sha256 BYTEA NOT NULL,
    issued TEXT NOT NULL,
    keyid TEXT NOT NULL
);
CREATE TABLE pins (
    origin TEXT NOT NULL,
    keyid TEXT NOT NULL,
    PRIMARY KEY (origin, keyid)
);

-- The origins crawled on a schedule, with conditional-GET validators per document.
CREATE TABLE origins (
    origin TEXT PRIMARY KEY,
    added_by TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    next_crawl_at BIGINT NOT NULL,
    last_status INTEGER,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX origins_due ON origins (next_crawl_at);
CREATE TABLE validators (
    origin TEXT NOT NULL REFERENCES origins (origin) ON DELETE CASCADE,
    document TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    PRIMARY KEY (origin, document)
);

-- Account proofs (Keyoxide-style), re-checked on a schedule.
CREATE TABLE account_proofs (
    publisher TEXT COLLATE "C" NOT NULL,
    account_url TEXT NOT NULL,
    status TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    next_check_at BIGINT NOT NULL,
    PRIMARY KEY (publisher, account_url)
);
CREATE INDEX account_proofs_due ON account_proofs (next_check_at);
