-- Instance administrators can disable an account (`auraspeak-server admin ban-user`).
-- A timestamp rather than a flag, so the admin tools can say since when.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN disabled_reason TEXT;
