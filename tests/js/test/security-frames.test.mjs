// Raw engine.io / socket.io frames a real client never sends: malformed
// packets, unknown namespaces, binary attachments, frames past the size
// limit (128 KB). The server closes (or refuses) that connection cleanly
// and keeps serving everyone else.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import { createChat, emitAck, newUser, sleep, startServer } from '../support/index.mjs';

/** A raw engine.io v4 WebSocket: resolves once the open packet arrived. */
function rawSocket(server, { cookie } = {}) {
  const url = `ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`;
  const ws = new WebSocket(url, { headers: cookie ? { Cookie: cookie } : {} });
  const frames = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? data : data.toString();
    if (text === '2') ws.send('3'); // engine.io ping
    frames.push(text);
    for (const waiter of [...waiters]) waiter();
  });
  const closed = new Promise((done) => ws.on('close', (code) => done(code)));
  ws.on('error', () => {});
  const opened = new Promise((done, fail) => {
    ws.once('message', (data) => (data.toString().startsWith('0') ? done() : fail(new Error(`no open packet: ${data}`))));
    ws.once('error', fail);
  });
  return {
    ws,
    frames,
    closed,
    opened,
    /** Waits for a frame matching `match`, or null after `ms`. */
    async frame(match, ms = 3_000) {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const hit = frames.find((f) => typeof f === 'string' && match(f));
        if (hit) return hit;
        await Promise.race([new Promise((done) => waiters.push(done)), sleep(50)]);
      }
      return null;
    },
    async closesWithin(ms = 5_000) {
      return Promise.race([closed.then(() => true), sleep(ms).then(() => false)]);
    },
  };
}

describe('hostile frames', () => {
  let server;
  let alice;
  let chatid;
  let witness;
  before(async () => {
    server = await startServer({ name: 'frames' });
    alice = await newUser(server, 'alice');
    chatid = await createChat(server, alice, { participants: [] });
    witness = await alice.socket();
  });
  after(async () => {
    witness?.close();
    await server?.stop();
  });

  /** Everyone else is still served after each attack. */
  async function stillServing(label) {
    const ack = await emitAck(witness, 'send_message', { chatid, clientMessageId: `w-${label}-${Date.now()}`, messageType: 'text', content: label });
    assert.equal(ack.success, true, `${label}: the server still serves others`);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  }

  test('bytes that are not an engine.io packet close that connection only', async () => {
    const raw = rawSocket(server);
    await raw.opened;
    raw.ws.send('this is not engine.io');
    assert.ok(await raw.closesWithin(), 'the connection is closed');
    await stillServing('garbage');
  });

  test('a socket.io event with malformed JSON closes that connection only', async () => {
    const raw = rawSocket(server);
    await raw.opened;
    raw.ws.send('40{"profileid":"x","timestamp":1}');
    raw.ws.send('42["send_message",{"chatid":');
    assert.ok(await raw.closesWithin(), 'the connection is closed');
    await stillServing('malformed');
  });

  test('an unknown namespace is refused with connect_error and the connection survives', async () => {
    const raw = rawSocket(server);
    await raw.opened;
    raw.ws.send('40/admin,{"profileid":"x","timestamp":1}');
    const refusal = await raw.frame((f) => f.startsWith('44/admin'));
    assert.ok(refusal, `connect_error for /admin, got ${JSON.stringify(raw.frames)}`);
    raw.ws.close();
    await stillServing('namespace');
  });

  test('an event before the namespace is joined, and a binary attachment, do not crash anything', async () => {
    const raw = rawSocket(server, { cookie: `accessToken=${alice.token}` });
    await raw.opened;
    raw.ws.send('42["send_message",{"chatid":"x"}]'); // no CONNECT yet
    await sleep(200);
    const second = rawSocket(server, { cookie: `accessToken=${alice.token}` });
    await second.opened;
    second.ws.send(`40{"profileid":"${alice.profileid}","timestamp":1}`);
    assert.ok(await second.frame((f) => f.startsWith('42["authenticated"')), 'authenticated');
    // A binary event: the placeholder packet, then the attachment.
    second.ws.send('451-["join_chat",{"_placeholder":true,"num":0}]');
    second.ws.send(Buffer.from([1, 2, 3, 4]));
    const answer = await second.frame((f) => f.includes('VALIDATION_ERROR') || f.startsWith('42["chat_error"'), 3_000);
    assert.ok(answer, `a binary payload gets a refusal, got ${JSON.stringify(second.frames.filter((f) => typeof f === 'string'))}`);
    raw.ws.close();
    second.ws.close();
    await stillServing('binary');
  });

  test('a WebSocket frame past the 128 KB limit closes that connection before it is parsed; nothing stored; nobody else notices', async () => {
    const raw = rawSocket(server, { cookie: `accessToken=${alice.token}` });
    await raw.opened;
    raw.ws.send(`40{"profileid":"${alice.profileid}","timestamp":1}`);
    await raw.frame((f) => f.startsWith('42["authenticated"'));
    // Just under the limit is served: the limit is the frame, not the content rule.
    raw.ws.send(`42["send_message",{"chatid":"${chatid}","clientMessageId":"near","messageType":"text","content":"${'x'.repeat(120_000)}"}]`);
    assert.ok(
      await raw.frame((f) => f.startsWith('42["error"') && f.includes('CONTENT_TOO_LARGE')),
      'a 120 KB frame is read and answered (here: the content is too large, reported as `error` without an ack callback)',
    );
    assert.equal(await raw.closesWithin(300), false, 'and the connection stays open');
    raw.ws.send(`42["send_message",{"chatid":"${chatid}","clientMessageId":"big","messageType":"text","content":"${'x'.repeat(300_000)}"}]`);
    assert.ok(await raw.closesWithin(3_000), 'the connection is closed');
    await stillServing('oversized');
    const history = await fetch(`${server.url}/api/chats/${chatid}/messages?limit=100`, { headers: { Authorization: `Bearer ${alice.token}` } });
    const body = await history.json();
    assert.ok(!body.messages.some((m) => m.clientMessageId === 'big'), 'the oversized message was not stored');
  });

  test('a long-polling body past the 128 KB limit is refused with 413; nothing stored', async () => {
    const base = `${server.url}/socket.io/?EIO=4&transport=polling`;
    const headers = { Cookie: `accessToken=${alice.token}` };
    const open = await (await fetch(base, { headers })).text();
    const { sid } = JSON.parse(open.slice(1));
    const url = `${base}&sid=${sid}`;
    const post = (body) => fetch(url, { method: 'POST', headers: { ...headers, 'Content-Type': 'text/plain;charset=UTF-8' }, body });
    assert.equal((await post(`40{"profileid":"${alice.profileid}","timestamp":1}`)).status, 200);
    const big = `42["send_message",{"chatid":"${chatid}","clientMessageId":"big-polling","messageType":"text","content":"${'x'.repeat(300_000)}"}]`;
    assert.equal((await post(big)).status, 413, 'Payload Too Large');
    await stillServing('oversized-polling');
    const history = await fetch(`${server.url}/api/chats/${chatid}/messages?limit=100`, { headers: { Authorization: `Bearer ${alice.token}` } });
    const body = await history.json();
    assert.ok(!body.messages.some((m) => m.clientMessageId === 'big-polling'), 'the oversized message was not stored');
  });

  test('a flood of connections that never finish the handshake leaves the server serving', async () => {
    const raws = [];
    for (let i = 0; i < 50; i += 1) raws.push(rawSocket(server));
    await Promise.all(raws.map((r) => r.opened));
    await stillServing('half-open');
    for (const r of raws) r.ws.terminate();
  });
});
