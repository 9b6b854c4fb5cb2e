// The server ends an answered call at its maximum duration (3 hours by
// contract; --call-max-duration shortens it here): call_ended with
// endedBy "system", reason "timeout", and the call recorded as ended.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, closeAll, createChat, emitAck, newUser, startServer } from '../support/index.mjs';

let server;
before(async () => {
  server = await startServer({ name: 'call-cap', args: ['--call-max-duration', '2'] });
});
after(async () => server?.stop());

test('an answered call past --call-max-duration is ended by the system', async () => {
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
    for (const socket of [a, b]) {
      const ended = await socket.inbox.take('call_ended', { timeout: 8_000 });
      assert.equal(ended.callId, ack.callId);
      assert.equal(ended.endedBy, 'system');
      assert.equal(ended.reason, 'timeout');
      assert.ok(ended.duration >= 1 && ended.duration <= 4, `duration ${ended.duration}`);
    }
    const history = await api(server, alice.token, 'GET', '/api/calls');
    const record = history.body.calls.find((c) => c.callId === ack.callId);
    assert.equal(record.status, 'ended');
    assert.equal(record.endReason, 'timeout');
    assert.equal(record.endedBy, 'system');
  } finally {
    await closeAll(a, b);
  }
});
