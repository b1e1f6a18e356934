-- Detached bodies (spec/log.md, "Log entries"): an entry whose body does not fit in 65,535 octets
-- commits to it by SHA-256 and size, and the body is served beside the log, found by that digest.
CREATE TABLE bodies (
    sha256 BLOB PRIMARY KEY,
    body BLOB NOT NULL
) STRICT;  -- a rowid table: bodies are large, WITHOUT ROWID suits small rows
