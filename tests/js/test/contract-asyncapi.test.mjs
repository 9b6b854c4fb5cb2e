// generated/docs/asyncapi.json is a valid AsyncAPI 3.0.0 document: it parses
// with @asyncapi/parser without error diagnostics, and it covers the manifest
// (every event a message and an operation, every ack an operation reply).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { DiagnosticSeverity, Parser } from '@asyncapi/parser';

import { readGenerated, readManifest } from '../support/contract.mjs';

const manifest = readManifest();
let source;
let parsed;

before(async () => {
  source = readGenerated('docs/asyncapi.json');
  parsed = await new Parser().parse(source, { source: 'generated/docs/asyncapi.json' });
});

const describeDiagnostic = (d) => `${d.code} at /${d.path.join('/')}: ${d.message}`;

test('parses with no error diagnostics', () => {
  const errors = parsed.diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  assert.deepEqual(errors.map(describeDiagnostic), []);
  assert.ok(parsed.document, 'the parser returned a document');
});

test('is AsyncAPI 3.0.0 with the manifest version', () => {
  const raw = JSON.parse(source);
  assert.equal(raw.asyncapi, '3.0.0');
  assert.equal(parsed.document.info().version(), manifest.version);
  assert.equal(parsed.document.info().title(), manifest.title);
});

test('every manifest event is a message and an operation', () => {
  const messages = new Map(parsed.document.allMessages().all().map((m) => [m.name(), m]));
  const operations = new Map(parsed.document.allOperations().all().map((o) => [o.id(), o]));
  for (const event of manifest.events) {
    assert.ok(messages.has(event.name), `message ${event.name} is missing`);
    const operation = operations.get(event.name);
    assert.ok(operation, `operation ${event.name} is missing`);
    // The server's point of view: it receives client events and sends the others.
    const action = event.direction === 'client_to_server' ? 'receive' : 'send';
    assert.equal(operation.action(), action, `operation ${event.name}`);
    assert.deepEqual(
      operation.messages().all().map((m) => m.name()),
      [event.name],
      `operation ${event.name} carries its message`,
    );
  }
});

test('events with an ack reply with it; the others do not', () => {
  const operations = new Map(parsed.document.allOperations().all().map((o) => [o.id(), o]));
  const byName = new Map(manifest.events.map((e) => [e.name, e]));
  for (const event of manifest.events) {
    const ack = (event.aliasOf ? byName.get(event.aliasOf) : event).ack;
    const reply = operations.get(event.name).reply();
    if (!ack) {
      assert.equal(reply, undefined, `${event.name} has no ack, so no reply`);
      continue;
    }
    assert.ok(reply, `${event.name} has an ack, so a reply`);
    const [message] = reply.messages().all();
    const ackSchema = ack.split('#/$defs/')[1];
    assert.equal(message.payload().id(), ackSchema, `${event.name} replies with ${ackSchema}`);
  }
});

test('payload schemas are the contract definitions', () => {
  // Keyed by component id: a server event that is also a client alias
  // (`clientAliasOf`) has two messages of the same name.
  const messages = new Map(parsed.document.allMessages().all().map((m) => [m.id(), m]));
  const byName = new Map(manifest.events.map((e) => [e.name, e]));
  for (const event of manifest.events) {
    const payload = (event.aliasOf ? byName.get(event.aliasOf) : event).payload;
    const message = messages.get(event.name);
    assert.equal(message.name(), event.name);
    if (!payload) {
      assert.equal(message.hasPayload(), false, `${event.name} has no payload`);
      continue;
    }
    assert.equal(message.payload().id(), payload.split('#/$defs/')[1], `${event.name} payload`);
  }
  for (const event of manifest.events.filter((e) => e.clientAliasOf)) {
    const alias = messages.get(`${event.name}_from_client`);
    assert.ok(alias, `${event.name} is also described as a client message`);
    assert.equal(alias.name(), event.name);
    assert.equal(alias.payload().id(), byName.get(event.clientAliasOf).payload.split('#/$defs/')[1], `${event.name} from a client`);
  }
});

test('deprecated events are marked', () => {
  const raw = JSON.parse(source);
  for (const event of manifest.events.filter((e) => e.deprecated)) {
    assert.equal(raw.components.messages[event.name].deprecated, true, event.name);
    assert.equal(raw.operations[event.name]['x-deprecated'], true, event.name);
    assert.equal(raw.operations[event.name]['x-replaced-by'], event.deprecated.replacedBy, event.name);
  }
});
