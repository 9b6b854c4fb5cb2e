// The payload validators @lockstep/client ships (generated/client, emitted as
// plain functions by codegen/src/client.rs from the bundled JSON Schema):
// every example of the contract passes, each keyword the contract uses
// catches what it forbids with the right path, and the event maps cover the
// manifest exactly. Also the generated method table.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';

import { readGenerated, readManifest, REPO_ROOT } from '../support/contract.mjs';

const dist = (name) => import(pathToFileURL(join(REPO_ROOT, 'client', 'dist', name)).href);
const { ACKS, DEFINITIONS, SERVER_EVENTS } = await dist('validators.js');
const { CLIENT_METHODS, CONTRACT_VERSION, EVENTS } = await dist('methods.js');

const bundle = JSON.parse(readGenerated('schema/contract.bundle.json'));
const manifest = readManifest();

function violations(def, value) {
  const found = [];
  DEFINITIONS[def](value, '', found);
  return found;
}

const paths = (def, value) => violations(def, value).map((v) => v.path);
const clone = (value) => structuredClone(value);

describe('generated validators', () => {
  test('every example of every definition the client validates passes', () => {
    let checked = 0;
    for (const [name, validate] of Object.entries(DEFINITIONS)) {
      for (const example of bundle.$defs[name]?.examples ?? []) {
        const found = [];
        validate(example, '', found);
        assert.deepEqual(found, [], `${name} example ${JSON.stringify(example)}`);
        checked += 1;
      }
    }
    assert.ok(checked > 40, `checked ${checked} examples`);
  });

  test('each keyword catches what it forbids, with a JSON Pointer to it', () => {
    const newMessage = bundle.$defs.NewMessage.examples[0];
    assert.deepEqual(paths('NewMessage', newMessage), []);
    const wrong = clone(newMessage);
    wrong.message.seq = 0; // minimum 1
    wrong.message.timestamp = 'yesterday'; // format date-time
    wrong.message.messageStatus = 'lost'; // enum
    wrong.message.extra = true; // additionalProperties: false
    delete wrong.sender; // required
    wrong.message.mentions = [1]; // items
    assert.deepEqual(paths('NewMessage', wrong).sort(), ['/message/extra', '/message/mentions/0', '/message/messageStatus', '/message/seq', '/message/timestamp', '/sender'].sort());

    assert.deepEqual(paths('Id', ''), ['']); // minLength
    assert.deepEqual(paths('Id', '€'.repeat(128)), [], 'lengths count characters, not bytes');
    assert.deepEqual(paths('Id', 'x'.repeat(129)), ['']); // maxLength
    assert.deepEqual(paths('Seq', 1.5), [''], 'integer');
    assert.deepEqual(paths('Seq', 2 ** 53), [''], 'maximum');
    assert.deepEqual(paths('Seq', '1'), [''], 'type');
    const attachment = { type: 'image', url: 'ftp://x/a.png', name: 'a.png', size: 1, mimetype: 'text/html' };
    assert.deepEqual(paths('Attachment', attachment).sort(), ['/mimetype', '/url'], 'pattern');
    assert.deepEqual(paths('Attachment', { ...attachment, url: 'https://x/a.png', mimetype: 'image/png' }), []);
    assert.deepEqual(paths('Attachment', { ...attachment, url: 'https:// spaces', mimetype: 'image/png' }), ['/url'], 'format uri');

    // oneOf: exactly one branch; the closest branch's violations are reported.
    assert.deepEqual(paths('ChatRef', 'chat-1'), []);
    assert.deepEqual(paths('ChatRef', { chatid: 'chat-1' }), []);
    assert.deepEqual(paths('ChatRef', { chatid: '' }), ['/chatid']);
    assert.deepEqual(paths('SyncAck', { success: true, chats: [] }), []);
    assert.deepEqual(paths('SyncAck', { success: false, code: 'RATE_LIMITED', error: 'slow down', retryAfter: 0.5 }), []);
    assert.deepEqual(paths('SyncAck', { success: false, code: 'NOPE', error: 'x' }), ['/code']);
    // const
    assert.ok(violations('SendMessageAccepted', { success: false, clientMessageId: 'c', serverMessageId: 's', seq: 1, timestamp: '2025-01-30T09:41:00Z' }).some((v) => v.path === '/success' && /true/.test(v.message)));
  });

  test('every server event has its payload validator (null: no payload), every acked client event its ack validator', () => {
    const server = [...new Set(manifest.events.filter((e) => e.direction === 'server_to_client').map((e) => e.name))].sort();
    assert.deepEqual(Object.keys(SERVER_EVENTS).sort(), server);
    for (const event of manifest.events.filter((e) => e.direction === 'server_to_client')) {
      assert.equal(SERVER_EVENTS[event.name] === null, event.payload === undefined, event.name);
    }
    const acked = manifest.events.filter((e) => e.direction === 'client_to_server' && e.ack).map((e) => e.name).sort();
    assert.deepEqual(Object.keys(ACKS).sort(), acked);
  });

  test('the method table: one camelCase method per client event (aliases left out), send_message idempotent by clientMessageId', () => {
    const client = manifest.events.filter((e) => e.direction === 'client_to_server' && !e.aliasOf);
    assert.deepEqual(CLIENT_METHODS.map((m) => m.event), client.map((e) => e.name));
    for (const spec of CLIENT_METHODS) {
      const event = client.find((e) => e.name === spec.event);
      assert.equal(spec.method, spec.event.replace(/_([a-z])/g, (_, c) => c.toUpperCase()));
      assert.equal(spec.acked, Boolean(event.ack), spec.event);
    }
    assert.deepEqual(CLIENT_METHODS.filter((m) => m.idKey).map((m) => [m.event, m.idKey]), [['send_message', 'clientMessageId']]);
    assert.equal(CONTRACT_VERSION, manifest.version);
    assert.equal(EVENTS.SEND_MESSAGE, 'send_message');
  });
});
