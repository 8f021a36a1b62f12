-- Communities, channels, roles, membership, moderation and chat (embedded SQLite).
-- Same shape and names as the PostgreSQL schema: the queries are shared by both backends.

CREATE TABLE servers (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT,
    -- RESTRICT: an owner account cannot vanish from under its server; ownership must be
    -- transferred or the server deleted first.
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    created_at  INTEGER NOT NULL
) STRICT;

-- The @everyone role has id = server id and position 0, so every member has it without
-- a member_roles row.
CREATE TABLE roles (
    id          INTEGER PRIMARY KEY,
    server_id   INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    permissions INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    color       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX roles_by_server ON roles(server_id);

CREATE TABLE members (
    server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    nickname  TEXT,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (server_id, user_id)
) STRICT;
-- "Servers I am in" is by user.
CREATE INDEX members_by_user ON members(user_id);

CREATE TABLE member_roles (
    server_id INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    role_id   INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (server_id, user_id, role_id),
    -- Leaving, kick and ban delete the member row; their roles go with it.
    FOREIGN KEY (server_id, user_id) REFERENCES members(server_id, user_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE channels (
    id         INTEGER PRIMARY KEY,
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    -- 'text', 'voice' or 'category'
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    topic      TEXT,
    position   INTEGER NOT NULL,
    -- Deleting a category leaves its channels uncategorised rather than deleting them.
    parent_id  INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    bitrate    INTEGER,
    user_limit INTEGER,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX channels_by_server ON channels(server_id);

CREATE TABLE channel_overwrites (
    channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    -- 'role' or 'member'; not a foreign key because the target may be either table.
    target_kind TEXT    NOT NULL,
    target_id   INTEGER NOT NULL,
    allow_bits  INTEGER NOT NULL,
    deny_bits   INTEGER NOT NULL,
    PRIMARY KEY (channel_id, target_kind, target_id)
) STRICT;

CREATE TABLE invites (
    code       TEXT    PRIMARY KEY,
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    creator_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    uses       INTEGER NOT NULL DEFAULT 0,
    max_uses   INTEGER,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX invites_by_server ON invites(server_id);

-- A ban outlives membership: it is what stops a banned user from rejoining by invite.
CREATE TABLE bans (
    server_id    INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reason       TEXT,
    moderator_id INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (server_id, user_id)
) STRICT;

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    server_id  INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    actor_id   INTEGER NOT NULL,
    action     TEXT    NOT NULL,
    target_id  INTEGER,
    reason     TEXT,
    created_at INTEGER NOT NULL
) STRICT;
-- Read newest first per server.
CREATE INDEX audit_by_server ON audit_log(server_id, id);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    reply_to   INTEGER,
    nonce      TEXT,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    -- The idempotency guarantee: one message per (channel, author, nonce), enforced here
    -- so it holds across restarts and parallel retries. NULL nonces never collide.
    UNIQUE (channel_id, author_id, nonce)
) STRICT;
-- History pages by (channel, id).
CREATE INDEX messages_by_channel ON messages(channel_id, id);
