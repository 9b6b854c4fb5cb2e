-- Delivery watermarks: what live deliveries have been reported, without a
-- row per message and recipient.
--
-- A row (chatid, profileid, from_seq, delivered_seq) means: every message of
-- the chat with from_seq <= seq <= delivered_seq has been reported delivered
-- to the profile, except those with a `message_receipts` row whose
-- `delivered_at` is NULL (a pending exception: the recipient was not handed
-- that message live). `from_seq` is the lowest seq of the flush that made
-- the row, so messages from before the profile took part (never fanned out
-- to it, and with no exception row) are not taken for delivered.
--
-- Whether a delivery is the first (`mark_delivered`): a receipt row with
-- `delivered_at` set means reported; a row with NULL means not yet; no row
-- means not yet unless the seq is inside the range. With this table empty
-- that is exactly the rule before it existed (no row = not yet delivered),
-- so existing data needs no backfill.
--
-- WITHOUT ROWID: the primary key is the only index, so an upsert touches
-- one b-tree.
CREATE TABLE chat_deliveries (
    chatid        TEXT NOT NULL REFERENCES chats (chatid) ON DELETE CASCADE,
    profileid     TEXT NOT NULL,
    from_seq      INTEGER NOT NULL,
    delivered_seq INTEGER NOT NULL,
    -- The latest live delivery recorded (milliseconds since the epoch).
    delivered_at  INTEGER NOT NULL,
    PRIMARY KEY (chatid, profileid)
) STRICT, WITHOUT ROWID;
