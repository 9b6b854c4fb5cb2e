// @lockstep/client's handshake against the real binary: it states the
// contract version it was generated from (the server counts it by
// MAJOR.MINOR and answers with its own), and a refusal — a contract major
// the server does not serve, an expired token — surfaces as onStatus
// `refused` with the contract's code, after which the client stays down
// instead of hammering the server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { accessClaims, newUser, nowSeconds, signJwt, sleep, startServer } from '../support/index.mjs';
import { CONTRACT_VERSION, clientOf, statusOf } from '../support/lockstep-client.mjs';
import { scrape, value } from '../support/ops.mjs';

const T = { timeout: 60_000 };
const [MAJOR, MINOR] = CONTRACT_VERSION.split('.');

describe('@lockstep/client: version negotiation and refusals', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'client-version' });
  });
  after(async () => {
    await server?.stop();
  });

  test('the client states its contract version; the server serves it and names its own', T, async () => {
    const alice = await newUser(server, 'alice');
    const metric = 'lockstep_connections_by_contract_total';
    const before = value(await scrape(server), metric, { contract: `${MAJOR}.${MINOR}` });
    const client = clientOf(server, alice);
    try {
      const authenticated = new Promise((done) => client.on('authenticated', done));
      await statusOf(client, 'connected');
      assert.equal((await authenticated).contractVersion, CONTRACT_VERSION);
      const after = value(await scrape(server), metric, { contract: `${MAJOR}.${MINOR}` });
      assert.equal(after, before + 1, `counted under ${MAJOR}.${MINOR}`);
    } finally {
      client.close();
    }
  });

  test('CONTRACT_INCOMPATIBLE surfaces as onStatus refused, and the client does not reconnect', T, async () => {
    const alice = await newUser(server, 'alice');
    const future = `${Number(MAJOR) + 1}.0.0`;
    const client = clientOf(server, alice, { io: { auth: { contractVersion: future } } });
    try {
      const status = await statusOf(client, 'refused');
      assert.equal(status.code, 'CONTRACT_INCOMPATIBLE');
      assert.match(status.error, new RegExp(`${MAJOR}\\.x`), status.error);
      await sleep(1_500);
      assert.equal(client.status.state, 'refused', 'still refused');
      assert.equal(client.seen.statuses.filter((s) => s.state === 'connecting').length, 0, 'no reconnect attempt');
      const synced = await client.sync({ positions: [] });
      assert.deepEqual([synced.success, synced.code], [false, 'DISCONNECTED'], 'a refused client answers calls at once');
    } finally {
      client.close();
    }
  });

  test('an expired token surfaces as refused with AUTH_TOKEN_EXPIRED', T, async () => {
    const alice = await newUser(server, 'alice');
    const expired = signJwt(accessClaims(alice.profileid, { expiresIn: -60, iat: nowSeconds() - 120 }));
    const client = clientOf(server, { ...alice, token: expired }, { ackTimeoutMs: 500 });
    try {
      const status = await statusOf(client, 'refused');
      assert.equal(status.code, 'AUTH_TOKEN_EXPIRED');
      assert.equal(typeof status.error, 'string');
    } finally {
      client.close();
    }
  });
});
