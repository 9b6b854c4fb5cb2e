// Issue 3, "Typing": typing_start / typing_stop -> user_typing /
// user_stopped_typing to the other participants, never the typer; an
// unstopped typing state expires by itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertErrorPayload,
  assertIso,
  assertRecent,
  closeAll,
  createChat,
  databases,
  joinChat,
  sleep,
  startServer,
  uid,
  users,
} from '../support/index.mjs';

const T = { timeout: 60_000 };

/** alice, bob and carol in one chat, every socket in its room; alice has two sockets. */
async function room(server) {
  const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
  const chatid = await createChat(server, alice, { participants: [bob, carol] });
  const a1 = await alice.socket({ label: 'alice#1 (typer)' });
  const a2 = await alice.socket({ label: "alice#2 (typer's other device)" });
  const b = await bob.socket();
  const c = await carol.socket();
  for (const socket of [a1, a2, b, c]) await joinChat(socket, chatid);
  return { alice, bob, carol, chatid, a1, a2, b, c, all: [a1, a2, b, c] };
}

for (const db of await databases()) {
  describe(`typing [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'typing' });
    });
    after(async () => {
      await server?.stop();
    });

    test('typing_start -> the others get user_typing, the typer never; typing_stop -> user_stopped_typing', T, async () => {
      const r = await room(server);
      try {
        r.a1.emit('typing_start', { chatid: r.chatid });
        for (const socket of [r.b, r.c]) {
          const typing = await socket.inbox.take('user_typing');
          assert.deepEqual(Object.keys(typing).sort(), ['chatid', 'profileid', 'startedAt', 'username']);
          assert.equal(typing.chatid, r.chatid);
          assert.equal(typing.profileid, r.alice.profileid);
          assert.equal(typing.username, r.alice.username);
          assertRecent(assertIso(typing.startedAt, 'startedAt'), 'startedAt');
        }
        r.a1.emit('typing_stop', { chatid: r.chatid });
        for (const socket of [r.b, r.c]) {
          const stopped = await socket.inbox.take('user_stopped_typing');
          assert.deepEqual(stopped, { chatid: r.chatid, profileid: r.alice.profileid, username: r.alice.username });
        }
        await sleep(500);
        for (const socket of [r.a1, r.a2]) {
          await socket.inbox.expectNone('user_typing', 0, () => true, 'the typer never sees their own typing');
          await socket.inbox.expectNone('user_stopped_typing', 0);
        }
        // exactly one each
        await r.b.inbox.expectNone('user_typing', 0);
        await r.b.inbox.expectNone('user_stopped_typing', 0);
      } finally {
        await closeAll(r.all);
      }
    });

    test('the bare chatid string works for typing_start and typing_stop', T, async () => {
      const r = await room(server);
      try {
        r.b.emit('typing_start', r.chatid);
        assert.equal((await r.a1.inbox.take('user_typing')).profileid, r.bob.profileid);
        r.b.emit('typing_stop', r.chatid);
        assert.equal((await r.a1.inbox.take('user_stopped_typing')).profileid, r.bob.profileid);
      } finally {
        await closeAll(r.all);
      }
    });

    test('without typing_stop, user_stopped_typing arrives by itself after about 5 s', { timeout: 30_000 }, async () => {
      const r = await room(server);
      try {
        const started = Date.now();
        r.a1.emit('typing_start', { chatid: r.chatid });
        await r.b.inbox.take('user_typing');
        const item = await r.b.inbox.takeItem('user_stopped_typing', { timeout: 12_000 });
        const elapsed = item.at - started;
        assert.ok(elapsed >= 4_000, `the typing state lasted ${elapsed} ms, not about 5 s`);
        assert.ok(elapsed <= 8_000, `the typing state expired after ${elapsed} ms, not about 5 s`);
        assert.deepEqual(item.data, { chatid: r.chatid, profileid: r.alice.profileid, username: r.alice.username });
        await r.a1.inbox.expectNone('user_stopped_typing', 0);
        await r.c.inbox.take('user_stopped_typing', { timeout: 2_000 });
      } finally {
        await closeAll(r.all);
      }
    });

    test('a client that keeps typing re-sends typing_start and stays typing', { timeout: 30_000 }, async () => {
      const r = await room(server);
      try {
        const started = Date.now();
        r.a1.emit('typing_start', { chatid: r.chatid });
        await r.b.inbox.take('user_typing');
        await sleep(3_000);
        r.a1.emit('typing_start', { chatid: r.chatid });
        // the renewed state lasts until about started + 3 s + 5 s
        await r.b.inbox.expectNone('user_stopped_typing', Math.max(0, started + 6_500 - Date.now()), () => true, 'renewed by the second typing_start');
        const item = await r.b.inbox.takeItem('user_stopped_typing', { timeout: 8_000 });
        assert.ok(item.at - started <= 12_000, `expired ${item.at - started} ms after the first start`);
      } finally {
        await closeAll(r.all);
      }
    });

    test('typing refusals: NOT_PARTICIPANT, CHAT_NOT_FOUND (chat_error), bad payload (error VALIDATION_ERROR)', T, async () => {
      const r = await room(server);
      const [eve] = await users(server, 'eve');
      const e = await eve.socket();
      try {
        e.emit('typing_start', { chatid: r.chatid });
        let error = await e.inbox.take('chat_error');
        assertErrorPayload(error, 'NOT_PARTICIPANT', 'chat_error');
        assert.equal(error.chatid, r.chatid);
        await r.b.inbox.expectNone('user_typing', 800, () => true, 'an outsider cannot type into the chat');

        e.emit('typing_stop', { chatid: r.chatid });
        assertErrorPayload(await e.inbox.take('chat_error'), 'NOT_PARTICIPANT', 'chat_error for typing_stop');

        const unknown = uid('no-such-chat');
        r.a1.emit('typing_start', { chatid: unknown });
        error = await r.a1.inbox.take('chat_error');
        assertErrorPayload(error, 'CHAT_NOT_FOUND', 'chat_error');
        assert.equal(error.chatid, unknown);

        for (const [event, payload] of [['typing_start', {}], ['typing_start', 5], ['typing_stop', { chat: r.chatid }]]) {
          r.a1.emit(event, payload);
          error = await r.a1.inbox.take('error', { what: `error for ${event}(${JSON.stringify(payload)})` });
          assertErrorPayload(error, 'VALIDATION_ERROR', 'error');
          assert.equal(error.event, event);
        }
        assert.ok(r.a1.connected && e.connected);
      } finally {
        await closeAll(r.all, e);
      }
    });
  });
}
