-- Accounts and sessions (embedded SQLite backend).
-- IDs are 64-bit snowflakes stored as INTEGER; times are Unix milliseconds, so both
-- backends store and compare them identically without time-zone handling.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    -- As the user typed it, for display.
    username      TEXT    NOT NULL,
    -- Lower-cased username: the UNIQUE constraint is what makes "exactly one of 50
    -- concurrent registrations wins" hold, rather than a check-then-insert race.
    username_key  TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL UNIQUE,
    display_name  TEXT,
    -- PHC string (argon2id with its parameters), so parameters can change later and old
    -- hashes still verify.
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- One row per login on one device. Revocation is a timestamp rather than a delete so
-- that a stolen, already-rotated refresh token still finds its (revoked) session.
CREATE TABLE sessions (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_name    TEXT    NOT NULL,
    ip             TEXT,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
) STRICT;

-- Listing a user's sessions and revoking all of them are both by user.
CREATE INDEX sessions_by_user ON sessions(user_id);

-- Every refresh token ever issued for a session (its "family"), stored only as a
-- SHA-256 hash. A token is used once: `used_at` is set on rotation, and seeing a used
-- token again is the signal of theft that revokes the session.
CREATE TABLE refresh_tokens (
    token_hash BLOB    PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);
