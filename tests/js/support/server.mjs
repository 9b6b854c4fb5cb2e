// The end-to-end harness: runs the real `lockstep` binary on a free port
// against a fresh SQLite file or a fresh PostgreSQL database, waits for
// `GET /health`, mints tokens with `lockstep token`, and cleans up.
//
// Environment:
//   LOCKSTEP_BIN                 the binary (default: <repo>/target/debug/lockstep)
//   LOCKSTEP_TEST_POSTGRES_URL   an admin connection used to CREATE/DROP the
//                                per-server test databases
//                                (default: postgres://postgres@127.0.0.1:5432/test)
//   LOCKSTEP_REQUIRE_POSTGRES=1  fail instead of skipping when PostgreSQL is unreachable
//   LOCKSTEP_E2E_VERBOSE=1       stream every server's output to stderr
//   LOCKSTEP_E2E_LOG_DIR         where server logs are kept (default: $TMPDIR/lockstep-e2e-logs)
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** tests/js */
export const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The repository root. */
export const REPO_ROOT = resolve(JS_DIR, '..', '..');

/** The secret every test server signs with (32+ bytes: shorter secrets are refused). */
export const SECRET = 'lockstep-e2e-secret-0123456789abcdef';

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const POSTGRES_ADMIN_URL = process.env.LOCKSTEP_TEST_POSTGRES_URL || DEFAULT_POSTGRES_URL;
const REQUIRE_POSTGRES = process.env.LOCKSTEP_REQUIRE_POSTGRES === '1';
const VERBOSE = process.env.LOCKSTEP_E2E_VERBOSE === '1';
export const LOG_DIR = process.env.LOCKSTEP_E2E_LOG_DIR || join(tmpdir(), 'lockstep-e2e-logs');

const HEALTH_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 20_000;

/** The binary under test; throws a clear message when it was not built. */
export function binaryPath() {
  const path = process.env.LOCKSTEP_BIN || join(REPO_ROOT, 'target', 'debug', 'lockstep');
  if (!existsSync(path)) {
    throw new Error(
      `the lockstep binary is missing at ${path}: build it with \`cargo build -p lockstep\` ` +
        'at the repository root, or point LOCKSTEP_BIN at it',
    );
  }
  return path;
}

/** A short random suffix for unique ids. */
export function rand(bytes = 5) {
  return randomBytes(bytes).toString('hex');
}

/** A unique id with a readable prefix, e.g. `alice-3f9a0c12de`. */
export function uid(prefix = 'id') {
  return `${prefix}-${rand()}`;
}

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((done, fail) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

// ---------------------------------------------------------------- PostgreSQL

let pgModule;
async function pg() {
  pgModule ??= (await import('pg')).default;
  return pgModule;
}

async function withAdmin(work) {
  const { Client } = await pg();
  const client = new Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

let postgresProbe;
/**
 * Whether PostgreSQL can be used: `{ available, reason }`. Probed once per
 * process. With LOCKSTEP_REQUIRE_POSTGRES=1 an unreachable server throws.
 */
export async function postgresStatus() {
  postgresProbe ??= (async () => {
    try {
      await withAdmin((client) => client.query('SELECT 1'));
      return { available: true, reason: '' };
    } catch (error) {
      return { available: false, reason: `${POSTGRES_ADMIN_URL}: ${error.message || error}` };
    }
  })();
  const status = await postgresProbe;
  if (!status.available && REQUIRE_POSTGRES) {
    throw new Error(`LOCKSTEP_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable (${status.reason})`);
  }
  return status;
}

const announced = new Set();
/**
 * The databases every server test file runs its suites on:
 * `[{ name: 'sqlite', skip: false }, { name: 'postgres', skip: false | 'reason' }]`.
 * Use with `for (const db of await databases()) describe(`… [${db.name}]`, { skip: db.skip }, …)`.
 */
export async function databases() {
  const status = await postgresStatus();
  if (!status.available && !announced.has('pg')) {
    announced.add('pg');
    console.log(`skipping PostgreSQL: ${status.reason}`);
  }
  return [
    { name: 'sqlite', skip: false },
    { name: 'postgres', skip: status.available ? false : `skipping PostgreSQL: ${status.reason}` },
  ];
}

/** A fresh PostgreSQL database `{ name, url }`; drop it with dropPostgresDatabase. */
export async function createPostgresDatabase() {
  const name = `lockstep_e2e_${rand(6)}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

export async function dropPostgresDatabase(name) {
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

// ---------------------------------------------------------------- tokens

/**
 * Mints a token with the real binary (`lockstep token`). Options:
 * profileid, username, ttl ('1h'), userId, email, displayname, avatar,
 * permissions (object), refresh (bool), secret.
 */
export async function mintToken({
  profileid,
  username = profileid,
  ttl = '1h',
  userId,
  email,
  displayname,
  avatar,
  permissions,
  refresh = false,
  secret = SECRET,
} = {}) {
  if (!profileid) throw new Error('mintToken needs a profileid');
  const args = ['token', '--profile-id', profileid, '--username', username, '--ttl', ttl];
  if (userId !== undefined) args.push('--user-id', userId);
  if (email !== undefined) args.push('--email', email);
  if (displayname !== undefined) args.push('--displayname', displayname);
  if (avatar !== undefined) args.push('--avatar', avatar);
  if (permissions !== undefined) args.push('--permissions', JSON.stringify(permissions));
  if (refresh) args.push('--refresh');
  const { stdout } = await execFileAsync(binaryPath(), args, {
    env: { ...process.env, LOCKSTEP_JWT_SECRET: secret },
  });
  const token = stdout.trim();
  if (token.split('.').length !== 3) throw new Error(`lockstep token printed no JWT: ${JSON.stringify(stdout)}`);
  return token;
}

// ---------------------------------------------------------------- the server

let serverCount = 0;

/** Server logs are kept for a day (to read after a failure), then swept. */
function sweepOldLogs() {
  try {
    const cutoff = Date.now() - 24 * 3600 * 1000;
    for (const name of readdirSync(LOG_DIR)) {
      const path = join(LOG_DIR, name);
      if (statSync(path).mtimeMs < cutoff) rmSync(path, { force: true });
    }
  } catch {
    // best effort
  }
}

/**
 * Starts `lockstep serve` on a free port with a fresh database.
 *
 * @param {object} [options]
 * @param {'sqlite'|'postgres'} [options.database]
 * @param {Record<string,string>} [options.env]  extra environment
 * @param {string[]} [options.args]              extra `serve` flags
 * @param {string} [options.name]                a label for logs
 */
export async function startServer({ database = 'sqlite', env = {}, args = [], name = '', databaseUrl: sharedUrl } = {}) {
  const bin = binaryPath();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-e2e-'));
  let pgDatabase = null;
  let databaseUrl;
  if (sharedUrl) {
    // A database shared by several servers (a cluster): its owner drops it.
    databaseUrl = sharedUrl;
  } else if (database === 'postgres') {
    pgDatabase = await createPostgresDatabase();
    databaseUrl = pgDatabase.url;
  } else if (database === 'sqlite') {
    databaseUrl = `sqlite://${join(dir, 'lockstep.db')}`;
  } else {
    throw new Error(`unknown database ${database}`);
  }
  mkdirSync(LOG_DIR, { recursive: true });
  if (serverCount === 0) sweepOldLogs();
  serverCount += 1;
  const label = `${name || 'server'}-${database}-${process.pid}-${serverCount}-${port}`;
  const logFile = join(LOG_DIR, `${label}.log`);

  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    database,
    databaseUrl,
    dir,
    logFile,
    secret: SECRET,
    /** The live child process, or null. */
    child: null,
    /** Resolves with { code, signal } when the current child exits. */
    exited: null,
    /** Sockets opened through client.connect(), closed by stop(). */
    sockets: new Set(),
    /** Every successful send_message ack, for history checks: { chatid, serverMessageId, clientMessageId, token }. */
    acked: [],
    output: [],
  };

  const serveArgs = [
    'serve',
    '--bind',
    `127.0.0.1:${port}`,
    '--database-url',
    databaseUrl,
    '--jwt-secret',
    SECRET,
    ...args,
  ];

  function record(stream, chunk) {
    const text = chunk.toString();
    server.output.push(text);
    if (server.output.length > 400) server.output.splice(0, server.output.length - 400);
    try {
      appendFileSync(logFile, text);
    } catch {
      // logs are best effort
    }
    if (VERBOSE) process.stderr.write(`[${label} ${stream}] ${text}`);
  }

  function spawnChild() {
    const child = spawn(bin, serveArgs, {
      cwd: dir,
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk) => record('out', chunk));
    child.stderr.on('data', (chunk) => record('err', chunk));
    server.child = child;
    server.exited = new Promise((done) => {
      child.on('exit', (code, signal) => {
        record('exit', `\n[process exited: code=${code} signal=${signal}]\n`);
        if (server.child === child) server.child = null;
        done({ code, signal });
      });
      child.on('error', (error) => {
        record('exit', `\n[spawn error: ${error.message}]\n`);
        if (server.child === child) server.child = null;
        done({ code: null, signal: null, error });
      });
    });
    return child;
  }

  /** The last lines the server printed, for failure messages. */
  server.logs = (lines = 80) => server.output.join('').split('\n').slice(-lines).join('\n');

  async function waitHealthy() {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (!server.child) {
        throw new Error(`lockstep exited before answering /health (${label}):\n${server.logs()}`);
      }
      try {
        const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
        if (response.status === 200) return;
        last = `status ${response.status}`;
      } catch (error) {
        last = error.cause?.code || error.message;
      }
      await sleep(100);
    }
    throw new Error(
      `lockstep did not answer GET /health with 200 within ${HEALTH_TIMEOUT_MS} ms (${last}); ` +
        `its output (${logFile}):\n${server.logs()}`,
    );
  }

  async function boot() {
    spawnChild();
    try {
      await waitHealthy();
    } catch (error) {
      await server.kill9();
      throw error;
    }
  }

  /** Closes every client socket this harness opened to the server. */
  server.closeSockets = () => {
    for (const socket of server.sockets) socket.close();
    server.sockets.clear();
  };

  /** Sends a signal and waits for the exit; resolves with { code, signal, ms }. */
  server.signal = async (signal, timeoutMs = STOP_TIMEOUT_MS) => {
    const child = server.child;
    if (!child) return { code: null, signal: null, ms: 0, notRunning: true };
    const started = Date.now();
    const exited = server.exited;
    child.kill(signal);
    const outcome = await Promise.race([exited, sleep(timeoutMs).then(() => null)]);
    if (outcome === null) {
      child.kill('SIGKILL');
      const killed = await exited;
      return { ...killed, ms: Date.now() - started, timedOut: true };
    }
    return { ...outcome, ms: Date.now() - started };
  };

  /** SIGKILL, and wait until the process is gone. */
  server.kill9 = async () => server.signal('SIGKILL');

  /** Graceful stop of the process only (database and files stay). */
  server.shutdown = async () => server.signal('SIGTERM');

  /** Stops (if running) and starts again on the same port and database. */
  server.restart = async ({ kill = false } = {}) => {
    server.closeSockets();
    if (server.child) {
      if (kill) await server.kill9();
      else await server.shutdown();
    }
    await boot();
  };

  /** Stops the server and removes its database and files. */
  server.stop = async () => {
    server.closeSockets();
    if (server.child) await server.shutdown();
    if (pgDatabase) {
      await dropPostgresDatabase(pgDatabase.name).catch((error) => {
        console.error(`could not drop ${pgDatabase.name}: ${error.message}`);
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };

  /** Mints a token signed with this server's secret (see mintToken). */
  server.token = (options) => mintToken({ secret: SECRET, ...options });

  /** Whether GET /health answers 200 right now. */
  server.healthy = async () => {
    try {
      const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(2_000) });
      return response.status === 200;
    } catch {
      return false;
    }
  };

  try {
    await boot();
  } catch (error) {
    if (pgDatabase) await dropPostgresDatabase(pgDatabase.name).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}
