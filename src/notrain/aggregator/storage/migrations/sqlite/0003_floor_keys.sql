-- Rollback floors as spec/envelope.md (step 10) keeps them: per publisher the sequence and digest of the
-- last accepted manifest and the key ids trusted when it was accepted (space-separated, sorted), which
-- decide the manifests the floor binds. The issued time never took part in the rule. The manifest that
-- set the floor is the publisher's latest: after a rotation it may have a lower sequence than older ones.
ALTER TABLE floors RENAME COLUMN keyid TO keyids;
ALTER TABLE floors DROP COLUMN issued;
ALTER TABLE floors ADD COLUMN manifest_id INTEGER REFERENCES manifests (id);
UPDATE floors SET manifest_id = (
    SELECT m.id FROM manifests m
    WHERE m.publisher = floors.publisher AND m.sequence = floors.sequence AND m.payload_sha256 = floors.payload_sha256
);
