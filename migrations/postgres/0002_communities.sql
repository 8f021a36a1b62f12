-- Communities, channels, roles, membership, moderation and chat (PostgreSQL).
-- Same shape and names as the PostgreSQL schema: the queries are shared by both backends.

CREATE TABLE servers (
    id          BIGINT  PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT,
    -- RESTRICT: an owner account cannot vanish from under its server; ownership must be
    -- transferred or the server deleted first.
    owner_id    BIGINT  NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    created_at  BIGINT  NOT NULL
);

-- The @everyone role has id = server id and position 0, so every member has it without
-- a member_roles row.
CREATE TABLE roles (
    id          BIGINT  PRIMARY KEY,
    server_id   BIGINT  NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    permissions BIGINT  NOT NULL,
    position    BIGINT  NOT NULL,
    color       BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX roles_by_server ON roles(server_id);

CREATE TABLE members (
    server_id BIGINT  NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    user_id   BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    nickname  TEXT,
    joined_at BIGINT  NOT NULL,
    PRIMARY KEY (server_id, user_id)
);
-- "Servers I am in" is by user.
CREATE INDEX members_by_user ON members(user_id);

CREATE TABLE member_roles (
    server_id BIGINT  NOT NULL,
    user_id   BIGINT  NOT NULL,
    role_id   BIGINT  NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (server_id, user_id, role_id),
    -- Leaving, kick and ban delete the member row; their roles go with it.
    FOREIGN KEY (server_id, user_id) REFERENCES members(server_id, user_id) ON DELETE CASCADE
);

CREATE TABLE channels (
    id         BIGINT  PRIMARY KEY,
    server_id  BIGINT  NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    -- 'text', 'voice' or 'category'
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    topic      TEXT,
    position   BIGINT  NOT NULL,
    -- Deleting a category leaves its channels uncategorised rather than deleting them.
    parent_id  BIGINT  REFERENCES channels(id) ON DELETE SET NULL,
    bitrate    BIGINT,
    user_limit BIGINT,
    created_at BIGINT  NOT NULL
);
CREATE INDEX channels_by_server ON channels(server_id);

CREATE TABLE channel_overwrites (
    channel_id  BIGINT  NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    -- 'role' or 'member'; not a foreign key because the target may be either table.
    target_kind TEXT    NOT NULL,
    target_id   BIGINT  NOT NULL,
    allow_bits  BIGINT  NOT NULL,
    deny_bits   BIGINT  NOT NULL,
    PRIMARY KEY (channel_id, target_kind, target_id)
);

CREATE TABLE invites (
    code       TEXT    PRIMARY KEY,
    server_id  BIGINT  NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    creator_id BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    uses       BIGINT  NOT NULL DEFAULT 0,
    max_uses   BIGINT,
    expires_at BIGINT,
    created_at BIGINT  NOT NULL
);
CREATE INDEX invites_by_server ON invites(server_id);

-- A ban outlives membership: it is what stops a banned user from rejoining by invite.
CREATE TABLE bans (
    server_id    BIGINT  NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    user_id      BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reason       TEXT,
    moderator_id BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (server_id, user_id)
);

CREATE TABLE audit_log (
    id         BIGINT  PRIMARY KEY,
    server_id  BIGINT  NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    actor_id   BIGINT  NOT NULL,
    action     TEXT    NOT NULL,
    target_id  BIGINT,
    reason     TEXT,
    created_at BIGINT  NOT NULL
);
-- Read newest first per server.
CREATE INDEX audit_by_server ON audit_log(server_id, id);

CREATE TABLE messages (
    id         BIGINT  PRIMARY KEY,
    channel_id BIGINT  NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    author_id  BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    reply_to   BIGINT,
    nonce      TEXT,
    created_at BIGINT  NOT NULL,
    edited_at  BIGINT,
    -- The idempotency guarantee: one message per (channel, author, nonce), enforced here
    -- so it holds across restarts and parallel retries. NULL nonces never collide.
    UNIQUE (channel_id, author_id, nonce)
);
-- History pages by (channel, id).
CREATE INDEX messages_by_channel ON messages(channel_id, id);
