// @lockstep/client's delivery guarantees against the real binary: a send
// retried after a timeout or a reconnect is stored once, in call order;
// after a reconnect the client catches up with `sync` (paging while
// `hasMore`) and hands the application every message exactly once, in seq
// order, whether it came live, from the offline queue or from `sync`; the
// contract's heartbeat is answered, so a quiet client stays connected past
// the server's drop deadline.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createChat, fullHistory, sleep, startServer, users, waitDisconnect } from '../support/index.mjs';
import { clientOf, eventually, statusOf } from '../support/lockstep-client.mjs';

const T = { timeout: 120_000 };
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('@lockstep/client delivery', () => {
  let server;
  before(async () => {
    // A short heartbeat: a socket that does not answer is dropped after about 3 s.
    server = await startServer({ name: 'client-delivery', args: ['--heartbeat-interval', '1', '--heartbeat-max-misses', '2'] });
  });
  after(async () => {
    await server?.stop();
  });

  const attemptsOf = (client, clientMessageId) =>
    client.seen.outgoing.filter((o) => o.event === 'send_message' && o.args[0]?.clientMessageId === clientMessageId).length;

  test('a send retried after its ack timed out is stored once', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    // Attempts time out long before the server can answer: the client repeats
    // them with the same id, and the first ack that comes settles the send.
    const client = clientOf(server, alice, { ackTimeoutMs: 2, sendAttempts: 1_000 });
    try {
      await statusOf(client, 'connected');
      const results = [];
      for (const content of ['first', 'second', 'third']) results.push(await client.sendMessage({ chatid, messageType: 'text', content }));
      assert.deepEqual(results.map((r) => r.success), [true, true, true], JSON.stringify(results));
      const retried = results.filter((r) => attemptsOf(client, r.clientMessageId) > 1);
      assert.ok(retried.length > 0, `some send was attempted more than once: ${results.map((r) => attemptsOf(client, r.clientMessageId))}`);
      const history = (await fullHistory(server, alice.token, chatid)).reverse();
      assert.deepEqual(history.map((m) => m.content), ['first', 'second', 'third'], 'each stored once, in call order');
      assert.deepEqual(history.map((m) => m.messageid), results.map((r) => r.serverMessageId));
    } finally {
      client.close();
    }
  });

  test('a send cut off by a dropped connection is repeated after the reconnect and stored once', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    const client = clientOf(server, alice, { io: { reconnectionDelay: 200, reconnectionDelayMax: 200 } });
    try {
      await statusOf(client, 'connected');
      const pending = [1, 2, 3].map((n) => client.sendMessage({ chatid, messageType: 'text', content: `m${n}` }));
      // The network drops right after the first send left.
      client.socket.io.engine.close();
      const results = await Promise.all(pending);
      assert.deepEqual(results.map((r) => r.success), [true, true, true], JSON.stringify(results));
      assert.ok(attemptsOf(client, results[0].clientMessageId) >= 2, 'the first send was repeated after the reconnect');
      assert.ok(client.seen.statuses.some((s) => s.state === 'disconnected'), 'the client saw the drop');
      const history = (await fullHistory(server, alice.token, chatid)).reverse();
      assert.deepEqual(history.map((m) => m.content), ['m1', 'm2', 'm3'], 'stored once each, in call order');
    } finally {
      client.close();
    }
  });

  test('after a reconnect every message reaches onMessage exactly once, in seq order (live, offline queue, sync pages)', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    // Bob is a client too: a bare socket would not answer this server's quick heartbeat.
    const bobClient = clientOf(server, bob);
    const bobSends = async (from, to) => {
      for (let i = from; i <= to; i += 1) {
        const ack = await bobClient.sendMessage({ chatid, messageType: 'text', content: `b${i}` });
        assert.equal(ack.success, true, JSON.stringify(ack));
      }
    };
    // Small pages: catching up takes several `sync`s with `hasMore`.
    const client = clientOf(server, alice, { syncLimit: 7 });
    try {
      await statusOf(client, 'connected');
      await bobSends(1, 5);
      await eventually(() => client.seen.messages.length === 5, { what: 'the live messages' });

      // Offline: no socket at all, so the server also queues for the offline replay (at most 25).
      client.socket.io.reconnection(false);
      client.socket.disconnect();
      await statusOf(client, 'disconnected');
      await bobSends(6, 40);

      // Back, while bob keeps sending: live messages interleave with the catch-up.
      client.socket.io.reconnection(true);
      client.connect();
      await statusOf(client, 'connected');
      await bobSends(41, 50);
      await eventually(() => client.seen.messages.length >= 50 && client.lastSeq(chatid) === 50, { what: 'all 50 messages', timeoutMs: 30_000 });
      await sleep(500);

      const seqs = client.seen.messages.map((m) => m.seq);
      assert.deepEqual(seqs, range(1, 50), 'every seq once, in order');
      assert.deepEqual(client.seen.messages.map((m) => m.content), range(1, 50).map((n) => `b${n}`));
      const syncs = client.seen.outgoing.filter((o) => o.event === 'sync');
      assert.ok(syncs.length >= 2, `the catch-up paged (${syncs.length} syncs)`);
      assert.ok(syncs.some((o) => o.args[0].positions.some((p) => p.chatid === chatid && p.seq === 5)), 'sync started from the last seq held');
      assert.deepEqual(client.seen.violations, []);
    } finally {
      client.close();
      bobClient.close();
    }
  });

  test('a chat that is not the user\'s any more does not block the catch-up of the others', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    const bobClient = clientOf(server, bob);
    try {
      for (const content of ['one', 'two']) assert.equal((await bobClient.sendMessage({ chatid, messageType: 'text', content })).success, true);
      // Stale storage: a chat that does not exist (any more).
      const client = clientOf(server, alice, { positions: { 'chat-gone': 3, [chatid]: 0 } });
      try {
        await eventually(() => client.seen.messages.length === 2, { what: 'the messages of the real chat' });
        assert.deepEqual(client.seen.messages.map((m) => m.content), ['one', 'two']);
        assert.equal(client.lastSeq('chat-gone'), undefined, 'the lost chat is forgotten');
        assert.equal(client.lastSeq(chatid), 2);
        assert.deepEqual(client.seen.violations, []);
      } finally {
        client.close();
      }
    } finally {
      bobClient.close();
    }
  });

  test('the heartbeat is answered: a quiet client stays connected past the drop deadline', T, async () => {
    const [alice] = await users(server, 'alice');
    const client = clientOf(server, alice);
    // A bare socket that does not answer shows the deadline is real.
    const silent = await alice.socket();
    try {
      await statusOf(client, 'connected');
      const heartbeats = [];
      client.on('heartbeat', (beat) => heartbeats.push(beat));
      const reason = await waitDisconnect(silent, 15_000);
      assert.equal(reason, 'io server disconnect', 'the silent socket was dropped');
      await sleep(2_000);
      assert.ok(heartbeats.length >= 4, `heartbeats kept coming (${heartbeats.length})`);
      assert.equal(client.status.state, 'connected');
      assert.ok(!client.seen.statuses.some((s) => s.state === 'disconnected'), 'never dropped');
      const answers = client.seen.outgoing.filter((o) => o.event === 'heartbeat_response');
      assert.ok(answers.length >= heartbeats.length, 'every heartbeat answered');
      assert.equal(answers[0].args[0].timestamp !== undefined, true);
      assert.ok(client.seen.outgoing.some((o) => o.event === 'pong'), 'ping answered with pong');
    } finally {
      client.close();
      silent.close();
    }
  });
});
