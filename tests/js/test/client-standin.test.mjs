// @lockstep/client against a tiny stand-in Socket.IO server (the `socket.io`
// package) that breaks the contract on purpose: the handshake carries the
// Bearer token, the profile and the contract version; a payload or ack that
// does not match the contract is reported through onViolation with the
// event and the path, and the client goes on working; validation can be
// switched off; an ack that never comes resolves TIMEOUT; an idempotent
// send is repeated with the same clientMessageId until acked.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { Server } from 'socket.io';

import { CONTRACT_VERSION, createClient, eventually, statusOf } from '../support/lockstep-client.mjs';

const T = { timeout: 30_000 };

const AUTHENTICATED = {
  user: { id: 'u-alice', username: 'alice', email: '', permissions: {} },
  profile: { profileid: 'p-alice', username: 'alice', displayname: 'Alice', avatar: '' },
  security: { riskScore: 0, deviceTrusted: true, deviceFingerprint: 'f' },
  session: { connectedAt: '2025-01-30T09:41:00Z', expiresAt: '2035-01-30T10:41:00Z' },
  contractVersion: CONTRACT_VERSION,
};

function message(seq, extra = {}) {
  return {
    message: {
      messageid: `m-${seq}`,
      chatid: 'chat-1',
      seq,
      senderid: 'p-bob',
      messageType: 'text',
      content: `message ${seq}`,
      attachments: [],
      mentions: [],
      timestamp: '2025-01-30T09:41:00.123Z',
      messageStatus: 'sent',
      reactions: [],
      ...extra,
    },
    chat: { chatid: 'chat-1', chatName: 'Chat', chatType: 'direct' },
    sender: { profileid: 'p-bob', username: 'bob', displayname: 'Bob', avatar: '' },
  };
}

describe('@lockstep/client against a stand-in server', () => {
  let http;
  let io;
  let url;
  /** What the current test's server does with a new socket. */
  let onSocket = () => {};

  before(async () => {
    http = createServer();
    io = new Server(http);
    io.on('connection', (socket) => onSocket(socket));
    await new Promise((done) => http.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${http.address().port}`;
  });
  after(async () => {
    io.close();
    await new Promise((done) => http.close(done));
  });

  function client(options = {}) {
    const made = createClient({ url, profileid: 'p-alice', token: 'tok-alice', ackTimeoutMs: 300, ...options, io: { transports: ['websocket'] } });
    made.violations = [];
    made.messages = [];
    made.onViolation((violation) => made.violations.push(violation));
    made.onMessage((m) => made.messages.push(m));
    return made;
  }

  test('the handshake carries the Bearer token, the profile and the contract version', T, async () => {
    const handshakes = [];
    onSocket = (socket) => {
      handshakes.push(socket.handshake);
      socket.emit('authenticated', AUTHENTICATED);
    };
    const alice = client();
    try {
      await statusOf(alice, 'connected');
      const [handshake] = handshakes;
      assert.equal(handshake.headers.authorization, 'Bearer tok-alice');
      assert.equal(handshake.auth.profileid, 'p-alice');
      assert.equal(handshake.auth.contractVersion, CONTRACT_VERSION);
      assert.ok(Math.abs(handshake.auth.timestamp - Date.now()) < 10_000, 'a fresh timestamp');
      assert.deepEqual(alice.violations, []);
    } finally {
      alice.close();
    }
  });

  test('a payload that breaks the contract is reported with its event and path, and the client carries on', T, async () => {
    onSocket = (socket) => {
      const { session, ...incomplete } = AUTHENTICATED;
      socket.emit('authenticated', incomplete);
      socket.emit('new_message', message('2'));
      socket.emit('user_typing', { chatid: 'chat-1', profileid: 'p-bob', username: 'bob', startedAt: 'yesterday' });
      socket.emit('not_in_the_contract', { x: 1 });
      socket.emit('auth_required', 'unexpected');
      socket.emit('new_message', message(1));
    };
    const alice = client();
    try {
      await eventually(() => alice.messages.length === 1, { what: 'the valid message' });
      assert.equal(alice.messages[0].seq, 1, 'the valid message came through; the broken one did not disturb the order');
      const found = alice.violations.map(({ event, path }) => `${event} ${path}`);
      for (const expected of [
        'authenticated /session',
        'new_message /message/seq',
        'user_typing /startedAt',
        'not_in_the_contract ',
        'auth_required ',
      ]) {
        assert.ok(found.includes(expected), `reported: ${expected} (got ${JSON.stringify(alice.violations)})`);
      }
      const seq = alice.violations.find((v) => v.path === '/message/seq');
      assert.match(seq.message, /integer/);
      assert.equal(alice.violations.find((v) => v.path === '/session').message, 'is required');
    } finally {
      alice.close();
    }
  });

  test('an ack that breaks the contract is reported as an ack violation and still resolves', T, async () => {
    onSocket = (socket) => {
      socket.emit('authenticated', AUTHENTICATED);
      socket.on('sync', (_payload, ack) => ack({ success: true, chats: [{ chatid: 'chat-1', messages: [] }] }));
    };
    const alice = client();
    try {
      const result = await alice.sync({ positions: [] });
      assert.equal(result.success, true);
      const violation = alice.violations.find((v) => v.ack);
      assert.deepEqual(violation, { event: 'sync', ack: true, path: '/chats/0/hasMore', message: 'is required' });
    } finally {
      alice.close();
    }
  });

  test('with validation off nothing is reported', T, async () => {
    onSocket = (socket) => {
      socket.emit('authenticated', {});
      socket.emit('new_message', message('2'));
      socket.emit('new_message', message(1));
    };
    const alice = client({ validate: false });
    try {
      await eventually(() => alice.messages.length === 1, { what: 'the valid message' });
      await statusOf(alice, 'connected');
      assert.deepEqual(alice.violations, []);
    } finally {
      alice.close();
    }
  });

  test('an ack that never comes resolves TIMEOUT', T, async () => {
    onSocket = (socket) => {
      socket.emit('authenticated', AUTHENTICATED);
      socket.on('initiate_call', () => {});
    };
    const alice = client();
    try {
      await statusOf(alice, 'connected');
      const started = Date.now();
      const result = await alice.initiateCall({ targetId: 'p-bob', callType: 'video' });
      assert.deepEqual([result.success, result.code], [false, 'TIMEOUT']);
      assert.ok(Date.now() - started >= 280);
      // Sends give up after `sendAttempts` attempts that all timed out.
      const send = await client({ sendAttempts: 2 });
      try {
        await statusOf(send, 'connected');
        const sent = await send.sendMessage({ chatid: 'chat-1', messageType: 'text', content: 'x' });
        assert.deepEqual([sent.success, sent.code], [false, 'TIMEOUT']);
        assert.match(sent.error, /2 attempts/);
      } finally {
        send.close();
      }
    } finally {
      alice.close();
    }
  });

  test('a send is repeated with the same clientMessageId until acked, in call order', T, async () => {
    const received = [];
    onSocket = (socket) => {
      socket.emit('authenticated', AUTHENTICATED);
      socket.on('send_message', (payload, ack) => {
        received.push(payload);
        // The first attempt of every message goes unanswered.
        if (received.filter((p) => p.clientMessageId === payload.clientMessageId).length < 2) return;
        const seq = new Set(received.map((p) => p.clientMessageId)).size;
        ack({ success: true, clientMessageId: payload.clientMessageId, serverMessageId: `s-${seq}`, seq, timestamp: '2025-01-30T09:41:00.123Z' });
      });
    };
    const alice = client();
    try {
      const results = await Promise.all(['one', 'two', 'three'].map((content) => alice.sendMessage({ chatid: 'chat-1', messageType: 'text', content })));
      assert.deepEqual(results.map((r) => r.success), [true, true, true]);
      assert.deepEqual(received.map((p) => p.content), ['one', 'one', 'two', 'two', 'three', 'three'], 'each twice, in order');
      for (let i = 0; i < received.length; i += 2) assert.equal(received[i].clientMessageId, received[i + 1].clientMessageId, 'the same id again');
      assert.deepEqual(alice.messages.map((m) => [m.seq, m.content, m.senderid]), [[1, 'one', 'p-alice'], [2, 'two', 'p-alice'], [3, 'three', 'p-alice']], 'own messages are handed over too');
    } finally {
      alice.close();
    }
  });
});
