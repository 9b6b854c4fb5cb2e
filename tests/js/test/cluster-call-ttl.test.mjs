// In cluster mode a live call's state lives in Redis with a TTL, so a node
// that dies mid-call leaves nothing behind for good. That TTL must outlast
// the longest call the deployment allows: with --call-max-duration of 5 h
// (above the contract's 3 h, and above the old fixed 3 h + 1 h TTL), the
// call's keys must still be there when the call may still be going.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { LIMITS } from '../../../generated/ts/index.js';
import { closeAll, createChat, emitAck, newUser, startServer } from '../support/index.mjs';

const REDIS_URL = process.env.LOCKSTEP_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const MAX_DURATION_SECONDS = 5 * 60 * 60;

/** Sends one command to Redis (RESP) and resolves with the first reply line. */
function redis(...args) {
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((done, fail) => {
    const socket = net.connect(Number(port || 6379), hostname);
    let reply = '';
    socket.setTimeout(2_000, () => {
      socket.destroy();
      fail(new Error('Redis timed out'));
    });
    socket.on('error', fail);
    socket.on('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
    });
    socket.on('data', (data) => {
      reply += data.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        done(reply.split('\r\n')[0]);
      }
    });
  });
}

const skip = await redis('PING').then(
  (reply) => (reply === '+PONG' ? false : `Redis answered ${reply}`),
  (error) => `Redis: ${error.message}`,
);
if (skip && process.env.CI) throw new Error(`this test needs Redis in CI (${skip})`);

/** The remaining TTL of `key` in seconds (Redis PTTL). */
async function ttlSeconds(key) {
  const reply = await redis('PTTL', key);
  assert.match(reply, /^:\d+$/, `PTTL ${key}: ${reply}`);
  return Number(reply.slice(1)) / 1000;
}

describe('a live call in Redis outlives the configured maximum duration', { skip }, () => {
  let server;
  before(async () => {
    server = await startServer({
      name: 'call-ttl',
      args: ['--redis-url', REDIS_URL, '--call-max-duration', String(MAX_DURATION_SECONDS)],
    });
  });
  after(async () => server?.stop());

  test(`--call-max-duration ${MAX_DURATION_SECONDS}: the call's keys live longer than ring timeout + maximum duration`, { timeout: 60_000 }, async () => {
    assert.ok(MAX_DURATION_SECONDS > LIMITS.callMaxDurationSeconds + 3600, 'longer than the default and the old fixed TTL');
    const [alice, bob] = await Promise.all([newUser(server, 'alice'), newUser(server, 'bob')]);
    await createChat(server, alice, { chatType: 'direct', participants: [bob.profileid] });
    const a = await alice.socket();
    const b = await bob.socket();
    try {
      const ack = await emitAck(a, 'initiate_call', { targetId: bob.profileid, callType: 'voice' });
      assert.equal(ack.success, true, JSON.stringify(ack));
      await b.inbox.take('incoming_call');
      b.emit('answer_call', { callId: ack.callId, acceptsVideo: false });
      await a.inbox.take('call_answered');

      const lifetime = LIMITS.ringTimeoutSeconds + MAX_DURATION_SECONDS;
      for (const key of [`lockstep:call:${ack.callId}`, `lockstep:incall:${alice.profileid}`, `lockstep:incall:${bob.profileid}`]) {
        const ttl = await ttlSeconds(key);
        assert.ok(ttl > lifetime, `${key} expires in ${ttl} s, before the call may end (${lifetime} s)`);
      }

      a.emit('end_call', { callId: ack.callId });
      await b.inbox.take('call_ended');
      assert.equal(await redis('EXISTS', `lockstep:call:${ack.callId}`), ':0', 'an ended call leaves nothing in Redis');
    } finally {
      await closeAll(a, b);
    }
  });
});
