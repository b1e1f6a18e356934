-- Detached bodies (spec/log.md, "Log entries"): an entry whose body does not fit in 65,535 octets
-- commits to it by SHA-256 and size, and the body is served beside the log, found by that digest.
CREATE TABLE bodies (
    sha256 BYTEA PRIMARY KEY,
    body BYTEA NOT NULL
);
