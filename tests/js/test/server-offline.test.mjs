// Issue 3, "Offline queue": messages for a participant with no socket are
// queued (persisted, at most 25, oldest dropped first, history keeps all)
// and replayed on connect as new_message with isOfflineDelivery, then
// offline_messages_delivered; senders get message_delivered with
// isOfflineDelivery: true. Nothing is delivered twice; the queue survives a
// restart and a kill -9.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertIso,
  assertRecent,
  closeAll,
  createChat,
  databases,
  fullHistory,
  sendPaced,
  sleep,
  startServer,
  users,
} from '../support/index.mjs';

const T = { timeout: 90_000 };

/**
 * Connects `user` and collects the replay: the offline `new_message`s up to
 * `offline_messages_delivered`. Returns { socket, messages, summary, items }.
 */
async function connectAndCollect(user, expected, { timeout = 15_000 } = {}) {
  const { socket, inbox } = await user.connect();
  const summary = await inbox.take('offline_messages_delivered', { timeout, what: `offline_messages_delivered (expecting ${expected} queued)` });
  const [summaryItem] = inbox.all('offline_messages_delivered');
  const items = inbox.all('new_message');
  return { socket, inbox, summary, summaryItem, items, messages: items.map((item) => item.data) };
}

function assertSummary(summary, total) {
  assert.deepEqual(Object.keys(summary).sort(), ['deliveredAt', 'failed', 'successful', 'total']);
  assert.deepEqual({ total: summary.total, successful: summary.successful, failed: summary.failed }, { total, successful: total, failed: 0 });
  assertRecent(assertIso(summary.deliveredAt, 'offline_messages_delivered.deliveredAt'), 'deliveredAt');
}

for (const db of await databases()) {
  describe(`offline queue [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'offline' });
    });
    after(async () => {
      await server?.stop();
    });

    test('3 messages to an offline recipient are replayed in order on connect, then offline_messages_delivered', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { chatName: 'Later', participants: [bob] });
      const a = await alice.socket();
      try {
        const acks = [];
        for (const content of ['first', 'second', 'third']) acks.push(await sendPaced(a, chatid, content));
        for (const ack of acks) {
          const sent = await a.inbox.take('message_sent', { where: (d) => d.serverMessageId === ack.serverMessageId });
          assert.deepEqual(sent.deliveredTo, [], 'nobody received it live');
        }
        await sleep(1_500); // time in the queue
        const replay = await connectAndCollect(bob, 3);
        try {
          assert.equal(replay.messages.length, 3, `three new_message before the summary:\n${replay.inbox.summary()}`);
          assert.deepEqual(replay.messages.map((m) => m.message.content), ['first', 'second', 'third'], 'in order');
          assert.deepEqual(replay.messages.map((m) => m.message.messageid), acks.map((ack) => ack.serverMessageId));
          for (const [i, event] of replay.messages.entries()) {
            assert.equal(event.isOfflineDelivery, true, 'isOfflineDelivery');
            assertRecent(assertIso(event.deliveredAt, 'deliveredAt'), 'deliveredAt');
            assert.ok(Number.isInteger(event.queuedDuration) && event.queuedDuration >= 0, `queuedDuration: ${event.queuedDuration}`);
            assert.ok(event.queuedDuration >= 1_000, `queuedDuration counts the time in the queue (ms): ${event.queuedDuration}`);
            assert.equal(event.message.chatid, chatid);
            assert.equal(event.message.senderid, alice.profileid);
            assert.deepEqual(event.chat, { chatid, chatName: 'Later', chatType: 'group' });
            assert.equal(event.sender.profileid, alice.profileid);
            assert.ok(replay.items[i].index < replay.summaryItem.index, 'new_message comes before offline_messages_delivered');
          }
          assertSummary(replay.summary, 3);

          for (const ack of acks) {
            const delivered = await a.inbox.take('message_delivered', { where: (d) => d.messageid === ack.serverMessageId });
            assert.equal(delivered.deliveredTo, bob.profileid);
            assert.equal(delivered.isOfflineDelivery, true);
            assertIso(delivered.deliveredAt, 'message_delivered.deliveredAt');
          }
          await a.inbox.expectNone('message_delivered', 1_000, () => true, 'one message_delivered per queued message');
        } finally {
          await closeAll(replay.socket);
        }

        // reconnecting delivers nothing twice
        const again = await bob.connect();
        try {
          await sleep(1_500);
          assert.deepEqual(again.inbox.seen('new_message'), [], 'nothing is delivered twice');
          for (const summary of again.inbox.seen('offline_messages_delivered')) {
            assert.equal(summary.total, 0, `an empty replay, if announced, has total 0: ${JSON.stringify(summary)}`);
          }
        } finally {
          await closeAll(again.socket);
        }
        await a.inbox.expectNone('message_delivered', 0);
      } finally {
        await closeAll(a);
      }
    });

    test('a recipient who was online and went offline gets the messages sent meanwhile, on every device that connects first', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const live = await sendPaced(a, chatid, 'while online');
        await b.inbox.take('new_message', { where: (d) => d.message.messageid === live.serverMessageId });
        await closeAll(b);
        await sleep(300);
        const queued = await sendPaced(a, chatid, 'while offline');
        const replay = await connectAndCollect(bob, 1);
        try {
          assert.deepEqual(replay.messages.map((m) => m.message.content), ['while offline'], 'only what was missed');
          assert.equal(replay.messages[0].message.messageid, queued.serverMessageId);
          assertSummary(replay.summary, 1);
        } finally {
          await closeAll(replay.socket);
        }
      } finally {
        await closeAll(a, b);
      }
    });

    test('the queue holds at most 25: 30 messages while offline -> the newest 25 delivered, history has 30', { timeout: 120_000 }, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      try {
        const acks = [];
        for (let i = 1; i <= 30; i += 1) acks.push(await sendPaced(a, chatid, `#${i}`));
        const replay = await connectAndCollect(bob, 25, { timeout: 20_000 });
        try {
          const contents = replay.messages.map((m) => m.message.content);
          assert.deepEqual(contents, Array.from({ length: 25 }, (_, i) => `#${i + 6}`), 'the newest 25, oldest dropped first, in order');
          for (const event of replay.messages) assert.equal(event.isOfflineDelivery, true);
          assertSummary(replay.summary, 25);
        } finally {
          await closeAll(replay.socket);
        }
        const history = await fullHistory(server, bob.token, chatid);
        assert.equal(history.length, 30, 'every message stays in history');
        assert.deepEqual(history.map((m) => m.content).reverse(), Array.from({ length: 30 }, (_, i) => `#${i + 1}`));
      } finally {
        await closeAll(a);
      }
    });

    test('the cap is per recipient: two offline recipients each get their own queue', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { participants: [bob, carol] });
      const a = await alice.socket();
      try {
        await sendPaced(a, chatid, 'to both 1');
        await sendPaced(a, chatid, 'to both 2');
        for (const user of [bob, carol]) {
          const replay = await connectAndCollect(user, 2);
          try {
            assert.deepEqual(replay.messages.map((m) => m.message.content), ['to both 1', 'to both 2'], `${user.username}'s queue`);
            assertSummary(replay.summary, 2);
          } finally {
            await closeAll(replay.socket);
          }
        }
      } finally {
        await closeAll(a);
      }
    });

    test('the queue survives a restart (SIGTERM, start again on the same database)', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const acks = [await sendPaced(a, chatid, 'before restart 1'), await sendPaced(a, chatid, 'before restart 2')];
      await server.restart();
      const replay = await connectAndCollect(bob, 2);
      try {
        assert.deepEqual(replay.messages.map((m) => m.message.messageid), acks.map((ack) => ack.serverMessageId));
        for (const event of replay.messages) assert.equal(event.isOfflineDelivery, true);
        assertSummary(replay.summary, 2);
      } finally {
        await closeAll(replay.socket);
      }
    });

    test('the queue survives kill -9', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const acks = [await sendPaced(a, chatid, 'before crash 1'), await sendPaced(a, chatid, 'before crash 2')];
      await server.restart({ kill: true });
      const replay = await connectAndCollect(bob, 2);
      try {
        assert.deepEqual(replay.messages.map((m) => m.message.messageid), acks.map((ack) => ack.serverMessageId));
        assertSummary(replay.summary, 2);
      } finally {
        await closeAll(replay.socket);
      }
    });
  });
}
