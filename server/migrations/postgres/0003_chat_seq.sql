-- Per-chat sequence numbers (`seq` on the wire): every message of a chat is
-- numbered 1, 2, 3, … in commit order, with no gap and no reuse, so a client
-- that knows the last `seq` it holds can ask for exactly what it missed
-- (`sync`).
--
-- `chats.last_seq` is the counter: the statement that stores a batch of
-- messages raises it (`UPDATE chats … RETURNING`, which locks the chat's row
-- until the commit, also against other nodes) and numbers the messages from
-- it, so a number is taken only by a message that commits, and the numbers
-- of one chat commit in order.
-- `messages.chat_seq` is the message's number (the column `seq` already
-- names the table-wide insertion order).
--
-- Nodes running the previous version cannot store messages once this has
-- run (they leave `chat_seq` out): upgrade every node together.

ALTER TABLE chats ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN chat_seq BIGINT;

-- Existing messages: numbered per chat by time, then by insertion order.
UPDATE messages SET chat_seq = numbered.n
FROM (
    SELECT seq AS row_seq,
           ROW_NUMBER() OVER (PARTITION BY chatid ORDER BY created_at, seq) AS n
    FROM messages
) AS numbered
WHERE messages.seq = numbered.row_seq;

ALTER TABLE messages ALTER COLUMN chat_seq SET NOT NULL;

UPDATE chats SET last_seq = (
    SELECT COALESCE(MAX(m.chat_seq), 0) FROM messages m WHERE m.chatid = chats.chatid
);

-- `sync` reads a chat from a position: one range scan of this index.
CREATE UNIQUE INDEX messages_by_chat_seq ON messages (chatid, chat_seq);
