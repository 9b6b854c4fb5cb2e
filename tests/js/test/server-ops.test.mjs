// Issue 5, "Operations": /health and /ready, the application heartbeat
// (heartbeat/ping answered by heartbeat_response/pong, silent sockets
// dropped), GET /metrics parsed and checked after real traffic, the TOML
// config file and its precedence, the origin policy (CORS and the Socket.IO
// handshake), and the security log lines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertAckFailure,
  assertErrorPayload,
  assertIso,
  closeAll,
  connect,
  createChat,
  emitAck,
  joinChat,
  newUser,
  postgresStatus,
  sendMessage,
  sendOk,
  sleep,
  startServer,
  uid,
  users,
  waitDisconnect,
} from '../support/index.mjs';
import {
  answerHeartbeats,
  configFile,
  dropServerDatabase,
  getJson,
  jsonLogLines,
  parsePrometheus,
  pollJson,
  redisServerStatus,
  runBinary,
  scrape,
  scrapeUntil,
  series,
  startRedis,
  value,
} from '../support/ops.mjs';

const T = { timeout: 90_000 };
/** `/ready` waits 2 s per dependency; the answer must come well within this. */
const READY_BOUND_MS = 5_000;

describe('health and readiness', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'ops-probes' });
  });
  after(async () => {
    await server?.stop();
  });

  test('GET /health -> 200 JSON while the process is alive', T, async () => {
    const health = await getJson(server, '/health');
    assert.equal(health.status, 200);
    assert.match(health.headers.get('content-type'), /application\/json/);
    assert.deepEqual(health.body, { status: 'ok' });
  });

  test('GET /ready -> 200 JSON naming each check; Redis "not configured" without --redis-url', T, async () => {
    const ready = await getJson(server, '/ready');
    assert.equal(ready.status, 200, ready.text);
    assert.match(ready.headers.get('content-type'), /application\/json/);
    assert.equal(ready.body.status, 'ready');
    assert.deepEqual(ready.body.checks, { database: 'up', redis: 'not configured' });
    assert.deepEqual(ready.body.down, []);
    assert.ok(ready.ms < READY_BOUND_MS, `answered in ${ready.ms} ms`);
  });
});

const pg = await postgresStatus();
const redis = await redisServerStatus();

describe('readiness when the database goes away [postgres]', () => {
  test('dropping the database under a running server -> /ready 503 naming the database, within the bound', { ...T, skip: pg.available ? false : `skipping PostgreSQL: ${pg.reason}` }, async () => {
    const server = await startServer({ database: 'postgres', name: 'ops-ready-pg' });
    try {
      const up = await getJson(server, '/ready');
      assert.equal(up.status, 200, up.text);
      assert.equal(up.body.checks.database, 'up');

      await dropServerDatabase(server);
      const down = await pollJson(server, '/ready', (r) => r.status !== 200, { what: '/ready to report the dropped database' });
      assert.equal(down.status, 503, down.text);
      assert.equal(down.body.status, 'unavailable');
      assert.deepEqual(down.body.down, ['database']);
      assert.ok(['down', 'timeout'].includes(down.body.checks.database), down.text);
      assert.equal(down.body.checks.redis, 'not configured');
      assert.ok(down.ms < READY_BOUND_MS, `answered in ${down.ms} ms`);

      // The process itself is still alive, and says so.
      const health = await getJson(server, '/health');
      assert.equal(health.status, 200);
      const metrics = await scrape(server);
      assert.ok(value(metrics, 'lockstep_db_query_errors_total', { op: 'ping' }) >= 1, 'the failed pings are counted');
    } finally {
      await server.stop();
    }
  });
});

describe('readiness with Redis configured', () => {
  test('/ready checks Redis: 200 while it answers, 503 naming redis once it is gone', { ...T, skip: redis.available ? false : redis.reason }, async () => {
    const redisServer = await startRedis();
    let server;
    try {
      server = await startServer({ name: 'ops-ready-redis', args: ['--redis-url', redisServer.url] });
      const up = await pollJson(server, '/ready', (r) => r.status === 200, { what: '/ready with Redis up' });
      assert.deepEqual(up.body.checks, { database: 'up', redis: 'up' });

      await redisServer.stop();
      const down = await pollJson(server, '/ready', (r) => r.status !== 200, { what: '/ready to report Redis down' });
      assert.equal(down.status, 503, down.text);
      assert.deepEqual(down.body.down, ['redis']);
      assert.equal(down.body.checks.database, 'up');
      assert.ok(['down', 'timeout'].includes(down.body.checks.redis), down.text);
      assert.ok(down.ms < READY_BOUND_MS, `answered in ${down.ms} ms`);
    } finally {
      await server?.stop();
      await redisServer.stop();
    }
  });
});

describe('heartbeat', () => {
  const INTERVAL_S = 1;
  const MAX_MISSES = 2;
  let server;
  before(async () => {
    server = await startServer({
      name: 'ops-heartbeat',
      args: ['--heartbeat-interval', String(INTERVAL_S), '--heartbeat-max-misses', String(MAX_MISSES)],
    });
  });
  after(async () => {
    await server?.stop();
  });

  test('a client answering heartbeat_response and pong stays connected; its round trips are recorded', T, async () => {
    const alice = await newUser(server, 'alice');
    const { socket } = await alice.connect();
    const answered = answerHeartbeats(socket);
    try {
      // Well past MAX_MISSES intervals.
      await sleep((MAX_MISSES + 3) * INTERVAL_S * 1000);
      assert.ok(socket.connected, `still connected; received:\n${socket.inbox.summary()}`);
      assert.equal(socket.inbox.all('$disconnect').length, 0);
      assert.ok(answered.heartbeats.length >= MAX_MISSES + 1, `heartbeats received: ${answered.heartbeats.length}`);
      assert.ok(answered.pings.length >= MAX_MISSES + 1, `pings received: ${answered.pings.length}`);
      for (const heartbeat of answered.heartbeats) {
        assert.deepEqual(Object.keys(heartbeat), ['timestamp']);
        assertIso(heartbeat.timestamp, 'heartbeat.timestamp');
      }
      for (const ping of answered.pings) {
        assert.ok(Number.isInteger(ping), `ping carries epoch milliseconds: ${ping}`);
        assert.ok(Math.abs(Date.now() - ping) < 60_000, 'ping is close to now');
      }
      const metrics = await scrapeUntil(
        server,
        (m) =>
          value(m, 'lockstep_heartbeat_rtt_seconds_count', { event: 'heartbeat_response' }) >= MAX_MISSES &&
          value(m, 'lockstep_heartbeat_rtt_seconds_count', { event: 'pong' }) >= MAX_MISSES,
        { what: 'heartbeat round trips' },
      );
      assert.equal(metrics.types.get('lockstep_heartbeat_rtt_seconds'), 'histogram');
      assert.ok(value(metrics, 'lockstep_heartbeats_sent_total') >= MAX_MISSES + 1);
      assert.ok(value(metrics, 'lockstep_events_received_total', { event: 'heartbeat_response' }) >= MAX_MISSES);
    } finally {
      await closeAll(socket);
    }
  });

  test('a client that answers nothing is disconnected after the configured misses', T, async () => {
    const before = await scrape(server);
    const bob = await newUser(server, 'bob');
    const connectedAt = Date.now();
    // socket.io-client with no heartbeat/ping listeners: nothing is answered.
    const { socket } = await bob.connect();
    const reason = await waitDisconnect(socket, (MAX_MISSES + 4) * INTERVAL_S * 1000);
    const after = Date.now() - connectedAt;
    assert.equal(reason, 'io server disconnect');
    // The first heartbeat comes within one interval, the drop MAX_MISSES intervals later.
    assert.ok(after >= (MAX_MISSES - 0.5) * INTERVAL_S * 1000, `dropped after ${after} ms, too early`);
    assert.ok(socket.inbox.all('heartbeat').length >= MAX_MISSES, `heartbeats sent first:\n${socket.inbox.summary()}`);
    assert.ok(socket.inbox.all('ping').length >= MAX_MISSES, 'pings sent first');

    const metrics = await scrapeUntil(
      server,
      (m) => value(m, 'lockstep_heartbeat_disconnects_total') > value(before, 'lockstep_heartbeat_disconnects_total'),
      { what: 'the heartbeat disconnect to be counted' },
    );
    assert.ok(
      value(metrics, 'lockstep_heartbeat_misses_total') - value(before, 'lockstep_heartbeat_misses_total') >= MAX_MISSES,
      'each unanswered heartbeat is a miss',
    );
    assert.ok(
      server.output.join('').includes('heartbeats unanswered; disconnecting'),
      'the drop is logged',
    );
  });

  test('bad answers are counted, never crash, and do not keep a socket alive', T, async () => {
    const before = await scrape(server);
    const carol = await newUser(server, 'carol');
    const { socket } = await carol.connect();
    // Echo a timestamp the server never sent, and a pong from the distant past.
    socket.on('heartbeat', () =>
      socket.emit('heartbeat_response', { timestamp: '2001-01-01T00:00:00.000Z', clientTime: new Date().toISOString() }),
    );
    socket.on('ping', () => socket.emit('pong', 1));
    // Payloads outside the contract: refused with VALIDATION_ERROR in `error`.
    socket.emit('heartbeat_response', 'not an object');
    socket.emit('pong', 'soon');
    const refusal = await socket.inbox.take('error', { where: (e) => e.event === 'heartbeat_response' });
    assertErrorPayload(refusal, 'VALIDATION_ERROR', 'error for a malformed heartbeat_response');
    const reason = await waitDisconnect(socket, (MAX_MISSES + 4) * INTERVAL_S * 1000);
    assert.equal(reason, 'io server disconnect', 'answers echoing nothing sent do not count');

    const metrics = await scrapeUntil(
      server,
      (m) =>
        value(m, 'lockstep_heartbeat_bad_answers_total', { event: 'heartbeat_response' }) >
          value(before, 'lockstep_heartbeat_bad_answers_total', { event: 'heartbeat_response' }) &&
        value(m, 'lockstep_heartbeat_bad_answers_total', { event: 'pong' }) >
          value(before, 'lockstep_heartbeat_bad_answers_total', { event: 'pong' }),
      { what: 'bad answers to be counted' },
    );
    assert.ok(
      value(metrics, 'lockstep_refusals_total', { code: 'VALIDATION_ERROR' }) >=
        value(before, 'lockstep_refusals_total', { code: 'VALIDATION_ERROR' }) + 2,
      'malformed answers are refusals',
    );
    assert.equal((await getJson(server, '/health')).status, 200, 'the server is fine');
  });

  test('a round over many sockets goes out in batches spread over the interval, and reaches every socket', T, async () => {
    // The server sends 64 sockets their heartbeat at a time, the batches
    // spaced over the first half of the interval, each batch stamped when
    // it is sent. All at once, every socket would get the same stamp in a
    // round (and the node would stall under the burst).
    const SOCKETS = 150;
    const users = await Promise.all(Array.from({ length: SOCKETS }, (_, i) => newUser(server, `crowd${i}`)));
    const sockets = await Promise.all(users.map((user) => user.socket()));
    const answered = sockets.map((socket) => answerHeartbeats(socket));
    try {
      await sleep(2.5 * INTERVAL_S * 1000);
      const stamps = new Set();
      for (const [i, socket] of sockets.entries()) {
        assert.ok(socket.connected, `socket ${i} still connected`);
        const { heartbeats } = answered[i];
        assert.ok(heartbeats.length >= 2, `socket ${i} got ${heartbeats.length} heartbeats in 2.5 intervals`);
        for (const heartbeat of heartbeats) stamps.add(heartbeat.timestamp);
      }
      // Two or more rounds of three batches each.
      assert.ok(stamps.size >= 5, `distinct heartbeat stamps: ${[...stamps].sort().join(', ')}`);
    } finally {
      await closeAll(...sockets);
    }
  });
});

describe('metrics', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'ops-metrics', args: ['--message-rate', '3'] });
  });
  after(async () => {
    await server?.stop();
  });

  test('GET /metrics is valid Prometheus text with HELP and TYPE for every lockstep_ metric', T, async () => {
    const metrics = await scrape(server);
    const names = [...metrics.types.keys()].filter((name) => name.startsWith('lockstep_'));
    for (const expected of ['lockstep_connected_sockets', 'lockstep_online_users', 'lockstep_active_calls', 'lockstep_build_info']) {
      assert.ok(names.includes(expected), `${expected} is exported: ${names.join(', ')}`);
    }
    for (const name of names) {
      assert.ok(metrics.help.has(name), `${name} has a HELP line`);
      assert.match(name, /^lockstep_[a-z0-9_]+$/, 'snake_case with the lockstep_ prefix');
      const type = metrics.types.get(name);
      if (type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
    }
    for (const sample of metrics.samples) {
      assert.ok(
        metrics.types.has(sample.name) || metrics.types.has(sample.name.replace(/_(bucket|sum|count)$/, '')),
        `${sample.name} has a TYPE`,
      );
    }
    assert.equal(value(metrics, 'lockstep_build_info'), 1);
  });

  test('counters move after real traffic: events, refusals by code, rate limits, handler latency, fan-out, offline queue, database', T, async () => {
    const before = await scrape(server);
    const [alice, bob, carol, mallory] = await users(server, 'alice', 'bob', 'carol', 'mallory');
    const chatid = await createChat(server, alice, { participants: [bob, carol] });
    const a = await alice.socket();
    const b = await bob.socket();
    const m = await mallory.socket();
    try {
      const during = await scrape(server);
      assert.equal(value(during, 'lockstep_connected_sockets'), 3);
      assert.equal(value(during, 'lockstep_online_users'), 3);

      await joinChat(a, chatid);
      await sendOk(a, chatid, 'one');
      await sendOk(a, chatid, 'two');
      // Not a participant.
      const refused = await sendMessage(m, chatid, 'let me in');
      assertAckFailure(refused.ack, 'NOT_PARTICIPANT', refused.clientMessageId);
      // Outside the contract: refused before any handler.
      const invalid = await emitAck(m, 'send_message', { chatid });
      assert.equal(invalid.code, 'VALIDATION_ERROR');
      // Over the rate limit (3 a second): burst until refused.
      let limited = 0;
      let burst = 0;
      for (let i = 0; i < 8 && limited === 0; i += 1) {
        const { ack } = await sendMessage(b, chatid, `burst ${i}`);
        burst += 1;
        if (ack.code === 'RATE_LIMITED') limited += 1;
      }
      assert.equal(limited, 1, 'the burst hit the rate limit');
      // An unknown event name.
      m.emit('no_such_event', {});
      await m.inbox.take('error', { where: (e) => e.error === 'UNKNOWN_EVENT' });

      const metrics = await scrapeUntil(
        server,
        (s) =>
          value(s, 'lockstep_refusals_total', { code: 'UNKNOWN_EVENT' }) >
          value(before, 'lockstep_refusals_total', { code: 'UNKNOWN_EVENT' }),
        { what: 'the unknown event to be counted' },
      );
      const delta = (name, labels) => value(metrics, name, labels) - value(before, name, labels);
      // alice's two, mallory's refused one and bob's burst ran a handler;
      // the invalid payload was refused before any.
      const sendsServed = 2 + 1 + burst;

      assert.equal(delta('lockstep_events_received_total', { event: 'send_message' }), sendsServed + 1, 'send_message received');
      assert.ok(delta('lockstep_events_received_total', { event: 'join_chat' }) >= 1, 'join_chat received');
      assert.ok(delta('lockstep_events_received_total', { event: 'unknown' }) >= 1, 'unknown names are counted as unknown');
      assert.equal(series(metrics, 'lockstep_events_received_total', { event: 'no_such_event' }).length, 0, 'no label from a client-chosen name');
      assert.equal(delta('lockstep_refusals_total', { code: 'NOT_PARTICIPANT' }), 1);
      assert.equal(delta('lockstep_refusals_total', { code: 'VALIDATION_ERROR' }), 1);
      assert.equal(delta('lockstep_refusals_total', { code: 'RATE_LIMITED' }), limited);
      assert.equal(delta('lockstep_rate_limited_total', { event: 'send_message' }), limited);

      assert.equal(metrics.types.get('lockstep_handler_duration_seconds'), 'histogram');
      assert.ok(
        delta('lockstep_handler_duration_seconds_count', { event: 'send_message' }) === sendsServed,
        'every served send_message is timed',
      );
      const buckets = series(metrics, 'lockstep_handler_duration_seconds_bucket', { event: 'send_message' });
      assert.ok(buckets.some((bucket) => bucket.labels.le === '+Inf'), 'histogram buckets up to +Inf');

      // alice's messages: bob live, carol queued.
      assert.ok(delta('lockstep_message_recipients_count') >= 2, 'fan-out per message');
      assert.ok(delta('lockstep_fanout_total', { delivery: 'live' }) >= 2);
      assert.ok(delta('lockstep_fanout_total', { delivery: 'queued' }) >= 2);
      assert.ok(delta('lockstep_offline_queued_total') >= 2, 'queued for carol');
      assert.ok(delta('lockstep_db_query_duration_seconds_count', { op: 'insert_message' }) >= 2);
      assert.equal(metrics.types.get('lockstep_db_query_duration_seconds'), 'histogram');

      // carol comes online: her queue is delivered.
      const c = await carol.socket();
      await c.inbox.take('offline_messages_delivered');
      const delivered = await scrapeUntil(
        server,
        (s) => value(s, 'lockstep_offline_delivered_total') - value(before, 'lockstep_offline_delivered_total') >= 2,
        { what: 'the offline delivery to be counted' },
      );
      assert.equal(value(delivered, 'lockstep_connected_sockets'), 4);
      await closeAll(c);
    } finally {
      await closeAll(a, b, m);
    }
    const gone = await scrapeUntil(server, (s) => value(s, 'lockstep_connected_sockets') === 0, { what: 'the sockets gauge to fall' });
    assert.equal(value(gone, 'lockstep_online_users'), 0);
  });
});

describe('the parser of the test itself', () => {
  test('parses samples, labels with escapes and special values; refuses garbage', () => {
    const parsed = parsePrometheus(
      [
        '# HELP x_total A thing.',
        '# TYPE x_total counter',
        'x_total{a="1",b="q\\"uote"} 3',
        'y_bucket{le="+Inf"} 2.5e1',
        'z NaN',
        '',
      ].join('\n'),
    );
    assert.equal(parsed.types.get('x_total'), 'counter');
    assert.deepEqual(parsed.samples[0], { name: 'x_total', labels: { a: '1', b: 'q"uote' }, value: 3 });
    assert.equal(parsed.samples[1].value, 25);
    assert.ok(Number.isNaN(parsed.samples[2].value));
    assert.throws(() => parsePrometheus('not a sample line at all'));
    assert.throws(() => parsePrometheus('x{a=1} 2'));
  });
});

describe('configuration', () => {
  test('lockstep serve --help documents every operations flag with its env var and default', T, async () => {
    const { code, stdout } = await runBinary(['serve', '--help']);
    assert.equal(code, 0);
    for (const [flag, env, fallback] of [
      ['--heartbeat-interval', 'LOCKSTEP_HEARTBEAT_INTERVAL', '[default: 25]'],
      ['--heartbeat-max-misses', 'LOCKSTEP_HEARTBEAT_MAX_MISSES', '[default: 3]'],
      ['--allowed-origins', 'LOCKSTEP_ALLOWED_ORIGINS', '[default: none, same origin only]'],
      ['--config', 'LOCKSTEP_CONFIG', '[default: none]'],
      ['--log-format', 'LOCKSTEP_LOG_FORMAT', '[default: text]'],
    ]) {
      const at = stdout.indexOf(`${flag} <`);
      assert.ok(at >= 0, `${flag} is documented`);
      const next = stdout.indexOf('\n  -', at + 1);
      const entry = stdout.slice(at, next === -1 ? undefined : next);
      assert.ok(entry.includes(`[env: ${env}=`), `${flag} names ${env}:\n${entry}`);
      assert.ok(entry.includes(fallback), `${flag} shows ${fallback}:\n${entry}`);
    }
  });

  test('a value from the TOML file takes effect; a flag, then an env var, override it', T, async () => {
    const file = configFile(
      [
        '# lockstep settings',
        'allowed-origins = ["http://from-file.example"]',
        'heartbeat_interval = 1',
        'heartbeat-max-misses = 1',
        '',
      ].join('\n'),
    );
    const servers = [];
    try {
      // The file alone: its origin is allowed, its heartbeat settings drop a silent socket fast.
      const fromFile = await startServer({ name: 'ops-config-file', args: ['--config', file.path] });
      servers.push(fromFile);
      const alice = await newUser(fromFile, 'alice');
      const allowed = await alice.connect({ headers: { Origin: 'http://from-file.example' } });
      const started = Date.now();
      const reason = await waitDisconnect(allowed.socket, 8_000);
      assert.equal(reason, 'io server disconnect');
      assert.ok(Date.now() - started < 6_000, 'heartbeat-interval = 1, heartbeat-max-misses = 1 from the file');
      const other = await connect(fromFile, {
        profileid: alice.profileid,
        token: alice.token,
        headers: { Origin: 'http://flag.example' },
        waitFor: 'none',
      });
      await other.inbox.takeItem('$connect_error');
      other.socket.close();

      // A flag overrides the file.
      const byFlag = await startServer({
        name: 'ops-config-flag',
        args: ['--config', file.path, '--allowed-origins', 'http://flag.example'],
      });
      servers.push(byFlag);
      const bob = await newUser(byFlag, 'bob');
      const viaFlag = await bob.connect({ headers: { Origin: 'http://flag.example' } });
      const fileOrigin = await connect(byFlag, {
        profileid: bob.profileid,
        token: bob.token,
        headers: { Origin: 'http://from-file.example' },
        waitFor: 'none',
      });
      await fileOrigin.inbox.takeItem('$connect_error');
      fileOrigin.socket.close();
      await closeAll(viaFlag.socket);

      // So does an environment variable (LOCKSTEP_CONFIG names the file too).
      const byEnv = await startServer({
        name: 'ops-config-env',
        env: { LOCKSTEP_CONFIG: file.path, LOCKSTEP_ALLOWED_ORIGINS: 'http://env.example' },
      });
      servers.push(byEnv);
      const env = await getJson(byEnv, '/api/chats', { Origin: 'http://env.example' });
      assert.equal(env.status, 401, 'the env origin passes the origin check (then needs a token)');
      const envFile = await getJson(byEnv, '/api/chats', { Origin: 'http://from-file.example' });
      assert.equal(envFile.status, 403, 'the file origin was overridden');
    } finally {
      for (const server of servers) await server.stop();
      file.remove();
    }
  });

  test('a config file with an unknown key or a bad value stops the server with the reason', T, async () => {
    for (const [text, reason] of [
      ['heartbeat-intervall = 3\n', 'unknown key `heartbeat-intervall`'],
      ['heartbeat-max-misses = 0\n', 'heartbeat-max-misses'],
      ['allowed-origins = ["evil"]\n', 'not an origin'],
    ]) {
      const file = configFile(text);
      try {
        const { code, stderr } = await runBinary(['serve', '--config', file.path, '--bind', '127.0.0.1:0']);
        assert.notEqual(code, 0, `${text} is refused`);
        assert.ok(stderr.includes(reason), `${JSON.stringify(text)}: ${stderr}`);
      } finally {
        file.remove();
      }
    }
  });
});

describe('origins: CORS and the Socket.IO handshake', () => {
  const ALLOWED = 'http://app.example.test';
  const EVIL = 'https://evil.example.test';
  let server;
  before(async () => {
    server = await startServer({ name: 'ops-origins', args: ['--allowed-origins', ALLOWED] });
  });
  after(async () => {
    await server?.stop();
  });

  test('a WebSocket handshake from a disallowed Origin is refused; allowed and same-origin ones are accepted', T, async () => {
    const alice = await newUser(server, 'alice');
    const evil = await connect(server, { profileid: alice.profileid, token: alice.token, headers: { Origin: EVIL }, waitFor: 'none' });
    await evil.inbox.takeItem('$connect_error');
    assert.equal(evil.inbox.all('authenticated').length, 0, 'never authenticated');
    evil.socket.close();

    const allowed = await alice.connect({ headers: { Origin: ALLOWED } });
    assert.equal(allowed.authenticated.profile.profileid, alice.profileid);
    const same = await alice.connect({ headers: { Origin: server.url } });
    assert.equal(same.authenticated.profile.profileid, alice.profileid);
    await closeAll(allowed.socket, same.socket);

    // The polling transport's handshake is refused the same way.
    const polling = await getJson(server, '/socket.io/?EIO=4&transport=polling', { Origin: EVIL });
    assert.equal(polling.status, 403);
    assertErrorPayload(polling.body, 'FORBIDDEN', 'the refusal');

    const metrics = await scrape(server);
    assert.ok(value(metrics, 'lockstep_origin_refused_total', { reason: 'socket' }) >= 2);
  });

  test('REST: preflight and credentialed CORS for the allowed origin; 403 for others', T, async () => {
    const alice = await newUser(server, 'alice');
    const preflight = await fetch(`${server.url}/api/chats`, {
      method: 'OPTIONS',
      headers: {
        Origin: ALLOWED,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    assert.ok(preflight.status === 200 || preflight.status === 204, `preflight status ${preflight.status}`);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-methods') || '', /POST/);
    assert.match(preflight.headers.get('access-control-allow-headers') || '', /content-type/i);

    const evilPreflight = await fetch(`${server.url}/api/chats`, {
      method: 'OPTIONS',
      headers: { Origin: EVIL, 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(evilPreflight.headers.get('access-control-allow-origin'), null, 'no CORS grant for another origin');

    const withCookie = await getJson(server, '/api/chats', { Origin: ALLOWED, Cookie: `accessToken=${alice.token}` });
    assert.equal(withCookie.status, 200, withCookie.text);
    assert.equal(withCookie.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(withCookie.headers.get('access-control-allow-credentials'), 'true');

    const evil = await getJson(server, '/api/chats', { Origin: EVIL, Cookie: `accessToken=${alice.token}` });
    assert.equal(evil.status, 403, 'the cookie of a cross-site request is never used');
    assertErrorPayload(evil.body, 'FORBIDDEN', 'the refusal');

    const noOrigin = await getJson(server, '/api/chats', { Authorization: `Bearer ${alice.token}` });
    assert.equal(noOrigin.status, 200, 'clients without an Origin are not browsers and pass');
  });
});

describe('security logs (--log-format json)', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'ops-logs', args: ['--log-format', 'json'] });
  });
  after(async () => {
    await server?.stop();
  });

  test('authentication failures, refusals and origin refusals are logged as JSON with profile id and client address, never tokens or content', T, async () => {
    const secretContent = `secret-content-${uid('x')}`;
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [] });
    // An authentication failure: a token for someone else.
    const forged = await connect(server, { profileid: bob.profileid, token: alice.token, waitFor: 'auth_error' });
    await closeAll(forged.socket);
    // A refused authorisation, with content that must not be logged.
    const b = await bob.socket();
    const refused = await sendMessage(b, chatid, secretContent);
    assert.equal(refused.ack.code, 'NOT_PARTICIPANT');
    await closeAll(b);
    // A disallowed origin.
    const evil = await getJson(server, '/api/chats', { Origin: 'https://evil.example.test' });
    assert.equal(evil.status, 403);
    await sleep(300);

    const lines = jsonLogLines(server);
    assert.ok(lines.length > 3, 'the logs are JSON lines');
    for (const line of lines) {
      assert.ok(line.timestamp && line.level && line.message !== undefined, `a JSON log line has timestamp, level, message: ${JSON.stringify(line)}`);
    }
    const authFailure = lines.find((l) => l.message === 'authentication failed');
    assert.ok(authFailure, 'the authentication failure is logged');
    assert.equal(authFailure.client, '127.0.0.1');
    assert.equal(authFailure.code, 'AUTH_PROFILE_MISMATCH');

    const refusal = lines.find((l) => l.message === 'refused' && l.profileid === bob.profileid);
    assert.ok(refusal, 'the refusal is logged with the profile id');
    assert.equal(refusal.client, '127.0.0.1');
    assert.equal(refusal.code, 'NOT_PARTICIPANT');
    assert.equal(refusal.event, 'send_message');

    const origin = lines.find((l) => l.message === 'request from a disallowed origin refused');
    assert.ok(origin, 'the origin refusal is logged');
    assert.equal(origin.span?.client, '127.0.0.1', JSON.stringify(origin));
    assert.equal(origin.span?.path, '/api/chats');

    const everything = server.output.join('');
    for (const secret of [alice.token, bob.token, secretContent]) {
      assert.ok(!everything.includes(secret), 'no token or message content in the logs');
    }
  });
});
