-- Per-chat sequence numbers (`seq` on the wire): every message of a chat is
-- numbered 1, 2, 3, … in commit order, with no gap and no reuse, so a client
-- that knows the last `seq` it holds can ask for exactly what it missed
-- (`sync`).
--
-- `chats.last_seq` is the counter: the message writer reads it, numbers the
-- messages it stores and writes it back, in the transaction that stores
-- them, so a number is taken only by a message that commits.
-- `messages.chat_seq` is the message's number (the column `seq` already
-- names the table-wide insertion order).

ALTER TABLE chats ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN chat_seq INTEGER NOT NULL DEFAULT 0;

-- Existing messages: numbered per chat by time, then by insertion order.
UPDATE messages SET chat_seq = numbered.n
FROM (
    SELECT seq AS row_seq,
           ROW_NUMBER() OVER (PARTITION BY chatid ORDER BY created_at, seq) AS n
    FROM messages
) AS numbered
WHERE messages.seq = numbered.row_seq;

UPDATE chats SET last_seq = (
    SELECT COALESCE(MAX(m.chat_seq), 0) FROM messages m WHERE m.chatid = chats.chatid
);

-- `sync` reads a chat from a position: one range scan of this index.
CREATE UNIQUE INDEX messages_by_chat_seq ON messages (chatid, chat_seq);
