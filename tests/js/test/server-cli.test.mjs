// The first run and operations, as a new user and an operator meet them:
// every start-up and `migrate` failure is one actionable line (the thing
// named, the cause, a hint), config-file mistakes name the file and line,
// short secrets are refused, `lockstep init` writes a config that parses,
// the server introduces itself (start-up line, `GET /`), every documented
// metric exists at zero from the first scrape, and shell completions and
// the man page generate.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import { REPO_ROOT, SECRET, binaryPath, freePort, sleep, startServer } from '../support/index.mjs';
import { configFile, jsonLogLines, scrape } from '../support/ops.mjs';

const execFileAsync = promisify(execFile);

const T = { timeout: 60_000 };
/** "Fail fast": a dependency that refuses connections is reported within this. */
const FAIL_FAST_MS = 5_000;

const CONTRACT_VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'contract', 'manifest.json'), 'utf8')).version;
const SERVER_VERSION = /^version\s*=\s*"([^"]+)"/m.exec(readFileSync(join(REPO_ROOT, 'server', 'Cargo.toml'), 'utf8'))[1];

/** A TCP port nothing listens on (bound, learnt, closed). */
async function closedPort() {
  return freePort();
}

/** Holds a port open for the duration of `work`. */
async function withPortTaken(work) {
  const holder = net.createServer();
  await new Promise((done) => holder.listen(0, '127.0.0.1', done));
  try {
    return await work(holder.address().port);
  } finally {
    await new Promise((done) => holder.close(done));
  }
}

function scratchDir() {
  return mkdtempSync(join(tmpdir(), 'lockstep-cli-'));
}

/** This process's environment without LOCKSTEP_* settings. */
function withoutLockstepSettings() {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('LOCKSTEP_')));
}

/** Runs the binary with no inherited LOCKSTEP_* settings. */
async function run(args, env = {}) {
  const started = Date.now();
  try {
    const { stdout, stderr } = await execFileAsync(binaryPath(), args, {
      env: { ...withoutLockstepSettings(), ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr, ms: Date.now() - started };
  } catch (error) {
    return { code: error.code, stdout: error.stdout || '', stderr: error.stderr || '', ms: Date.now() - started };
  }
}

/** The non-empty lines of `text`. */
const lines = (text) => text.split('\n').filter((line) => line.trim() !== '');

describe('start-up and migrate failures: one line, the thing named, the cause, a hint', () => {
  let dir;
  before(() => {
    dir = scratchDir();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // [name, () => { args, env?, then? }, [strings the line must contain]]
  const cases = [
    [
      'serve: PostgreSQL refuses connections',
      async () => {
        const port = await closedPort();
        return { args: ['serve', '--jwt-secret', SECRET, '--database-url', `postgres://lockstep:hunter2@127.0.0.1:${port}/db`], port };
      },
      ({ port }) => [`127.0.0.1:${port}`, 'connection refused', `is PostgreSQL running on 127.0.0.1:${port}`, '--database-url'],
    ],
    [
      'migrate: PostgreSQL refuses connections',
      async () => {
        const port = await closedPort();
        return { args: ['migrate', '--database-url', `postgres://postgres@127.0.0.1:${port}/test`], port };
      },
      ({ port }) => [`127.0.0.1:${port}`, 'connection refused', `is PostgreSQL running on 127.0.0.1:${port}`],
    ],
    [
      'serve: Redis refuses connections',
      async () => {
        const port = await closedPort();
        return {
          args: ['serve', '--jwt-secret', SECRET, '--database-url', `sqlite://${join(dir, 'redis-down.db')}`, '--redis-url', `redis://127.0.0.1:${port}`],
          port,
          untouched: join(dir, 'redis-down.db'),
        };
      },
      ({ port }) => [`127.0.0.1:${port}`, 'connection refused', `is Redis running on 127.0.0.1:${port}`, '--redis-url'],
    ],
    [
      'serve: the Redis URL does not parse',
      async () => ({
        args: ['serve', '--jwt-secret', SECRET, '--database-url', `sqlite://${join(dir, 'redis-bad.db')}`, '--redis-url', 'notredis'],
        untouched: join(dir, 'redis-bad.db'),
      }),
      () => ['notredis', 'redis://HOST:PORT', 'LOCKSTEP_REDIS_URL'],
    ],
    [
      "serve: the SQLite file's directory does not exist",
      async () => ({ args: ['serve', '--jwt-secret', SECRET, '--database-url', `sqlite://${join(dir, 'no', 'such', 'x.db')}`] }),
      () => [join(dir, 'no', 'such', 'x.db'), `create the directory ${join(dir, 'no', 'such')}`],
    ],
    [
      "migrate: the SQLite file's directory does not exist",
      async () => ({ args: ['migrate', '--database-url', `sqlite://${join(dir, 'none', 'x.db')}`] }),
      () => [join(dir, 'none', 'x.db'), `create the directory ${join(dir, 'none')}`],
    ],
    [
      'serve: the port is in use (checked before the database and the banner)',
      async (port) => ({ args: ['serve', '--bind', `127.0.0.1:${port}`, '--database-url', `sqlite://${join(dir, 'port.db')}`], port, untouched: join(dir, 'port.db'), noBanner: true }),
      ({ port }) => [`127.0.0.1:${port}`, 'already in use', '--bind or LOCKSTEP_BIND'],
    ],
    [
      'serve: a JWT secret shorter than 32 bytes',
      async () => ({ args: ['serve', '--jwt-secret', 'abc', '--database-url', `sqlite://${join(dir, 'weak.db')}`], untouched: join(dir, 'weak.db') }),
      () => ['3 bytes', 'at least 32', 'openssl rand -hex 32'],
    ],
    [
      'token: a JWT secret shorter than 32 bytes',
      async () => ({ args: ['token', '--profile-id', 'p', '--username', 'u'], env: { LOCKSTEP_JWT_SECRET: 'short-secret' } }),
      () => ['12 bytes', 'at least 32', 'openssl rand -hex 32'],
    ],
    [
      'token: no secret at all',
      async () => ({ args: ['token', '--profile-id', 'p', '--username', 'u'] }),
      () => ['no JWT secret configured', '--jwt-secret', 'LOCKSTEP_JWT_SECRET', '--config'],
    ],
  ];

  for (const [name, setup, expected] of cases) {
    test(name, T, async () => {
      const body = async (takenPort) => {
        const input = await setup(takenPort);
        const { code, stderr, ms } = await run(input.args, input.env);
        assert.notEqual(code, 0, `exit code for ${name}`);
        assert.equal(code, 1, `a failure exits 1: ${stderr}`);
        assert.deepEqual(lines(stderr).length, 1, `one line on stderr:\n${stderr}`);
        const [line] = lines(stderr);
        assert.match(line, /^lockstep: error: .+; hint: .+/, line);
        for (const part of expected(input)) assert.ok(line.includes(part), `${JSON.stringify(part)} missing in: ${line}`);
        assert.doesNotMatch(stderr, /panicked|backtrace|RUST_BACKTRACE/);
        assert.doesNotMatch(line, /hunter2/, 'passwords are redacted');
        assert.ok(ms < FAIL_FAST_MS, `failed within ${FAIL_FAST_MS} ms (took ${ms} ms)`);
        if (input.untouched) assert.ok(!existsSync(input.untouched), `${input.untouched} was not created`);
        if (input.noBanner) assert.doesNotMatch(stderr, /DEVELOPMENT MODE/);
      };
      if (name.includes('port is in use')) await withPortTaken(body);
      else await body();
    });
  }
});

describe('config files: errors name the file, the line and the nearest key', () => {
  for (const [text, expected] of [
    ['# a comment\nheartbeat-interval = "soon"\n', ['line 2', '`heartbeat-interval = "soon"`', 'invalid value']],
    ['heartbeat-intervall = 3\n', ['line 1', 'unknown key `heartbeat-intervall`', 'did you mean `heartbeat-interval`?']],
    ['bind =\n', ['line 1', 'not valid TOML']],
  ]) {
    test(`${JSON.stringify(text)} is refused with serve's usage`, T, async () => {
      const file = configFile(text);
      try {
        const { code, stderr } = await run(['serve', '--config', file.path, '--bind', '127.0.0.1:0']);
        assert.equal(code, 2, stderr);
        assert.ok(stderr.includes(file.path), `names the file: ${stderr}`);
        for (const part of expected) assert.ok(stderr.includes(part), `${part} missing in: ${stderr}`);
        assert.ok(stderr.includes('Usage: lockstep serve'), `serve's usage: ${stderr}`);
        assert.doesNotMatch(stderr, /panicked/);
      } finally {
        file.remove();
      }
    });
  }

  test('lockstep token reads jwt-secret from --config', T, async () => {
    const file = configFile(`jwt-secret = "${SECRET}"\n`);
    try {
      const { code, stdout, stderr } = await run(['token', '--profile-id', 'p', '--username', 'u', '--config', file.path]);
      assert.equal(code, 0, stderr);
      assert.equal(stdout.trim().split('.').length, 3, 'a JWT');
    } finally {
      file.remove();
    }
  });
});

describe('lockstep init: a commented config with every setting', () => {
  test('writes the file once, which parses as is and with every setting uncommented', T, async () => {
    const dir = scratchDir();
    const path = join(dir, 'lockstep.toml');
    try {
      const first = await run(['init', '--output', path]);
      assert.equal(first.code, 0, first.stderr);
      const again = await run(['init', '--output', path]);
      assert.equal(again.code, 1, 'no silent overwrite');
      assert.match(again.stderr, /already exists; hint: pass --force/);

      const text = readFileSync(path, 'utf8');
      const { stdout: help } = await run(['serve', '--help']);
      const flags = [...help.matchAll(/^\s+--([a-z][a-z-]+)/gm)].map((m) => m[1]).filter((f) => !['config', 'help', 'version'].includes(f));
      assert.ok(flags.length > 15, `serve has many flags: ${flags}`);
      for (const flag of flags) assert.match(text, new RegExp(`^# ${flag} = `, 'm'), `${flag} is in the example`);

      // Every setting uncommented (Redis left out: none may be running).
      const settings = text
        .split('\n')
        .filter((line) => /^# [a-z-]+ = /.test(line) && !line.startsWith('# redis-url'))
        .map((line) => line.slice(2))
        .join('\n');
      writeFileSync(path, `${settings}\n`);
      // Uncommented as is, the placeholder secret is refused with how to make one.
      const placeholder = await run(['serve', '--config', path, '--bind', '127.0.0.1:0']);
      assert.equal(placeholder.code, 1, placeholder.stderr);
      assert.match(placeholder.stderr, /JWT secret is \d+ bytes long.*openssl rand -hex 32/);
      const server = await startServer({ name: 'cli-init', args: ['--config', path] });
      try {
        const response = await fetch(`${server.url}/health`);
        assert.equal(response.status, 200);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the server introduces itself', () => {
  test('production mode: the structured start-up line, and GET / names the service and its versions', T, async () => {
    const server = await startServer({ name: 'cli-about', args: ['--log-format', 'json'] });
    try {
      const line = jsonLogLines(server).find((entry) => entry.message === 'lockstep is listening');
      assert.ok(line, `a start-up line:\n${server.logs()}`);
      assert.equal(line.listen, `127.0.0.1:${server.port}`);
      assert.equal(line.database, 'sqlite');
      assert.equal(line.database_location, server.databaseUrl.replace('sqlite://', ''));
      assert.equal(line.redis, 'none');
      assert.equal(line.mode, 'production');
      assert.equal(line.contract_version, CONTRACT_VERSION);
      assert.equal(line.version, SERVER_VERSION);
      assert.equal(line.demo, undefined, 'no demo link outside development mode');
      assert.ok(!jsonLogLines(server).some((entry) => entry.message === 'starting lockstep'), 'no Debug dump of the config');

      const response = await fetch(`${server.url}/`, { redirect: 'manual' });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {
        service: 'lockstep',
        version: SERVER_VERSION,
        contractVersion: CONTRACT_VERSION,
        health: '/health',
        ready: '/ready',
        metrics: '/metrics',
      });
    } finally {
      await server.stop();
    }
  });

  test('development mode, --bind with a host name: the demo URL in the start-up line and GET / redirects to /demo', T, async () => {
    const dir = scratchDir();
    const port = await freePort();
    const child = spawn(binaryPath(), ['serve', '--bind', `localhost:${port}`, '--log-format', 'json', '--database-url', `sqlite://${join(dir, 'dev.db')}`], {
      cwd: dir,
      env: { ...withoutLockstepSettings(), RUST_LOG: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise((done) => child.on('exit', done));
    try {
      const deadline = Date.now() + 20_000;
      let startup;
      while (!startup && Date.now() < deadline) {
        startup = output
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line))
          .find((entry) => entry.message === 'lockstep is listening');
        if (!startup) await sleep(100);
      }
      assert.ok(startup, `no start-up line:\n${output}`);
      assert.equal(startup.listen, `127.0.0.1:${port}`, 'localhost resolved');
      assert.equal(startup.mode, 'development');
      assert.equal(startup.demo, `http://127.0.0.1:${port}/demo`);
      assert.match(output, /DEVELOPMENT MODE/);
      const response = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual' });
      assert.equal(response.status, 307);
      assert.equal(response.headers.get('location'), '/demo');
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('migrate says what it applied, then that the schema is up to date', T, async () => {
    const dir = scratchDir();
    try {
      const url = `sqlite://${join(dir, 'm.db')}`;
      const first = await run(['migrate', '--database-url', url]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /migrations applied .*count=\d+ applied=\[".+"\]/);
      const second = await run(['migrate', '--database-url', url]);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /the schema was up to date: nothing to apply/);
      assert.doesNotMatch(second.stdout, /migrations applied/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics from the first scrape', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'cli-metrics' });
  });
  after(async () => {
    await server?.stop();
  });

  /** README.md's metrics table: name → type. */
  function documented() {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| (gauge|counter|histogram) \|/gm)];
    return new Map(rows.map((row) => [row[1], row[2]]));
  }

  test("every metric in README's table is exported with its type, and nothing undocumented is", T, async () => {
    const table = documented();
    assert.ok(table.size > 20, `README documents the metrics: ${[...table.keys()]}`);
    const metrics = await scrape(server);
    for (const [name, type] of table) {
      assert.equal(metrics.types.get(name), type, `${name} is exported as a ${type}`);
      const samples = metrics.samples.filter((s) => s.name === name || s.name === `${name}_count`);
      assert.ok(samples.length > 0, `${name} has a series on a fresh server`);
    }
    for (const name of metrics.types.keys()) assert.ok(table.has(name), `${name} is exported but not in README's metrics table`);
  });

  test('the counters worth alerting on exist at zero; process metrics are real', T, async () => {
    const metrics = await scrape(server);
    const sum = (name, labels = {}) =>
      metrics.samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((total, s) => total + s.value, 0);
    const count = (name, labels = {}) =>
      metrics.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).length;
    assert.equal(sum('lockstep_offline_queued_total'), 0);
    assert.equal(count('lockstep_offline_queued_total'), 1);
    assert.ok(count('lockstep_db_query_errors_total', { op: 'insert_message', kind: 'unavailable' }) === 1);
    assert.equal(sum('lockstep_db_query_errors_total'), 0);
    assert.equal(count('lockstep_refusals_total', { code: 'RATE_LIMITED' }), 1);
    assert.equal(count('lockstep_events_received_total', { event: 'send_message' }), 1);
    assert.ok(sum('process_resident_memory_bytes') > 1_000_000, 'resident memory');
    assert.ok(sum('process_open_fds') > 3, 'open file descriptors');
    const started = sum('process_start_time_seconds');
    assert.ok(Math.abs(started - Date.now() / 1000) < 600, `start time ${started}`);
  });
});

describe('shell completions and the man page', () => {
  for (const shell of ['bash', 'zsh', 'fish', 'elvish', 'powershell']) {
    test(`lockstep completions ${shell}`, T, async () => {
      const { code, stdout, stderr } = await run(['completions', shell]);
      assert.equal(code, 0, stderr);
      for (const word of ['serve', 'migrate', 'token', 'database-url']) assert.ok(stdout.includes(word), `${shell}: ${word}`);
    });
  }

  test('lockstep man prints roff for lockstep and each subcommand', T, async () => {
    const { code, stdout, stderr } = await run(['man']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^\.TH lockstep /m);
    assert.match(stdout, /^\.TH lockstep-serve /m);
    assert.ok(stdout.includes('database\\-url'), 'flags are documented');
  });

  test('an unknown shell is a usage error', T, async () => {
    const { code, stderr } = await run(['completions', 'tcsh']);
    assert.equal(code, 2);
    assert.match(stderr, /invalid value 'tcsh'/);
  });
});
