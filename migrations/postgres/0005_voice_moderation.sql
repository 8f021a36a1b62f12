-- Server mute and deafen (security review M1): a moderator's decision about a member in
-- one server, applied whenever and from whatever device they join voice there, until a
-- moderator lifts it. A table of its own rather than columns on `members`, so that leaving
-- the server and coming back by invite does not lift it either (like a ban, it outlives
-- the membership). A row exists only while at least one of the two is set.
CREATE TABLE voice_moderation (
    server_id BIGINT  NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    user_id   BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mute      BOOLEAN NOT NULL DEFAULT FALSE,
    deaf      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (server_id, user_id)
);
