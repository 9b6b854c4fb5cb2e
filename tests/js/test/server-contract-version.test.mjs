// Contract version negotiation at the handshake (issue 24): a client states
// the contract version it was built against as `contractVersion` in the
// handshake `auth` (the generated package exports it); the server answers
// with its own in `authenticated.contractVersion`, refuses a major it does
// not serve with `CONTRACT_INCOMPATIBLE` naming the versions it serves,
// serves a client that states none as 3.x, and counts connections by the
// client's version in /metrics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { CONTRACT_VERSION } from '../../../generated/ts/version.mjs';
import { scrape, value } from '../support/ops.mjs';
import { assertErrorPayload, binaryPath, closeAll, newUser, startServer, waitDisconnect } from '../support/index.mjs';

const T = { timeout: 60_000 };
const [MAJOR, MINOR] = CONTRACT_VERSION.split('.').map(Number);
const METRIC = 'lockstep_connections_by_contract_total';

describe('contract version negotiation', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'contract-version' });
  });
  after(async () => {
    await server?.stop();
  });

  /** Connects `user` with `contractVersion` (undefined: the field is left out). */
  function connectWith(user, contractVersion, options = {}) {
    const auth = { profileid: user.profileid, timestamp: Date.now() };
    if (contractVersion !== undefined) auth.contractVersion = contractVersion;
    return user.connect({ auth, ...options });
  }

  async function expectIncompatible(user, contractVersion) {
    const { socket, inbox, authError } = await connectWith(user, contractVersion, { waitFor: 'auth_error' });
    assertErrorPayload(authError, 'CONTRACT_INCOMPATIBLE', 'auth_error');
    assert.match(authError.message, new RegExp(`serves contract ${MAJOR}\\.x`), `names the served majors: ${authError.message}`);
    assert.ok(authError.message.includes(CONTRACT_VERSION), `names the version it implements: ${authError.message}`);
    assert.equal(await waitDisconnect(socket, 10_000), 'io server disconnect', 'the refused socket is disconnected');
    assert.equal(inbox.all('authenticated').length, 0, 'a refused socket is never authenticated');
    return authError;
  }

  test('the generated package exports the manifest version, and lockstep --version prints it', T, async () => {
    assert.match(CONTRACT_VERSION, /^\d+\.\d+\.\d+$/);
    const { stdout } = await promisify(execFile)(binaryPath(), ['--version']);
    assert.match(stdout.trim(), new RegExp(`^lockstep \\S+ \\(contract ${CONTRACT_VERSION.replaceAll('.', '\\.')}\\)$`));
  });

  test('a client of the same contract is served and told the server contract', T, async () => {
    const alice = await newUser(server, 'alice');
    const before = await scrape(server);
    const { socket, authenticated } = await connectWith(alice, CONTRACT_VERSION);
    try {
      assert.equal(authenticated.contractVersion, CONTRACT_VERSION);
      const after = await scrape(server);
      const label = { contract: `${MAJOR}.${MINOR}` };
      assert.equal(value(after, METRIC, label) - value(before, METRIC, label), 1, `${METRIC}{contract="${MAJOR}.${MINOR}"} counted it`);
    } finally {
      await closeAll(socket);
    }
  });

  test('an older minor and a newer minor of the same major are served', T, async () => {
    const bob = await newUser(server, 'bob');
    for (const version of [`${MAJOR}.0.0`, `${MAJOR}.${MINOR + 1}.4`]) {
      const { socket, authenticated } = await connectWith(bob, version);
      assert.equal(authenticated.contractVersion, CONTRACT_VERSION, `served ${version}`);
      await closeAll(socket);
    }
    const metrics = await scrape(server);
    assert.ok(value(metrics, METRIC, { contract: `${MAJOR}.0` }) >= 1, 'the older minor is counted by its MAJOR.MINOR');
    assert.ok(value(metrics, METRIC, { contract: `${MAJOR}.newer` }) >= 1, 'a newer minor is counted as MAJOR.newer (bounded labels)');
  });

  test('a client that sends no version (a seed client) is served as 3.x', T, async () => {
    const carol = await newUser(server, 'carol');
    const before = await scrape(server);
    const { socket, authenticated } = await connectWith(carol, undefined);
    try {
      assert.equal(authenticated.contractVersion, CONTRACT_VERSION);
      assert.equal(MAJOR, 3, 'this server implements contract 3.x');
      const after = await scrape(server);
      assert.equal(value(after, METRIC, { contract: 'none' }) - value(before, METRIC, { contract: 'none' }), 1);
    } finally {
      await closeAll(socket);
    }
  });

  test('a client of a newer major is refused with CONTRACT_INCOMPATIBLE', T, async () => {
    const dave = await newUser(server, 'dave');
    const refusal = await expectIncompatible(dave, `${MAJOR + 1}.0.0`);
    assert.match(refusal.message, /newer major/);
  });

  test('a client of a major no longer served is refused with CONTRACT_INCOMPATIBLE', T, async () => {
    const erin = await newUser(server, 'erin');
    const refusal = await expectIncompatible(erin, `${MAJOR - 1}.9.0`);
    assert.match(refusal.message, /no longer serves/);
  });

  test('a contractVersion that is not semver is refused, and the connection count does not move', T, async () => {
    const frank = await newUser(server, 'frank');
    const before = await scrape(server);
    const refusal = await expectIncompatible(frank, 'latest');
    assert.match(refusal.message, /not a semantic version/);
    const after = await scrape(server);
    assert.equal(value(after, METRIC), value(before, METRIC), 'refused sockets are not counted as connections');
    assert.ok(
      value(after, 'lockstep_refusals_total', { code: 'CONTRACT_INCOMPATIBLE' }) >
        value(before, 'lockstep_refusals_total', { code: 'CONTRACT_INCOMPATIBLE' }),
      'the refusal is counted by its code',
    );
  });

  test('the token is checked before the version: an unsigned client hears that first', T, async () => {
    const grace = await newUser(server, 'grace');
    const { authError, socket } = await connectWith(grace, `${MAJOR + 1}.0.0`, { token: undefined, waitFor: 'auth_error' });
    assertErrorPayload(authError, 'AUTH_MISSING_TOKEN', 'auth_error');
    await waitDisconnect(socket, 10_000);
  });
});
