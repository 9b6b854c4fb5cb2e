// @lockstep/client against the real binary: acked methods resolve to the
// contract's discriminated result (success or the server's refusal, never a
// rejection), fire-and-forget methods return nothing, typed `on` delivers
// server events, and a call that gets no answer resolves TIMEOUT or
// DISCONNECTED instead of hanging.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createChat, freePort, startServer, users } from '../support/index.mjs';
import { clientOf, createClient, statusOf } from '../support/lockstep-client.mjs';

const T = { timeout: 60_000 };

describe('@lockstep/client: results and timeouts', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'client-acks' });
  });
  after(async () => {
    await server?.stop();
  });

  test('acked methods resolve to the success branch with every field, refusals to the failure branch', T, async () => {
    const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
    const chatid = await createChat(server, alice, { participants: [bob] });
    const client = clientOf(server, alice);
    try {
      const sent = await client.sendMessage({ chatid, messageType: 'text', content: 'hello' });
      assert.equal(sent.success, true, JSON.stringify(sent));
      assert.match(sent.clientMessageId, /^c-[0-9a-f]{32}$/, 'the client made the clientMessageId');
      assert.equal(sent.seq, 1);
      assert.equal(typeof sent.serverMessageId, 'string');

      // A clientMessageId the application chose is kept.
      const own = await client.sendMessage({ chatid, clientMessageId: 'my-id-1', messageType: 'text', content: 'again' });
      assert.equal(own.success, true);
      assert.equal(own.clientMessageId, 'my-id-1');
      assert.equal(own.seq, 2);

      const synced = await client.sync({ positions: [{ chatid, seq: 0 }] });
      assert.equal(synced.success, true, JSON.stringify(synced));
      assert.deepEqual(synced.chats[0].messages.map((m) => m.content), ['hello', 'again']);

      // The server's refusals arrive as they are: success false, a contract code, a message.
      const outsider = clientOf(server, carol);
      try {
        const refused = await outsider.sendMessage({ chatid, messageType: 'text', content: 'let me in' });
        assert.equal(refused.success, false);
        assert.equal(refused.code, 'NOT_PARTICIPANT', JSON.stringify(refused));
        assert.equal(typeof refused.error, 'string');
        const call = await outsider.initiateCall({ targetId: bob.profileid, callType: 'voice' });
        assert.equal(call.success, false);
        assert.ok(['NO_SHARED_CHAT', 'RECEIVER_OFFLINE'].includes(call.code), JSON.stringify(call));
        const badSync = await outsider.sync({ positions: [{ chatid, seq: 0 }] });
        assert.deepEqual([badSync.success, badSync.code], [false, 'NOT_PARTICIPANT']);
      } finally {
        outsider.close();
      }
      assert.deepEqual(client.seen.violations, [], 'the real server keeps the contract');
    } finally {
      client.close();
    }
  });

  test('fire-and-forget methods return nothing; typed on/off deliver server events', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    const a = clientOf(server, alice);
    const b = clientOf(server, bob);
    try {
      await Promise.all([statusOf(a, 'connected'), statusOf(b, 'connected')]);
      const joined = new Promise((done) => a.on('chat_joined', done));
      assert.equal(a.joinChat({ chatid }), undefined);
      assert.equal((await joined).chatid, chatid);
      b.joinChat(chatid);

      const typing = [];
      const stop = a.on('user_typing', (payload) => typing.push(payload));
      b.typingStart({ chatid });
      await new Promise((done) => setTimeout(done, 500));
      assert.equal(typing.length, 1, 'user_typing arrived');
      assert.equal(typing[0].profileid, bob.profileid);
      stop();
      b.typingStop({ chatid });
      b.typingStart({ chatid });
      await new Promise((done) => setTimeout(done, 500));
      assert.equal(typing.length, 1, 'the unsubscribed listener heard nothing more');
    } finally {
      a.close();
      b.close();
    }
  });

  test('without a token the client relies on the accessToken cookie, as in a browser', T, async () => {
    const [alice] = await users(server, 'alice');
    // Node has no cookie jar: the header stands in for the browser's cookie.
    const client = clientOf(server, { ...alice, token: undefined }, { io: { extraHeaders: { cookie: `accessToken=${alice.token}` } } });
    try {
      await statusOf(client, 'connected');
      const synced = await client.sync({ positions: [] });
      assert.equal(synced.success, true);
    } finally {
      client.close();
    }
    const anonymous = clientOf(server, { ...alice, token: undefined });
    try {
      assert.equal((await statusOf(anonymous, 'refused')).code, 'AUTH_MISSING_TOKEN');
    } finally {
      anonymous.close();
    }
  });

  test('no answer: acked calls resolve TIMEOUT after ackTimeoutMs, never reject or hang', T, async () => {
    // Nothing listens on this port: the client keeps trying to connect.
    const port = await freePort();
    const client = createClient({ url: `http://127.0.0.1:${port}`, profileid: 'p-nobody', ackTimeoutMs: 300, io: { transports: ['websocket'] } });
    try {
      const started = Date.now();
      const [synced, call] = await Promise.all([
        client.sync({ positions: [] }),
        client.initiateCall({ targetId: 'p-x', callType: 'voice' }),
      ]);
      const took = Date.now() - started;
      assert.deepEqual([synced.success, synced.code], [false, 'TIMEOUT']);
      assert.deepEqual([call.success, call.code], [false, 'TIMEOUT']);
      assert.equal(typeof synced.error, 'string');
      assert.ok(took >= 250 && took < 3_000, `resolved after the timeout (${took} ms)`);
      assert.notEqual(client.status.state, 'connected');
    } finally {
      client.close();
    }
  });

  test('close() resolves every pending call DISCONNECTED, pending sends too', T, async () => {
    const port = await freePort();
    const client = createClient({ url: `http://127.0.0.1:${port}`, profileid: 'p-nobody', io: { transports: ['websocket'] } });
    const pending = [client.sync({ positions: [] }), client.sendMessage({ chatid: 'c', messageType: 'text', content: 'x' })];
    client.close();
    for (const result of await Promise.all(pending)) assert.deepEqual([result.success, result.code], [false, 'DISCONNECTED']);
    const late = await client.sync({ positions: [] });
    assert.equal(late.code, 'DISCONNECTED', 'a closed client answers at once');
    assert.equal(client.status.state, 'disconnected');
  });
});
