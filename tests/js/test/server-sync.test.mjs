// Catch-up after a disconnect (issue 23): every message carries `seq`, its
// number in the chat (1, 2, 3, … without gaps, also under concurrent
// senders); `sync` returns what a client missed, in order, paged by
// `limit`/`hasMore`, also past the offline queue's cap of 25; every message
// counts as delivered once; `sync` refuses outsiders and bad input.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  closeAll,
  createChat,
  databases,
  emitAck,
  fullHistory,
  sendPaced,
  sleep,
  startServer,
  users,
} from '../support/index.mjs';

const T = { timeout: 120_000 };

/** Calls `sync` and asserts success; returns the ack's chats by chatid. */
async function syncOk(socket, positions, limit) {
  const payload = limit === undefined ? { positions } : { positions, limit };
  const ack = await emitAck(socket, 'sync', payload, 15_000);
  assert.equal(ack.success, true, `sync succeeded: ${JSON.stringify(ack)}`);
  return new Map((ack.chats ?? []).map((chat) => [chat.chatid, chat]));
}

/** Follows `hasMore` from `seq` until the chat is read to its end. */
async function syncAll(socket, chatid, seq, limit) {
  const pages = [];
  let position = seq;
  for (let round = 0; round < 100; round += 1) {
    const chats = await syncOk(socket, [{ chatid, seq: position }], limit);
    const chat = chats.get(chatid);
    if (!chat) break;
    pages.push(chat);
    assert.ok(chat.messages.length > 0, 'a chat in the answer has news');
    position = chat.messages.at(-1).seq;
    if (!chat.hasMore) break;
  }
  return pages;
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const db of await databases()) {
  describe(`sync [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'sync' });
    });
    after(async () => {
      await server?.stop();
    });

    test('seq is 1, 2, 3, … without gaps under concurrent senders, on acks, message_sent, new_message and history', T, async () => {
      const people = await users(server, 'ann', 'ben', 'cat', 'dan');
      const [ann, ...others] = people;
      const chatid = await createChat(server, ann, { participants: others });
      const sockets = await Promise.all(people.map((p) => p.socket()));
      const [watcher] = await Promise.all([people[0].socket()]);
      try {
        const perSender = 15;
        const acks = (
          await Promise.all(
            sockets.map(async (socket, who) => {
              const mine = [];
              for (let i = 0; i < perSender; i += 1) mine.push(await sendPaced(socket, chatid, `${who}-${i}`));
              return mine;
            }),
          )
        ).flat();
        const total = sockets.length * perSender;
        const seqs = acks.map((ack) => ack.seq).sort((a, b) => a - b);
        assert.deepEqual(seqs, range(1, total), 'the acks carry every seq exactly once');

        // message_sent carries the same seq as the ack.
        for (const ack of acks.slice(0, 5)) {
          const owner = sockets.find((s) => s.inbox.seen('message_sent', (d) => d.serverMessageId === ack.serverMessageId).length > 0);
          const sent = await owner.inbox.take('message_sent', { where: (d) => d.serverMessageId === ack.serverMessageId });
          assert.equal(sent.seq, ack.seq);
        }
        // A socket that sent nothing got every message live, each with its seq.
        const live = await watcher.inbox.takeN('new_message', total, { timeout: 30_000 });
        const bySeq = new Map(acks.map((ack) => [ack.seq, ack.serverMessageId]));
        for (const item of live) assert.equal(bySeq.get(item.message.seq), item.message.messageid, 'live seq matches the ack');
        assert.deepEqual(live.map((m) => m.message.seq).sort((a, b) => a - b), range(1, total));

        // History carries seq too.
        const history = await fullHistory(server, ann.token, chatid);
        assert.deepEqual(history.map((m) => m.seq).sort((a, b) => a - b), range(1, total));
        for (const message of history) assert.equal(bySeq.get(message.seq), message.messageid);

        // And sync from 0 returns the same, in seq order.
        const chats = await syncOk(watcher, [], 500);
        assert.deepEqual(chats.get(chatid).messages.map((m) => m.seq), range(1, total));
        assert.equal(chats.get(chatid).hasMore, false);
      } finally {
        await closeAll(...sockets, watcher);
      }
    });

    test('60 messages missed: the offline queue replays 25, sync returns all 60 in order, paged by limit/hasMore; each delivered once', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      try {
        const acks = [];
        for (let i = 1; i <= 60; i += 1) acks.push(await sendPaced(a, chatid, `missed ${i}`));
        assert.deepEqual(acks.map((ack) => ack.seq), range(1, 60));

        const { socket: b, inbox } = await bob.connect();
        try {
          const summary = await inbox.take('offline_messages_delivered', { timeout: 15_000 });
          assert.equal(summary.total, 25, 'the offline queue keeps its cap of 25');
          const replayed = inbox.all('new_message').map((item) => item.data.message.seq);
          assert.deepEqual(replayed, range(36, 60), 'the queue holds the newest 25, each with its seq');

          // Paging: 25 at a time from position 0.
          const pages = await syncAll(b, chatid, 0, 25);
          assert.deepEqual(pages.map((p) => [p.messages.length, p.hasMore]), [[25, true], [25, true], [10, false]]);
          const synced = pages.flatMap((p) => p.messages);
          assert.deepEqual(synced.map((m) => m.seq), range(1, 60), 'every seq, in order');
          assert.deepEqual(synced.map((m) => m.messageid), acks.map((ack) => ack.serverMessageId));
          assert.deepEqual(synced.map((m) => m.content), acks.map((_, i) => `missed ${i + 1}`));

          // Default limit (100) covers all 60 at once; a position inside the chat returns the rest.
          const all = await syncOk(b, [{ chatid, seq: 0 }]);
          assert.equal(all.get(chatid).messages.length, 60);
          assert.equal(all.get(chatid).hasMore, false);
          const rest = await syncOk(b, [{ chatid, seq: 58 }]);
          assert.deepEqual(rest.get(chatid).messages.map((m) => m.seq), [59, 60]);
          // Up to date: the chat is left out.
          const none = await syncOk(b, [{ chatid, seq: 60 }]);
          assert.equal(none.has(chatid), false, 'a chat with nothing new is left out');

          // The sender hears of each delivery once: 25 by the queue, 35 by sync.
          await sleep(500);
          const receipts = a.inbox.all('message_delivered').map((item) => item.data).filter((d) => d.deliveredTo === bob.profileid);
          assert.deepEqual(receipts.map((d) => d.messageid).sort(), acks.map((ack) => ack.serverMessageId).sort(), 'one message_delivered per message');
        } finally {
          await closeAll(b);
        }
      } finally {
        await closeAll(a);
      }
    });

    test('sync refuses outsiders, unknown chats and bad input with the usual codes; the socket survives', T, async () => {
      const [alice, bob, eve] = await users(server, 'alice', 'bob', 'eve');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const e = await eve.socket();
      try {
        await sendPaced(a, chatid, 'private');
        const outsider = await emitAck(e, 'sync', { positions: [{ chatid, seq: 0 }] });
        assert.equal(outsider.success, false);
        assert.equal(outsider.code, 'NOT_PARTICIPANT', JSON.stringify(outsider));
        assert.equal(typeof outsider.error, 'string');
        assert.equal(outsider.chats, undefined, 'nothing returned');
        const unknown = await emitAck(e, 'sync', { positions: [{ chatid: 'no-such-chat', seq: 0 }] });
        assert.equal(unknown.code, 'CHAT_NOT_FOUND');
        // With no positions, eve gets her own chats only (none).
        const mine = await syncOk(e, []);
        assert.equal(mine.size, 0, 'a chat eve is not in is never returned');

        const bad = [
          {},
          { positions: 'x' },
          { positions: [{ chatid, seq: -1 }] },
          { positions: [{ chatid }] },
          { positions: [], limit: 0 },
          { positions: [], limit: 501 },
          { positions: [], extra: true },
          { positions: [{ chatid, seq: 0 }, { chatid, seq: 1 }] },
        ];
        for (const payload of bad) {
          const ack = await emitAck(a, 'sync', payload);
          assert.equal(ack.success, false, `refused: ${JSON.stringify(payload)}`);
          assert.equal(ack.code, 'VALIDATION_ERROR', `VALIDATION_ERROR for ${JSON.stringify(payload)}: ${JSON.stringify(ack)}`);
          assert.equal(typeof ack.error, 'string');
        }
        const max = await syncOk(a, [], 500);
        assert.equal(max.get(chatid).messages.length, 1, 'limit 500 is accepted');
        assert.ok(a.connected && e.connected, 'both sockets stay connected');
      } finally {
        await closeAll(a, e);
      }
    });
  });
}
