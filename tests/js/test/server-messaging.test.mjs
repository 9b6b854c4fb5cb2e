// Issue 3, "Messaging" and "Limits and errors": send_message's ack,
// new_message on every socket of every participant, message_sent and
// message_delivered, replies, idempotent retries (also concurrent), order,
// every refusal code, and the rate limit; no ack says success for a message
// that is not in history.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  addParticipant,
  assertAckFailure,
  assertAckedInHistory,
  assertIso,
  assertMessageShape,
  assertRecent,
  closeAll,
  cmid,
  createChat,
  databases,
  emitAck,
  fullHistory,
  joinChat,
  newUser,
  recordAck,
  sendMessage,
  sendOk,
  sendPaced,
  sleep,
  startServer,
  uid,
  users,
  utf8OfBytes,
} from '../support/index.mjs';

const T = { timeout: 60_000 };

/**
 * Sends a payload expected to be refused with `code`; waits out RATE_LIMITED
 * (a refusal test is not about the rate limit). Returns the ack.
 */
async function expectRefusal(socket, payload, code) {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const ack = await emitAck(socket, 'send_message', payload, 15_000);
    recordAck(socket, payload, ack);
    if (ack?.code === 'RATE_LIMITED' && code !== 'RATE_LIMITED') {
      await sleep(Math.max(100, Math.ceil((ack.retryAfter ?? 0.2) * 1000)));
      continue;
    }
    if (code === null) {
      assert.equal(ack?.success, false, `refused: ${JSON.stringify(ack)}`);
      return ack;
    }
    const echo = payload && typeof payload === 'object' && typeof payload.clientMessageId === 'string' && payload.clientMessageId !== '' ? payload.clientMessageId : undefined;
    assertAckFailure(ack, code, echo);
    return ack;
  }
  throw new Error('stayed rate limited');
}

const newMessageFor = (ack) => (data) => data?.message?.messageid === ack.serverMessageId;

for (const db of await databases()) {
  describe(`messaging [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      server = await startServer({ database: db.name, name: 'messaging' });
    });
    after(async () => {
      try {
        if (server) await assertAckedInHistory(server);
      } finally {
        await server?.stop();
      }
    });

    test('ack, new_message on every socket of every participant, message_sent and message_delivered', T, async () => {
      const [alice, bob, carol, dave] = await users(server, 'alice', 'bob', 'carol', 'dave');
      const chatid = await createChat(server, alice, { chatName: 'Everyone', participants: [bob, carol, dave] });
      const a1 = await alice.socket({ label: 'alice#1' });
      const a2 = await alice.socket({ label: 'alice#2 (not in room)' });
      const b1 = await bob.socket({ label: 'bob#1' });
      const b2 = await bob.socket({ label: 'bob#2 (never joined)' });
      const c1 = await carol.socket({ label: 'carol (never joined)' });
      // dave stays offline
      try {
        await joinChat(a1, chatid);
        await joinChat(b1, chatid);

        const before = Date.now();
        const { ack, clientMessageId } = await sendMessage(a1, chatid, 'hello @bob', { mentions: [bob.profileid] });
        assert.equal(ack.success, true, JSON.stringify(ack));
        assert.equal(ack.clientMessageId, clientMessageId);
        assert.equal(typeof ack.serverMessageId, 'string');
        assert.ok(ack.serverMessageId.length > 0);
        const stamped = assertIso(ack.timestamp, 'ack.timestamp');
        assert.ok(stamped >= before - 2_000 && stamped <= Date.now() + 2_000, 'the ack timestamp is the server clock at send');
        assert.ok(Number.isInteger(ack.seq) && ack.seq >= 1, `ack.seq is the message's number in the chat: ${ack.seq}`);
        for (const key of Object.keys(ack)) {
          assert.ok(['success', 'clientMessageId', 'serverMessageId', 'seq', 'timestamp'].includes(key), `unexpected ack field ${key}`);
        }

        for (const socket of [b1, b2, c1, a2]) {
          const event = await socket.inbox.take('new_message', { where: newMessageFor(ack) });
          assert.deepEqual(Object.keys(event).sort().filter((k) => !['isOfflineDelivery'].includes(k)), ['chat', 'message', 'sender']);
          assert.notEqual(event.isOfflineDelivery, true, 'a live message is not an offline delivery');
          assert.deepEqual(event.message, {
            messageid: ack.serverMessageId,
            chatid,
            seq: ack.seq,
            senderid: alice.profileid,
            clientMessageId,
            messageType: 'text',
            content: 'hello @bob',
            attachments: [],
            mentions: [bob.profileid],
            timestamp: event.message.timestamp,
            messageStatus: 'sent',
            reactions: [],
          });
          assert.equal(assertIso(event.message.timestamp), stamped, 'new_message carries the stored timestamp');
          assert.deepEqual(event.chat, { chatid, chatName: 'Everyone', chatType: 'group' });
          assert.deepEqual(event.sender, {
            profileid: alice.profileid,
            username: alice.username,
            displayname: alice.displayname,
            avatar: '',
          });
        }

        const sent = await a1.inbox.take('message_sent', { where: (d) => d.clientMessageId === clientMessageId });
        assert.deepEqual(
          { ...sent, deliveredTo: [...sent.deliveredTo].sort() },
          {
            clientMessageId,
            serverMessageId: ack.serverMessageId,
            chatid,
            seq: ack.seq,
            timestamp: sent.timestamp,
            status: 'sent',
            deliveredTo: [bob.profileid, carol.profileid].sort(),
          },
          'message_sent: deliveredTo is the online recipients (not offline dave, not the sender)',
        );
        assertIso(sent.timestamp, 'message_sent.timestamp');
        await a2.inbox.take('message_sent', { where: (d) => d.clientMessageId === clientMessageId, what: "message_sent on the sender's other socket" });

        for (const recipient of [bob, carol]) {
          const delivered = await a1.inbox.take('message_delivered', {
            where: (d) => d.messageid === ack.serverMessageId && d.deliveredTo === recipient.profileid,
            what: `message_delivered for ${recipient.username}`,
          });
          assert.equal(delivered.clientMessageId ?? clientMessageId, clientMessageId);
          if (delivered.chatid !== undefined) assert.equal(delivered.chatid, chatid);
          assertRecent(assertIso(delivered.deliveredAt, 'deliveredAt'), 'deliveredAt');
          assert.notEqual(delivered.isOfflineDelivery, true);
        }

        // exactly once everywhere; nothing for the offline participant; recipients get no sender events
        await sleep(1_000);
        for (const socket of [b1, b2, c1, a2]) await socket.inbox.expectNone('new_message', 0, newMessageFor(ack), 'one copy per socket');
        await a1.inbox.expectNone('message_delivered', 0, (d) => d.messageid === ack.serverMessageId, 'one per recipient, none for offline dave');
        for (const socket of [b1, b2, c1]) await socket.inbox.expectNone('message_sent', 0);
        for (const socket of [b1, b2, c1]) await socket.inbox.expectNone('message_delivered', 0);
        void dave;
      } finally {
        await closeAll(a1, a2, b1, b2, c1);
      }
    });

    test('attachments and message types travel through; the stored message is in history', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const attachment = { type: 'image', url: 'https://cdn.example.test/a.png', name: 'a.png', size: 2048, mimetype: 'image/png' };
        const ack = await sendOk(a, chatid, '', { messageType: 'image', attachments: [attachment] });
        const event = await b.inbox.take('new_message', { where: newMessageFor(ack) });
        assert.equal(event.message.messageType, 'image');
        assert.deepEqual(event.message.attachments, [attachment]);
        const [stored] = await fullHistory(server, bob.token, chatid);
        assertMessageShape(stored, { messageid: ack.serverMessageId, messageType: 'image', attachments: [attachment], content: '' });
      } finally {
        await closeAll(a, b);
      }
    });

    test("the sender's profile in new_message comes from their token claims (live and offline)", T, async () => {
      const alice = await newUser(server, 'alice', { displayname: 'Alice Liddell', avatar: 'https://cdn.example.test/alice.png' });
      const [bob, carol] = await users(server, 'bob', 'carol');
      const chatid = await createChat(server, alice, { participants: [bob, carol] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const ack = await sendOk(a, chatid, 'who am I?');
        const expected = { profileid: alice.profileid, username: alice.username, displayname: 'Alice Liddell', avatar: 'https://cdn.example.test/alice.png' };
        assert.deepEqual((await b.inbox.take('new_message', { where: newMessageFor(ack) })).sender, expected);
        const c = await carol.connect();
        const queued = await c.inbox.take('new_message', { where: newMessageFor(ack) });
        assert.deepEqual(queued.sender, expected, 'the offline copy carries the same profile');
        await closeAll(c.socket);
      } finally {
        await closeAll(a, b);
      }
    });

    test('replyTo is resolved to the full message replied to', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const original = await sendOk(b, chatid, 'the original');
        const reply = await sendOk(a, chatid, 'the reply', { replyTo: original.serverMessageId });
        const event = await b.inbox.take('new_message', { where: newMessageFor(reply) });
        assert.deepEqual(event.message.replyTo, {
          messageid: original.serverMessageId,
          chatid,
          senderid: bob.profileid,
          messageType: 'text',
          content: 'the original',
          timestamp: original.timestamp,
        });
        // a reply to a reply is resolved one level deep
        const second = await sendOk(b, chatid, 'reply to the reply', { replyTo: reply.serverMessageId });
        const nested = await a.inbox.take('new_message', { where: newMessageFor(second) });
        assert.equal(nested.message.replyTo.messageid, reply.serverMessageId);
        assert.equal(nested.message.replyTo.content, 'the reply');
        assert.equal(typeof nested.message.replyTo.replyTo, 'undefined', 'replyTo is not resolved further');
      } finally {
        await closeAll(a, b);
      }
    });

    test('a retry with the same clientMessageId returns the same serverMessageId and broadcasts nothing', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const payload = { chatid, clientMessageId: cmid(), messageType: 'text', content: 'only once' };
        const first = await emitAck(a, 'send_message', payload);
        recordAck(a, payload, first);
        assert.equal(first.success, true, JSON.stringify(first));
        await b.inbox.take('new_message', { where: newMessageFor(first) });
        await a.inbox.take('message_delivered', { where: (d) => d.messageid === first.serverMessageId });

        const retry = await emitAck(a, 'send_message', payload);
        assert.equal(retry.success, true, JSON.stringify(retry));
        assert.equal(retry.serverMessageId, first.serverMessageId, 'the retry returns the first serverMessageId');
        assert.equal(retry.clientMessageId, payload.clientMessageId);
        // a retry from another socket of the same user too
        const other = await alice.socket();
        const fromOther = await emitAck(other, 'send_message', payload);
        assert.equal(fromOther.serverMessageId, first.serverMessageId);
        await closeAll(other);

        await b.inbox.expectNone('new_message', 1_500, () => true, 'a retry broadcasts nothing');
        await a.inbox.expectNone('message_delivered', 0, () => true, 'a retry is not delivered again');
        const stored = (await fullHistory(server, alice.token, chatid)).filter((m) => m.clientMessageId === payload.clientMessageId);
        assert.equal(stored.length, 1, 'one stored message');
      } finally {
        await closeAll(a, b);
      }
    });

    test('10 concurrent retries of one clientMessageId -> one stored message, one serverMessageId, one broadcast', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const payload = { chatid, clientMessageId: cmid(), messageType: 'text', content: 'raced' };
        const acks = await Promise.all(Array.from({ length: 10 }, () => emitAck(a, 'send_message', payload)));
        for (const ack of acks) recordAck(a, payload, ack);
        for (const ack of acks) assert.equal(ack.success, true, `every retry is acked: ${JSON.stringify(acks)}`);
        const ids = new Set(acks.map((ack) => ack.serverMessageId));
        assert.equal(ids.size, 1, `one serverMessageId: ${[...ids]}`);

        const stored = (await fullHistory(server, bob.token, chatid)).filter((m) => m.clientMessageId === payload.clientMessageId);
        assert.equal(stored.length, 1, 'one stored message');
        assert.equal(stored[0].messageid, acks[0].serverMessageId);
        await b.inbox.take('new_message', { where: newMessageFor(acks[0]) });
        await b.inbox.expectNone('new_message', 1_500, () => true, 'one broadcast');
      } finally {
        await closeAll(a, b);
      }
    });

    test('the same clientMessageId from two different users makes two messages', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const clientMessageId = cmid();
        const fromAlice = await sendOk(a, chatid, 'from alice', { clientMessageId });
        const fromBob = await sendOk(b, chatid, 'from bob', { clientMessageId });
        assert.notEqual(fromAlice.serverMessageId, fromBob.serverMessageId, 'idempotency is per sender');
      } finally {
        await closeAll(a, b);
      }
    });

    test('refusals: NOT_PARTICIPANT, CHAT_NOT_FOUND, CONTENT_TOO_LARGE, INVALID_REPLY, INVALID_MENTION, FORBIDDEN', T, async () => {
      const [alice, bob, eve] = await users(server, 'alice', 'bob', 'eve');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const elsewhere = await createChat(server, alice, { participants: [eve] });
      const channel = await createChat(server, alice, { chatType: 'channel', chatName: 'News', participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      const e = await eve.socket();
      try {
        const foreign = await sendOk(a, elsewhere, 'in another chat');
        const text = (content, extra = {}) => ({ chatid, clientMessageId: cmid(), messageType: 'text', content, ...extra });

        await expectRefusal(e, text('let me in'), 'NOT_PARTICIPANT');
        await expectRefusal(a, { ...text('nowhere'), chatid: uid('no-such-chat') }, 'CHAT_NOT_FOUND');

        const tooLarge = utf8OfBytes(10_241);
        assert.ok(tooLarge.length < 10_240, 'under the character limit, over the byte limit');
        await expectRefusal(a, text(tooLarge), 'CONTENT_TOO_LARGE');
        // over the schema's character bound too: refused either by the decoder or by the byte check
        const ascii = text('x'.repeat(10_241));
        const asciiAck = await expectRefusal(a, ascii, null);
        assert.ok(['CONTENT_TOO_LARGE', 'VALIDATION_ERROR'].includes(asciiAck.code), `10241 ASCII characters: ${JSON.stringify(asciiAck)}`);
        const atLimit = await sendPaced(a, chatid, utf8OfBytes(10_240));
        assert.equal(atLimit.success, true, 'exactly 10240 bytes is accepted');

        await expectRefusal(a, text('re: other chat', { replyTo: foreign.serverMessageId }), 'INVALID_REPLY');
        await expectRefusal(a, text('re: nothing', { replyTo: uid('no-such-message') }), 'INVALID_REPLY');
        await expectRefusal(a, text('hi @eve', { mentions: [eve.profileid] }), 'INVALID_MENTION');
        await expectRefusal(a, text('hi @ghost', { mentions: [bob.profileid, uid('ghost')] }), 'INVALID_MENTION');

        await expectRefusal(b, { ...text('member speaks'), chatid: channel }, 'FORBIDDEN');
        const ownerSpeaks = await sendPaced(a, channel, 'owner speaks');
        assert.equal(ownerSpeaks.success, true);
        // a channel admin may send
        const r = await addParticipant(server, alice, channel, eve, 'admin');
        assert.ok(r.status >= 200 && r.status < 300, `add admin: ${r.status} ${r.text}`);
        assert.equal((await sendPaced(e, channel, 'admin speaks')).success, true);

        // none of the refused messages reached anyone or history
        const refusedContent = new Set(['let me in', 'nowhere', tooLarge, 're: other chat', 're: nothing', 'hi @eve', 'hi @ghost', 'member speaks']);
        await b.inbox.expectNone('new_message', 500, (d) => refusedContent.has(d.message.content));
        const stored = [...(await fullHistory(server, alice.token, chatid)), ...(await fullHistory(server, alice.token, channel))];
        assert.deepEqual(stored.filter((m) => refusedContent.has(m.content)), [], 'no refused message was stored');
        for (const socket of [a, b, e]) assert.ok(socket.connected, 'refusals do not disconnect');
      } finally {
        await closeAll(a, b, e);
      }
    });

    test('bad payloads -> ack VALIDATION_ERROR; the socket stays connected', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const base = () => ({ chatid, clientMessageId: cmid(), messageType: 'text', content: 'ok' });
        const bad = [
          (() => { const p = base(); delete p.clientMessageId; return p; })(),
          (() => { const p = base(); delete p.chatid; return p; })(),
          (() => { const p = base(); delete p.content; return p; })(),
          { ...base(), clientMessageId: '' },
          { ...base(), messageType: 'sticker' },
          { ...base(), content: 42 },
          { ...base(), mentions: 'bob' },
          { ...base(), replyTo: '' },
          { ...base(), surprise: true },
          { ...base(), attachments: [{ type: 'file', url: 'ftp://example.test/x', name: 'x', size: 1, mimetype: 'text/plain' }] },
          { ...base(), attachments: [{ type: 'video', url: 'https://example.test/v', name: 'v', size: 52_428_801, mimetype: 'video/mp4' }] },
          { ...base(), attachments: Array.from({ length: 11 }, (_, i) => ({ type: 'file', url: `https://e.test/${i}`, name: `${i}`, size: 1, mimetype: 'text/plain' })) },
          'just a string',
          42,
          null,
        ];
        // every payload is checked before failing, so one report lists every deviation
        const problems = [];
        for (const payload of bad) {
          const ack = await expectRefusal(a, payload, null).catch((error) => ({ thrown: error.message }));
          const label = JSON.stringify(payload)?.slice(0, 160);
          if (ack.thrown || ack.success !== false || ack.code !== 'VALIDATION_ERROR' || typeof ack.error !== 'string') {
            problems.push(`${label}: expected { success: false, code: VALIDATION_ERROR, error }, got ${JSON.stringify(ack)}`);
            continue;
          }
          const carried = payload && typeof payload === 'object' && typeof payload.clientMessageId === 'string' && payload.clientMessageId !== '';
          if (carried && ack.clientMessageId !== payload.clientMessageId) {
            problems.push(`${label}: the ack does not echo the clientMessageId the request carried: ${JSON.stringify(ack)}`);
          }
        }
        assert.deepEqual(problems, [], `send_message validation refusals:\n${problems.join('\n')}`);
        await b.inbox.expectNone('new_message', 500);
        assert.ok(a.connected, 'bad input does not disconnect');
        assert.equal((await sendPaced(a, chatid, 'still works')).success, true);
        // the client-supplied timestamp is accepted and ignored
        const ack = await sendPaced(a, chatid, 'from the past', { timestamp: '2001-01-01T00:00:00Z' });
        assertRecent(assertIso(ack.timestamp), 'the server clock decides the timestamp');
      } finally {
        await closeAll(a, b);
      }
    });

    test('rate limit: 15 sends in a burst -> RATE_LIMITED acks with retryAfter and a rate_limited event', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const a = await alice.socket();
      const b = await bob.socket();
      try {
        const payloads = Array.from({ length: 15 }, (_, i) => ({ chatid, clientMessageId: cmid(), messageType: 'text', content: `burst ${i}` }));
        const acks = await Promise.all(payloads.map((payload) => emitAck(a, 'send_message', payload)));
        payloads.forEach((payload, i) => recordAck(a, payload, acks[i]));
        const ok = acks.filter((ack) => ack.success === true);
        const limited = acks.filter((ack) => ack.code === 'RATE_LIMITED');
        assert.equal(ok.length + limited.length, 15, `every ack is a success or RATE_LIMITED: ${JSON.stringify(acks)}`);
        assert.ok(limited.length >= 4, `at least 4 of 15 are limited (10/s): ${ok.length} succeeded`);
        assert.ok(ok.length >= 1, 'the first ones pass');
        for (const [i, ack] of acks.entries()) {
          if (ack.code !== 'RATE_LIMITED') continue;
          assertAckFailure(ack, 'RATE_LIMITED', payloads[i].clientMessageId);
          assert.equal(typeof ack.retryAfter, 'number', `retryAfter: ${JSON.stringify(ack)}`);
          assert.ok(ack.retryAfter > 0 && ack.retryAfter <= 1, `0 < retryAfter <= 1 s: ${ack.retryAfter}`);
        }
        const event = await a.inbox.take('rate_limited');
        assert.equal(event.error, 'rate_limited');
        assert.equal(typeof event.message, 'string');
        assert.ok(typeof event.retryAfter === 'number' && event.retryAfter > 0, `rate_limited.retryAfter: ${JSON.stringify(event)}`);
        if (event.event !== undefined) assert.equal(event.event, 'send_message');

        // only the accepted ones were broadcast and stored
        await sleep(1_000);
        const received = b.inbox.seen('new_message', (d) => d.message.chatid === chatid).map((d) => d.message.messageid).sort();
        assert.deepEqual(received, ok.map((ack) => ack.serverMessageId).sort(), 'bob got exactly the accepted messages');
        const stored = await fullHistory(server, alice.token, chatid);
        assert.deepEqual(stored.map((m) => m.messageid).sort(), ok.map((ack) => ack.serverMessageId).sort(), 'history has exactly the accepted messages');

        // after waiting, sending works again; a limited message may be retried with its clientMessageId
        const retryAfter = Math.max(...limited.map((ack) => ack.retryAfter));
        await sleep(Math.ceil(retryAfter * 1000) + 100);
        const index = acks.findIndex((ack) => ack.code === 'RATE_LIMITED');
        const retried = await emitAck(a, 'send_message', payloads[index]);
        recordAck(a, payloads[index], retried);
        assert.equal(retried.success, true, `after retryAfter the retry passes: ${JSON.stringify(retried)}`);
        assert.ok(a.connected);
      } finally {
        await closeAll(a, b);
      }
    });

    test('the rate limit is per user, across all of their sockets', T, async () => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const sockets = [await alice.socket(), await alice.socket(), await alice.socket()];
      const b = await bob.socket();
      try {
        const payloads = Array.from({ length: 15 }, (_, i) => ({ chatid, clientMessageId: cmid(), messageType: 'text', content: `spread ${i}` }));
        const acks = await Promise.all(payloads.map((payload, i) => emitAck(sockets[i % 3], 'send_message', payload)));
        payloads.forEach((payload, i) => recordAck(sockets[i % 3], payload, acks[i]));
        assert.ok(acks.filter((ack) => ack.code === 'RATE_LIMITED').length >= 4, `limited across sockets: ${JSON.stringify(acks.map((a) => a.code ?? 'ok'))}`);
        // bob is not limited by alice's burst
        assert.equal((await sendMessage(b, chatid, 'bob is fine')).ack.success, true);
      } finally {
        await closeAll(sockets, b);
      }
    });
  });

  describe(`messaging order [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      // The rate limit is not what this suite is about: raise it so 20 sends can go back-to-back.
      server = await startServer({ database: db.name, name: 'ordering', args: ['--message-rate', '1000'] });
    });
    after(async () => {
      try {
        if (server) await assertAckedInHistory(server);
      } finally {
        await server?.stop();
      }
    });

    test('20 messages sent back-to-back without awaiting acks arrive in order and are stored in order', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { participants: [bob, carol] });
      const a = await alice.socket();
      const b = await bob.socket();
      const c = await carol.socket();
      try {
        await joinChat(b, chatid);
        const payloads = Array.from({ length: 20 }, (_, i) => ({ chatid, clientMessageId: cmid(), messageType: 'text', content: `#${i}` }));
        const pending = payloads.map((payload) => emitAck(a, 'send_message', payload, 20_000));
        const acks = await Promise.all(pending);
        payloads.forEach((payload, i) => recordAck(a, payload, acks[i]));
        for (const ack of acks) assert.equal(ack.success, true, JSON.stringify(ack));
        const expected = payloads.map((p) => p.content);

        for (const socket of [b, c]) {
          const received = await socket.inbox.takeN('new_message', 20, { where: (d) => d.message.chatid === chatid, timeout: 15_000 });
          assert.deepEqual(received.map((d) => d.message.content), expected, `${socket.inbox.label} receives them in send order`);
        }
        const stored = (await fullHistory(server, bob.token, chatid)).reverse();
        assert.deepEqual(stored.map((m) => m.content), expected, 'history (oldest first) is in send order');
        const stamps = stored.map((m) => Date.parse(m.timestamp));
        for (let i = 1; i < stamps.length; i += 1) assert.ok(stamps[i] >= stamps[i - 1], 'timestamps do not go backwards');
      } finally {
        await closeAll(a, b, c);
      }
    });

    test('two senders streaming at once: each sender\'s messages stay in order for every recipient', T, async () => {
      const [alice, bob, carol] = await users(server, 'alice', 'bob', 'carol');
      const chatid = await createChat(server, alice, { participants: [bob, carol] });
      const a = await alice.socket();
      const b = await bob.socket();
      const c = await carol.socket();
      try {
        const mk = (who) => Array.from({ length: 15 }, (_, i) => ({ chatid, clientMessageId: cmid(), messageType: 'text', content: `${who}${i}` }));
        const fromA = mk('a');
        const fromB = mk('b');
        const acks = await Promise.all([...fromA.map((p) => emitAck(a, 'send_message', p, 20_000)), ...fromB.map((p) => emitAck(b, 'send_message', p, 20_000))]);
        [...fromA, ...fromB].forEach((payload, i) => recordAck(i < 15 ? a : b, payload, acks[i]));
        for (const ack of acks) assert.equal(ack.success, true, JSON.stringify(ack));
        const received = await c.inbox.takeN('new_message', 30, { where: (d) => d.message.chatid === chatid, timeout: 15_000 });
        const contents = received.map((d) => d.message.content);
        assert.deepEqual(contents.filter((x) => x.startsWith('a')), fromA.map((p) => p.content));
        assert.deepEqual(contents.filter((x) => x.startsWith('b')), fromB.map((p) => p.content));
        const stored = (await fullHistory(server, carol.token, chatid)).reverse().map((m) => m.content);
        assert.deepEqual(stored.filter((x) => x.startsWith('a')), fromA.map((p) => p.content));
        assert.deepEqual(stored.filter((x) => x.startsWith('b')), fromB.map((p) => p.content));
      } finally {
        await closeAll(a, b, c);
      }
    });
  });
}
