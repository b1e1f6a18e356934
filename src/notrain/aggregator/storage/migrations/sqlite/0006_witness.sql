-- Witnessing (spec/log.md, "Witnesses").  As a witness: per log witnessed, the latest checkpoint this
-- aggregator cosigned (its note with the cosignature), replaced only by compare-and-swap on (size, root) so
-- that two concurrent add-checkpoint requests can never roll it back.
CREATE TABLE witnessed_logs (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- As a log: the latest cosignature line each configured witness (by its vkey) returned, and the checkpoint
-- (size, root) it is on; served appended to the checkpoint while that is the latest.
CREATE TABLE log_cosignatures (
    witness TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    line BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
