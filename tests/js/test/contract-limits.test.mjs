// The contract's limits, as the generated package exports them (LIMITS from
// generated/ts/index.js, not literals), probed against the real server with
// its defaults: each at the limit (served) and one past it (refused with the
// contract's code). The server reads the same numbers from the generated
// Rust crate, so a limit changed in the manifest moves both sides.
//
// Probed here: content size in bytes (ASCII and multi-byte: one limit, one
// code), the send_message and initiate_call rates, sockets per user, the
// offline queue cap, the typing timeout, the ring timeout and the heartbeat
// interval (the last two concurrently, about a minute of waiting). The
// maximum call duration (hours) is too long to wait out at its default;
// server-call-duration tests it with the flag, and the unanswered-heartbeat
// drop is tested with flags in server-ops and security-limits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { CONTRACT_VERSION, ERROR_CODES, EVENTS, LIMITS } from '../../../generated/ts/index.js';
import {
  closeAll,
  cmid,
  connect,
  createChat,
  emitAck,
  sendPaced,
  sleep,
  startServer,
  users,
  utf8OfBytes,
} from '../support/index.mjs';
import { readManifest } from '../support/contract.mjs';

const T = { timeout: 120_000 };

/** Sends one message and returns its ack. */
function send(socket, chatid, content) {
  return emitAck(socket, EVENTS.SEND_MESSAGE, { chatid, clientMessageId: cmid(), messageType: 'text', content });
}

function assertRefused(ack, code, what) {
  assert.equal(ack?.success, false, `${what}: refused, got ${JSON.stringify(ack)}`);
  assert.equal(ack.code, code, `${what}: ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error, 'string');
}

test('the runtime constants are the manifest', () => {
  const manifest = readManifest();
  assert.equal(CONTRACT_VERSION, manifest.version);
  for (const [key, value] of Object.entries(manifest.limits)) assert.equal(LIMITS[key], value, key);
  const send = manifest.events.find((e) => e.name === 'send_message');
  assert.equal(LIMITS.contentMaxBytes, send.limits.contentMaxBytes);
  for (const event of manifest.events.filter((e) => e.limits?.rate)) {
    assert.deepEqual({ ...LIMITS.rates[event.name] }, event.limits.rate, event.name);
  }
  assert.ok(Object.isFrozen(LIMITS) && Object.isFrozen(LIMITS.rates));
  for (const event of manifest.events) assert.ok(Object.values(EVENTS).includes(event.name), event.name);
  assert.equal(ERROR_CODES.CONTENT_TOO_LARGE, 'CONTENT_TOO_LARGE');
});

describe('the server enforces the limits of the generated package', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'contract-limits' });
  });
  after(async () => {
    await server?.stop();
  });

  test('content: contentMaxBytes bytes are stored, one byte more is CONTENT_TOO_LARGE, counted in bytes whatever the characters', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    const a = await alice.socket();
    try {
      const max = LIMITS.contentMaxBytes;
      assert.equal((await sendPaced(a, chatid, 'x'.repeat(max))).success, true, `${max} ASCII bytes`);
      assert.equal((await sendPaced(a, chatid, utf8OfBytes(max))).success, true, `${max} bytes of 3-byte characters`);
      await sleep(1_100);
      // One past, as ASCII (as many characters as bytes) and as multi-byte
      // text (far fewer characters): the same code either way.
      assertRefused(await send(a, chatid, 'x'.repeat(max + 1)), ERROR_CODES.CONTENT_TOO_LARGE, `${max + 1} ASCII bytes`);
      const multiByte = utf8OfBytes(max + 1);
      assert.ok(multiByte.length < max, 'fewer characters than the limit');
      assertRefused(await send(a, chatid, multiByte), ERROR_CODES.CONTENT_TOO_LARGE, `${max + 1} bytes of 3-byte characters`);
      assertRefused(await send(a, chatid, 'x'.repeat(max * 4)), ERROR_CODES.CONTENT_TOO_LARGE, 'far past the limit');
    } finally {
      await closeAll(a);
    }
  });

  test('send_message: the rate count within its period is served, one more is RATE_LIMITED with retryAfter', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    const a = await alice.socket();
    try {
      const { count, periodSeconds } = LIMITS.rates.send_message;
      // A burst, sent together so it falls within one period.
      const acks = await Promise.all(Array.from({ length: count + 1 }, (_, i) => send(a, chatid, `burst ${i}`)));
      const served = acks.filter((ack) => ack.success);
      const limited = acks.filter((ack) => !ack.success);
      assert.equal(served.length, count, `${count} served: ${JSON.stringify(acks)}`);
      assert.equal(limited.length, 1);
      assertRefused(limited[0], ERROR_CODES.RATE_LIMITED, 'one past the rate');
      assert.ok(limited[0].retryAfter > 0 && limited[0].retryAfter <= periodSeconds, `retryAfter: ${limited[0].retryAfter}`);
      assert.equal(typeof limited[0].clientMessageId, 'string', 'the refusal echoes clientMessageId');
    } finally {
      await closeAll(a);
    }
  });

  test('initiate_call: the rate count within its period is served, one more is RATE_LIMITED', T, async () => {
    const [alice, ...others] = await users(server, 'alice', ...Array.from({ length: LIMITS.rates.initiate_call.count + 1 }, (_, i) => `callee${i}`));
    await createChat(server, alice, { participants: others });
    const a = await alice.socket();
    // Callees must be online to be rung.
    const rung = await Promise.all(others.map((callee) => callee.socket()));
    try {
      const { count } = LIMITS.rates.initiate_call;
      for (let i = 0; i < count; i += 1) {
        const ack = await emitAck(a, EVENTS.INITIATE_CALL, { targetId: others[i].profileid, callType: 'voice' });
        assert.equal(ack.success, true, `call ${i + 1}: ${JSON.stringify(ack)}`);
        // End it, so the caller is free for the next one.
        a.emit(EVENTS.END_CALL, { callId: ack.callId });
        await a.inbox.take(EVENTS.CALL_ENDED, { where: (d) => d.callId === ack.callId });
      }
      const ack = await emitAck(a, EVENTS.INITIATE_CALL, { targetId: others[count].profileid, callType: 'voice' });
      assertRefused(ack, ERROR_CODES.RATE_LIMITED, `call ${count + 1}`);
      assert.ok(ack.retryAfter > 0, `retryAfter: ${ack.retryAfter}`);
    } finally {
      await closeAll(a, ...rung);
    }
  });

  test('socketsPerUser sockets connect, one more gets auth_error TOO_MANY_CONNECTIONS', T, async () => {
    const [erin] = await users(server, 'erin');
    const sockets = [];
    try {
      for (let i = 0; i < LIMITS.socketsPerUser; i += 1) sockets.push(await erin.socket({ label: `erin#${i + 1}` }));
      const { socket, authError } = await connect(server, { profileid: erin.profileid, token: erin.token, waitFor: 'auth_error' });
      sockets.push(socket);
      assert.equal(authError.error, ERROR_CODES.TOO_MANY_CONNECTIONS);
    } finally {
      await closeAll(...sockets);
    }
  });

  test('offline queue: offlineQueueMaxMessages are replayed, the one before them is dropped from the queue', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    const a = await alice.socket();
    try {
      const cap = LIMITS.offlineQueueMaxMessages;
      const acks = [];
      for (let i = 0; i <= cap; i += 1) acks.push(await sendPaced(a, chatid, `queued ${i}`));
      const { socket, inbox } = await bob.connect();
      try {
        const summary = await inbox.take(EVENTS.OFFLINE_MESSAGES_DELIVERED, { timeout: 20_000 });
        assert.equal(summary.total, cap);
        const replayed = inbox.all(EVENTS.NEW_MESSAGE).map((item) => item.data.message.messageid);
        assert.deepEqual(replayed, acks.slice(1).map((ack) => ack.serverMessageId), 'the newest `cap` messages, oldest first');
      } finally {
        await closeAll(socket);
      }
    } finally {
      await closeAll(a);
    }
  });

  test('typing: the indicator lasts typingTimeoutSeconds without typing_stop, then user_stopped_typing', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    const a = await alice.socket();
    const b = await bob.socket();
    try {
      for (const socket of [a, b]) {
        socket.emit(EVENTS.JOIN_CHAT, { chatid });
        await socket.inbox.take(EVENTS.CHAT_JOINED, { where: (d) => d.chatid === chatid });
      }
      const timeoutMs = LIMITS.typingTimeoutSeconds * 1000;
      a.emit(EVENTS.TYPING_START, { chatid });
      await b.inbox.take(EVENTS.USER_TYPING, { where: (d) => d.chatid === chatid });
      const started = Date.now();
      // Still typing just before the limit…
      await b.inbox.expectNone(EVENTS.USER_STOPPED_TYPING, timeoutMs - 500);
      // …and stopped soon after it.
      await b.inbox.take(EVENTS.USER_STOPPED_TYPING, { timeout: 3_000, where: (d) => d.chatid === chatid });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= timeoutMs - 500 && elapsed <= timeoutMs + 3_000, `stopped after ${elapsed} ms`);
    } finally {
      await closeAll(a, b);
    }
  });
});

describe('the time limits of the generated package, at their defaults', { concurrency: true }, () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'contract-time-limits' });
  });
  after(async () => {
    await server?.stop();
  });

  test('ringTimeoutSeconds: an unanswered call still rings just before it, and is call_missed just after', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    await createChat(server, alice, { chatType: 'direct', participants: [bob] });
    const a = await alice.socket();
    const b = await bob.socket();
    try {
      const ack = await emitAck(a, EVENTS.INITIATE_CALL, { targetId: bob.profileid, callType: 'voice' });
      assert.equal(ack.success, true, JSON.stringify(ack));
      const started = Date.now();
      await b.inbox.take(EVENTS.INCOMING_CALL, { where: (d) => d.callId === ack.callId });
      const ringMs = LIMITS.ringTimeoutSeconds * 1000;
      await a.inbox.expectNone(EVENTS.CALL_MISSED, ringMs - 1_000 - (Date.now() - started));
      const missed = await a.inbox.take(EVENTS.CALL_MISSED, { timeout: 5_000, where: (d) => d.callId === ack.callId });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= ringMs - 1_000 && elapsed <= ringMs + 5_000, `call_missed after ${elapsed} ms`);
      assert.equal(missed.callId, ack.callId);
    } finally {
      await closeAll(a, b);
    }
  });

  test('heartbeatIntervalSeconds: two heartbeats in a row are one interval apart', T, async () => {
    const [carol] = await users(server, 'carol');
    const c = await carol.socket();
    try {
      const intervalMs = LIMITS.heartbeatIntervalSeconds * 1000;
      const beat = await c.inbox.take(EVENTS.HEARTBEAT, { timeout: intervalMs + 5_000 });
      const first = Date.now();
      c.emit(EVENTS.HEARTBEAT_RESPONSE, { timestamp: beat.timestamp, clientTime: new Date().toISOString() });
      await c.inbox.take(EVENTS.HEARTBEAT, { timeout: intervalMs + 5_000 });
      const gap = Date.now() - first;
      assert.ok(gap >= intervalMs - 1_000 && gap <= intervalMs + 3_000, `heartbeats ${gap} ms apart`);
    } finally {
      await closeAll(c);
    }
  });
});
