-- Reactions, mentions and read state (embedded SQLite).

-- One row per (message, user, emoji): a user reacts with an emoji at most once.
CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
) STRICT;

-- Mentions are parsed once, when the message is sent or edited, so unread mention counts
-- are a join rather than a scan of message text.
CREATE TABLE message_mentions (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    -- 'user' or 'role'
    target_kind TEXT    NOT NULL,
    target_id   INTEGER NOT NULL,
    PRIMARY KEY (message_id, target_kind, target_id)
) STRICT;
CREATE INDEX mentions_by_target ON message_mentions(target_kind, target_id);

-- 1 when the message pinged @everyone (and the author was allowed to).
ALTER TABLE messages ADD COLUMN mention_everyone INTEGER NOT NULL DEFAULT 0;

-- The newest message each user has seen in each channel; unread = newer than this.
CREATE TABLE read_states (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel_id   INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    last_read_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel_id)
) STRICT;
