// Delivery receipts that mean delivered (issue 23): a recipient whose socket
// stops reading fills its send queue; the `new_message`s dropped from then
// on are not reported delivered (`message_sent.deliveredTo`,
// `message_delivered`) until the device fetches them with `sync`, which
// reports each once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { closeAll, createChat, emitAck, newUser, sendPaced, sleep, startServer } from '../support/index.mjs';

/** Each with a direct chat with bob, so the flood reaches bob alone. */
const SENDERS = 30;
const CONTENT = 'x'.repeat(10_000);
/**
 * Long enough to fill the kernel's buffers and the 1,024-packet queue (a few
 * MB/s), short enough that engine.io's ping timeout (about 45 s without an
 * answer) has not closed bob's stalled connection yet.
 */
const FLOOD_BOUND_MS = 25_000;

describe('a dropped live emit is not reported as delivered', () => {
  let server;
  before(async () => {
    // Heartbeats far apart and no byte cap on the send queue: the stalled
    // client is not dropped during the test, so its queue fills and drops
    // emits (the byte cap, which drops the whole socket instead, is
    // security-exhaustion's).
    server = await startServer({
      name: 'delivery',
      args: ['--heartbeat-interval', '60', '--heartbeat-max-misses', '3', '--max-send-buffer-bytes', '0'],
    });
  });
  after(async () => {
    await server?.stop();
  });

  test('flooding a socket that stopped reading: messages it dropped are delivered only by sync, once each', { timeout: 120_000 }, async () => {
    const bob = await newUser(server, 'bob');
    const senders = [];
    for (let i = 0; i < SENDERS; i += 1) senders.push(await newUser(server, `s${i}`));
    const chats = [];
    for (const sender of senders) chats.push(await createChat(server, sender, { chatType: 'direct', participants: [bob] }));
    const senderSockets = [];
    for (const sender of senders) senderSockets.push(await sender.socket());
    const { socket: b, inbox: bobInbox } = await bob.connect();
    try {
      // Bob's client stops reading: the server's writes to it pile up.
      const transport = b.io.engine.transport;
      assert.equal(transport.name, 'websocket');
      transport.ws._socket.pause();

      const acks = [];
      const notDelivered = [];
      const started = Date.now();
      let dropped = false;
      await Promise.all(
        senderSockets.map(async (socket, i) => {
          while (!dropped && Date.now() - started < FLOOD_BOUND_MS) {
            const ack = await sendPaced(socket, chats[i], CONTENT);
            acks.push({ ack, socket });
            const sent = await socket.inbox.take('message_sent', { where: (d) => d.serverMessageId === ack.serverMessageId, timeout: 15_000 });
            if (!sent.deliveredTo.includes(bob.profileid)) {
              notDelivered.push(ack);
              if (notDelivered.length >= 5) dropped = true;
            }
          }
        }),
      );
      assert.ok(dropped, `bob's socket dropped live messages within ${FLOOD_BOUND_MS} ms (${acks.length} sent)`);
      const droppedIds = new Set(notDelivered.map((ack) => ack.serverMessageId));
      // None of them was reported delivered to bob.
      await sleep(500);
      for (const socket of senderSockets) {
        const wrong = socket.inbox.seen('message_delivered', (d) => d.deliveredTo === bob.profileid && droppedIds.has(d.messageid));
        assert.deepEqual(wrong, [], 'no message_delivered for a dropped emit');
      }

      // Bob reads again: what was queued arrives, the dropped ones do not.
      transport.ws._socket.resume();
      await sleep(3_000);
      assert.ok(b.connected, 'bob is still connected');
      const live = new Set(bobInbox.seen('new_message').map((m) => m.message.messageid));
      for (const ack of notDelivered) assert.equal(live.has(ack.serverMessageId), false, `${ack.serverMessageId} was dropped, not sent late`);

      // Sync fills the gaps; every dropped message is then reported delivered, once.
      const synced = await emitAck(b, 'sync', { positions: [], limit: 500 }, 30_000);
      assert.equal(synced.success, true, JSON.stringify(synced).slice(0, 300));
      const fetched = synced.chats.flatMap((c) => c.messages.map((m) => m.messageid));
      assert.deepEqual(fetched.sort(), acks.map(({ ack }) => ack.serverMessageId).sort(), 'sync returns every message');
      await sleep(1_000);
      const receipts = senderSockets.flatMap((socket) =>
        socket.inbox.seen('message_delivered', (d) => d.deliveredTo === bob.profileid),
      );
      const counts = new Map();
      for (const receipt of receipts) counts.set(receipt.messageid, (counts.get(receipt.messageid) ?? 0) + 1);
      for (const ack of notDelivered) {
        assert.equal(counts.get(ack.serverMessageId), 1, `dropped ${ack.serverMessageId}: reported delivered once, by sync`);
      }
      for (const [messageid, count] of counts) assert.equal(count, 1, `${messageid} reported once`);
      const bySync = receipts.filter((r) => droppedIds.has(r.messageid));
      assert.ok(bySync.every((r) => r.isOfflineDelivery === true), 'reported as fetched, not live');
    } finally {
      await closeAll(b, ...senderSockets);
    }
  });
});
