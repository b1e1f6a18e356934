-- Pins with their key material: a pinned key that has left the origin's key set must still verify the
-- rotation that hands over from it (spec/keys.md, "Trust"). NULL for pins stored by key id alone.
ALTER TABLE pins ADD COLUMN jwk TEXT;
