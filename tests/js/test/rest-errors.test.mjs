// Every REST error answers the contract's error body, `{ error, message }`
// with a code of the contract's `ErrorCode` and the status the OpenAPI
// document gives it: table-driven over bad query strings, duplicate and
// unknown parameters, unknown routes, wrong methods, malformed or non-JSON
// bodies and a missing content type, against the real binary. The routes,
// codes and statuses come from the generated documents, not from literals
// repeated here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { readGenerated } from '../support/contract.mjs';
import { api, createChat, newUser, show, startServer, users } from '../support/index.mjs';

const T = { timeout: 60_000 };
const openapi = JSON.parse(readGenerated('docs/openapi.json'));
const errorCodes = openapi.components.schemas.ErrorCode.enum;
const errorBody = openapi.components.schemas.RestError;

/** The operation of the OpenAPI document for `method path`. */
function operation(method, path) {
  const found = openapi.paths[path]?.[method.toLowerCase()];
  assert.ok(found, `openapi.json has ${method} ${path}`);
  return found;
}

/**
 * The response is the contract's error body with `code`, and the OpenAPI
 * document lists that status and code for the route (when it is one).
 */
function assertContractError(response, status, code, label, route) {
  assert.equal(response.status, status, `${label}: expected ${status}, got ${show(response)}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${label}: JSON answer`);
  assert.ok(response.body && typeof response.body === 'object', `${label}: a JSON object: ${show(response)}`);
  assert.deepEqual(Object.keys(response.body).sort(), [...errorBody.required].sort(), `${label}: exactly { error, message }`);
  assert.equal(response.body.error, code, `${label}: code: ${show(response)}`);
  assert.ok(errorCodes.includes(response.body.error), `${label}: ${response.body.error} is a contract ErrorCode`);
  assert.equal(typeof response.body.message, 'string', `${label}: message`);
  assert.ok(response.body.message.length > 0, `${label}: a message for humans`);
  if (route) {
    const documented = operation(...route).responses[String(status)];
    assert.ok(documented, `${label}: openapi.json documents ${status} for ${route.join(' ')}`);
    assert.ok(documented['x-error-codes'].includes(code), `${label}: openapi.json lists ${code} under ${status}`);
  }
}

describe('REST error shape', () => {
  let server;
  let alice;
  let chatid;
  before(async () => {
    server = await startServer({ name: 'rest-errors' });
    let bob;
    [alice, bob] = await users(server, 'alice', 'bob');
    chatid = await createChat(server, alice, { participants: [bob] });
  });
  after(async () => {
    await server?.stop();
  });

  test('the table covers every documented route and method', () => {
    const documented = Object.entries(openapi.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    assert.ok(documented.length >= 8, `openapi.json lists the routes: ${documented}`);
    for (const required of ['POST /api/chats', 'GET /api/chats', 'POST /api/chats/{chatid}/participants', 'GET /api/chats/{chatid}/messages', 'GET /api/calls']) {
      assert.ok(documented.includes(required), `${required} is documented`);
    }
  });

  test('every documented route is served (none answers ROUTE_NOT_FOUND or METHOD_NOT_ALLOWED)', T, async () => {
    for (const [path, item] of Object.entries(openapi.paths)) {
      for (const method of Object.keys(item)) {
        const concrete = path.replace('{chatid}', chatid);
        const body = method === 'post' ? {} : undefined;
        const response = await api(server, alice.token, method.toUpperCase(), concrete, body);
        assert.ok(![404, 405].includes(response.status) || response.body?.error === 'CHAT_NOT_FOUND', `${method} ${path}: ${show(response)}`);
      }
    }
  });

  // [label, method, path (chatid filled in), body options, status, code, OpenAPI route]
  const cases = () => {
    const messages = `/api/chats/${chatid}/messages`;
    const participants = `/api/chats/${chatid}/participants`;
    const MESSAGES = ['GET', '/api/chats/{chatid}/messages'];
    const CALLS = ['GET', '/api/calls'];
    const CREATE = ['POST', '/api/chats'];
    const ADD = ['POST', '/api/chats/{chatid}/participants'];
    return [
      // query strings
      ['duplicate limit', 'GET', `${messages}?limit=2&limit=3`, {}, 400, 'VALIDATION_ERROR', MESSAGES],
      ['duplicate before', 'GET', `${messages}?before=a&before=b`, {}, 400, 'VALIDATION_ERROR', MESSAGES],
      ['limit not a number', 'GET', `${messages}?limit=many`, {}, 400, 'VALIDATION_ERROR', MESSAGES],
      ['limit zero', 'GET', `${messages}?limit=0`, {}, 400, 'VALIDATION_ERROR', MESSAGES],
      ['limit over the contract maximum', 'GET', `${messages}?limit=${operation(...MESSAGES).parameters.find((p) => p.name === 'limit').schema.maximum + 1}`, {}, 400, 'VALIDATION_ERROR', MESSAGES],
      ['limit fractional', 'GET', `${messages}?limit=1.5`, {}, 400, 'VALIDATION_ERROR', MESSAGES],
      ['empty before', 'GET', `${messages}?before=`, {}, 400, 'VALIDATION_ERROR', MESSAGES],
      ['unknown history parameter', 'GET', `${messages}?after=x`, {}, 400, 'VALIDATION_ERROR', MESSAGES],
      ['unknown calls parameter', 'GET', '/api/calls?chatid=x', {}, 400, 'VALIDATION_ERROR', CALLS],
      ['duplicate calls limit', 'GET', '/api/calls?limit=1&limit=1', {}, 400, 'VALIDATION_ERROR', CALLS],
      ['calls limit over the contract maximum', 'GET', `/api/calls?limit=${operation(...CALLS).parameters.find((p) => p.name === 'limit').schema.maximum + 1}`, {}, 400, 'VALIDATION_ERROR', CALLS],
      ['negative calls limit', 'GET', '/api/calls?limit=-1', {}, 400, 'VALIDATION_ERROR', CALLS],
      ['a query string on a route without one', 'GET', '/api/chats?page=2', {}, 400, 'VALIDATION_ERROR', null],
      // unknown routes
      ['unknown API route', 'GET', '/api/nothing-here', {}, 404, 'ROUTE_NOT_FOUND', null],
      ['unknown top-level route', 'GET', '/definitely/not/a/route', {}, 404, 'ROUTE_NOT_FOUND', null],
      ['unknown sub-resource of a chat', 'GET', `/api/chats/${chatid}/nothing`, {}, 404, 'ROUTE_NOT_FOUND', null],
      ['POST to an unknown route', 'POST', '/api/nothing-here', { body: {} }, 404, 'ROUTE_NOT_FOUND', null],
      // wrong methods
      ['DELETE /api/chats', 'DELETE', '/api/chats', {}, 405, 'METHOD_NOT_ALLOWED', ['GET', '/api/chats']],
      ['PUT /api/chats', 'PUT', '/api/chats', { body: {} }, 405, 'METHOD_NOT_ALLOWED', ['GET', '/api/chats']],
      ['GET participants', 'GET', participants, {}, 405, 'METHOD_NOT_ALLOWED', ADD],
      ['POST messages', 'POST', messages, { body: {} }, 405, 'METHOD_NOT_ALLOWED', MESSAGES],
      ['POST /api/calls', 'POST', '/api/calls', { body: {} }, 405, 'METHOD_NOT_ALLOWED', CALLS],
      ['POST /health', 'POST', '/health', {}, 405, 'METHOD_NOT_ALLOWED', ['GET', '/health']],
      // bodies
      ['malformed JSON', 'POST', '/api/chats', { raw: '{"chatType": "group",' }, 400, 'VALIDATION_ERROR', CREATE],
      ['a JSON array', 'POST', '/api/chats', { raw: '[1,2,3]' }, 400, 'VALIDATION_ERROR', CREATE],
      ['an empty body', 'POST', '/api/chats', { raw: '' }, 400, 'VALIDATION_ERROR', CREATE],
      ['an unknown field', 'POST', '/api/chats', { body: { chatType: 'group', participants: [], color: 'red' } }, 400, 'VALIDATION_ERROR', CREATE],
      ['an unknown chatType', 'POST', '/api/chats', { body: { chatType: 'secret', participants: [] } }, 400, 'VALIDATION_ERROR', CREATE],
      ['too many participants', 'POST', '/api/chats', { body: { chatType: 'group', participants: Array.from({ length: openapi.components.schemas.CreateChatRequest.properties.participants.maxItems + 1 }, (_, i) => `p-${i}`) } }, 400, 'VALIDATION_ERROR', CREATE],
      ['a chat name over the contract maximum', 'POST', '/api/chats', { body: { chatType: 'group', chatName: 'n'.repeat(openapi.components.schemas.CreateChatRequest.properties.chatName.maxLength + 1), participants: [] } }, 400, 'VALIDATION_ERROR', CREATE],
      ['a body over the server\'s size limit', 'POST', '/api/chats', { raw: `{"chatType":"group","chatName":"${'n'.repeat(3 * 1024 * 1024)}","participants":[]}` }, 413, 'PAYLOAD_TOO_LARGE', CREATE],
      ['no content type', 'POST', '/api/chats', { raw: '{"chatType":"group","participants":[]}', headers: { 'Content-Type': '' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', CREATE],
      ['a text/plain body', 'POST', '/api/chats', { raw: '{"chatType":"group","participants":[]}', headers: { 'Content-Type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', CREATE],
      ['role owner is not assignable', 'POST', participants, { body: { profileid: 'p-x', role: 'owner' } }, 400, 'VALIDATION_ERROR', ADD],
      ['malformed participant JSON', 'POST', participants, { raw: '{"profileid":' }, 400, 'VALIDATION_ERROR', ADD],
      ['participant without content type', 'POST', participants, { raw: '{"profileid":"p-x"}', headers: { 'Content-Type': '' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', ADD],
      // path parameters
      ['a chat id over the contract maximum', 'GET', `/api/chats/${'c'.repeat(129)}/messages`, {}, 404, 'CHAT_NOT_FOUND', MESSAGES],
    ];
  };

  test('each bad request gets the contract error body with its code and status', T, async () => {
    for (const [label, method, path, { body, raw, headers = {} }, status, code, route] of cases()) {
      // An empty Content-Type header sends the body without a media type.
      const response = await api(server, alice.token, method, path, body, { raw, headers });
      assertContractError(response, status, code, label, route);
    }
  });

  test('a 405 names the allowed methods', T, async () => {
    const response = await api(server, alice.token, 'DELETE', '/api/chats');
    assert.equal(response.status, 405, show(response));
    const allow = (response.headers.get('allow') ?? '').split(',').map((m) => m.trim());
    assert.ok(allow.includes('GET') && allow.includes('POST'), `Allow: ${response.headers.get('allow')}`);
  });

  test('without a token, unknown routes still answer 404 and known ones 401, both in the contract shape', T, async () => {
    assertContractError(await api(server, undefined, 'GET', '/api/nothing-here'), 404, 'ROUTE_NOT_FOUND', 'unknown route, no token');
    assertContractError(await api(server, undefined, 'GET', '/api/calls?limit=2&limit=3'), 401, 'AUTH_MISSING_TOKEN', 'calls, no token', ['GET', '/api/calls']);
  });

  test('valid requests at the contract bounds are served', T, async () => {
    const history = operation('GET', '/api/chats/{chatid}/messages').parameters.find((p) => p.name === 'limit').schema;
    for (const limit of [history.minimum, history.maximum]) {
      const response = await api(server, alice.token, 'GET', `/api/chats/${chatid}/messages?limit=${limit}`);
      assert.equal(response.status, 200, `limit=${limit}: ${show(response)}`);
      assert.ok(Array.isArray(response.body.messages));
    }
    const calls = operation('GET', '/api/calls').parameters.find((p) => p.name === 'limit').schema;
    const response = await api(server, alice.token, 'GET', `/api/calls?limit=${calls.maximum}`);
    assert.equal(response.status, 200, show(response));
    assert.deepEqual(response.body, { calls: [] });
    const fresh = await newUser(server, 'fresh');
    const none = await api(server, fresh.token, 'GET', '/api/chats');
    assert.deepEqual(none.body, { chats: [] }, show(none));
  });
});
