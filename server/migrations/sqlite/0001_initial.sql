-- Lockstep schema, SQLite flavour.
--
-- Keep this file in step with ../postgres/0001_initial.sql: the same tables,
-- columns, constraints and index names, so that the store's SQL (shared by
-- both backends) means the same thing on each. The only intended differences
-- are the spelling of types: INTEGER vs BIGINT, TEXT holding JSON vs JSONB,
-- and INTEGER PRIMARY KEY AUTOINCREMENT vs GENERATED ALWAYS AS IDENTITY.
--
-- Conventions:
-- * Timestamps are INTEGER milliseconds since the Unix epoch, UTC.
-- * Ids are opaque TEXT (ULIDs when the store makes them).
-- * Tables are STRICT so that a value of the wrong type is refused instead of
--   being stored and failing later when it is read back.
-- * Applied migrations are immutable (sqlx checks their checksums): change
--   the schema with a new numbered file in both folders, never by editing
--   this one.

-- Who a profile id belongs to, as last seen in a verified access token.
CREATE TABLE profiles (
    profileid   TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL,
    username    TEXT NOT NULL,
    displayname TEXT,
    avatar      TEXT,
    email       TEXT,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE chats (
    chatid     TEXT PRIMARY KEY NOT NULL,
    chat_type  TEXT NOT NULL CHECK (chat_type IN ('direct', 'group', 'channel')),
    chat_name  TEXT,
    settings   TEXT NOT NULL DEFAULT '{}' CHECK (json_type(settings) = 'object'),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- For direct chats only: the two member ids, sorted, as a JSON array.
    -- Unique, so that two concurrent "open a direct chat with B" requests
    -- (even on two server nodes) end up in one chat.
    direct_key TEXT UNIQUE,
    CHECK ((chat_type = 'direct') = (direct_key IS NOT NULL))
) STRICT;

-- No foreign key to profiles: a chat may name people who have not connected
-- yet, and a profile row only appears on their first connection.
CREATE TABLE chat_participants (
    chatid    TEXT NOT NULL REFERENCES chats (chatid) ON DELETE CASCADE,
    profileid TEXT NOT NULL,
    role      TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'moderator', 'member')),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (chatid, profileid)
) STRICT;

-- "Which chats is this user in" (chat lists, presence fan-out, shared chats).
CREATE INDEX chat_participants_by_profile ON chat_participants (profileid, chatid);

CREATE TABLE messages (
    -- Insertion order; the history cursor and the only ordering the store
    -- relies on (client clocks and created_at may disagree with it).
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    messageid         TEXT NOT NULL UNIQUE,
    chatid            TEXT NOT NULL REFERENCES chats (chatid) ON DELETE CASCADE,
    senderid          TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    message_type      TEXT NOT NULL,
    content           TEXT NOT NULL,
    attachments       TEXT NOT NULL DEFAULT '[]' CHECK (json_type(attachments) = 'array'),
    reply_to          TEXT REFERENCES messages (messageid) ON DELETE SET NULL,
    mentions          TEXT NOT NULL DEFAULT '[]' CHECK (json_type(mentions) = 'array'),
    created_at        INTEGER NOT NULL,
    -- Makes send_message idempotent across retries, tasks and server nodes.
    CONSTRAINT messages_client_message_id_key UNIQUE (senderid, client_message_id)
) STRICT;

CREATE INDEX messages_by_chat ON messages (chatid, seq);

-- One row per (message, recipient) once anything happened to it.
CREATE TABLE message_receipts (
    messageid    TEXT NOT NULL REFERENCES messages (messageid) ON DELETE CASCADE,
    profileid    TEXT NOT NULL,
    delivered_at INTEGER,
    read_at      INTEGER,
    PRIMARY KEY (messageid, profileid)
) STRICT;

CREATE TABLE message_reactions (
    messageid  TEXT NOT NULL REFERENCES messages (messageid) ON DELETE CASCADE,
    profileid  TEXT NOT NULL,
    emoji      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (messageid, profileid, emoji)
) STRICT;

-- Messages waiting for a recipient who was offline when they were sent.
-- Entries are deleted only after delivery (take, deliver, then ack), and the
-- oldest are dropped beyond a per-user cap; the messages stay in history.
CREATE TABLE offline_queue (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    profileid TEXT NOT NULL,
    messageid TEXT NOT NULL REFERENCES messages (messageid) ON DELETE CASCADE,
    queued_at INTEGER NOT NULL,
    -- A message is queued at most once per recipient; leading messageid also
    -- finds the recipients of one message (cap trimming, cascades).
    CONSTRAINT offline_queue_message_recipient_key UNIQUE (messageid, profileid)
) STRICT;

CREATE INDEX offline_queue_by_profile ON offline_queue (profileid, id);

-- Device fingerprints a profile has connected from (for deviceTrusted).
CREATE TABLE devices (
    profileid   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    seen_count  INTEGER NOT NULL,
    PRIMARY KEY (profileid, fingerprint)
) STRICT;

-- Call records are not stored yet. They arrive in a later migration
-- (0002_calls.sql, in both folders): a `calls` table keyed by callid with
-- chatid, caller, call type, state, and started/answered/ended timestamps as
-- INTEGER milliseconds, plus `call_participants` (callid, profileid, role,
-- joined_at, left_at), so that ring timeouts and call history survive a
-- restart and are shared between nodes.
