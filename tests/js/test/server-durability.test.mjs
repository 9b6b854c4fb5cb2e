// Issue 3, "Shutdown" / "Nothing acknowledged is ever lost, kill -9
// included": kill -9 the server during a stream of sends, start it again on
// the same database, and find every acknowledged message in history exactly
// once; retries of the unacknowledged ones then complete without duplicates.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  closeAll,
  createChat,
  databases,
  emitAck,
  fullHistory,
  sleep,
  startServer,
  streamSends,
  users,
} from '../support/index.mjs';

for (const db of await databases()) {
  describe(`durability [${db.name}]`, { skip: db.skip }, () => {
    let server;
    before(async () => {
      // Not about the rate limit: let the stream run at full speed.
      server = await startServer({ database: db.name, name: 'durability', args: ['--message-rate', '10000'] });
    });
    after(async () => {
      await server?.stop();
    });

    test('kill -9 during a stream of sends: every acknowledged message is in history exactly once', { timeout: 120_000 }, async (t) => {
      const [alice, bob] = await users(server, 'alice', 'bob');
      const chatid = await createChat(server, alice, { participants: [bob] });
      const senders = [await alice.socket({ label: 'alice#1' }), await alice.socket({ label: 'alice#2' })];
      const b = await bob.socket();

      const stream = streamSends(senders, chatid, { everyMs: 3 });
      // let some acks come back, then crash in the middle of the stream
      const deadline = Date.now() + 10_000;
      while (stream.results.filter((r) => r?.success === true).length < 50 && Date.now() < deadline) await sleep(20);
      await sleep(150);
      const killed = await server.kill9();
      assert.equal(killed.signal, 'SIGKILL');
      await stream.stop();
      await stream.settled();

      const acked = stream.payloads
        .map((payload, i) => ({ payload, ack: stream.results[i] }))
        .filter(({ ack }) => ack && !(ack instanceof Error) && ack.success === true);
      const unacked = stream.payloads.filter((_, i) => !(stream.results[i]?.success === true));
      for (const [i, result] of stream.results.entries()) {
        if (result && !(result instanceof Error) && result.success !== true) {
          assert.fail(`send #${i} was refused before the crash: ${JSON.stringify(result)}`);
        }
      }
      assert.ok(acked.length >= 50, `the stream got ${acked.length} acks before the crash`);
      assert.ok(unacked.length >= 1, 'the crash interrupted the stream (some sends got no ack)');

      await server.restart();
      const history = await fullHistory(server, bob.token, chatid, { limit: 100 });
      const count = new Map();
      for (const message of history) count.set(message.messageid, (count.get(message.messageid) ?? 0) + 1);
      t.diagnostic(`${stream.payloads.length} sent, ${acked.length} acked before kill -9, ${unacked.length} unacked, ${history.length} in history after restart`);
      const lost = acked.filter(({ ack }) => count.get(ack.serverMessageId) !== 1);
      assert.deepEqual(
        lost.map(({ payload, ack }) => `${payload.content} ${ack.serverMessageId} x${count.get(ack.serverMessageId) ?? 0}`),
        [],
        `acknowledged messages missing or duplicated after kill -9 (${acked.length} acked, ${history.length} in history)`,
      );
      const perClientId = new Map();
      for (const message of history) perClientId.set(message.clientMessageId, (perClientId.get(message.clientMessageId) ?? 0) + 1);
      assert.deepEqual([...perClientId].filter(([, n]) => n !== 1), [], 'no clientMessageId is stored twice');

      // The client retries every send that got no ack: each completes, once.
      const [r1] = [await alice.socket({ label: 'alice#after' })];
      try {
        for (const payload of unacked) {
          const ack = await emitAck(r1, 'send_message', payload, 15_000);
          assert.equal(ack.success, true, `retry of ${payload.content}: ${JSON.stringify(ack)}`);
          assert.equal(ack.clientMessageId, payload.clientMessageId);
        }
        const final = await fullHistory(server, bob.token, chatid, { limit: 100 });
        assert.equal(final.length, stream.payloads.length, 'every send is stored exactly once after the retries');
        assert.deepEqual(
          new Set(final.map((m) => m.clientMessageId)),
          new Set(stream.payloads.map((p) => p.clientMessageId)),
        );
        // and the acked ones kept their ids
        const ids = new Set(final.map((m) => m.messageid));
        for (const { ack } of acked) assert.ok(ids.has(ack.serverMessageId));
      } finally {
        await closeAll(r1, b, senders);
      }
    });
  });
}
