// Helpers for the operations tests (issue 5): the Prometheus text format,
// the probes, heartbeat answering, a private Redis, config files, and
// dropping a PostgreSQL database under a running server.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { DEFAULT_POSTGRES_URL, binaryPath, freePort, sleep } from './server.mjs';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------- Prometheus

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);
const LABEL = new RegExp(`^(${NAME})="((?:[^"\\\\]|\\\\.)*)"\\s*(?:,\\s*|$)`);

/** Parses the label set inside `{…}` into an object; throws on bad syntax. */
function parseLabels(text, line) {
  const labels = {};
  let rest = text.trim();
  while (rest.length) {
    const match = LABEL.exec(rest);
    if (!match) throw new Error(`bad label set in ${JSON.stringify(line)}`);
    labels[match[1]] = match[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    rest = rest.slice(match[0].length);
  }
  return labels;
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function parseValue(text, line) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!NUMBER.test(text)) throw new Error(`bad value in ${JSON.stringify(line)}`);
  return Number(text);
}

/**
 * A small parser of the Prometheus text exposition format (0.0.4). Returns
 * `{ samples: [{ name, labels, value }], types: Map(name -> type), help: Map }`.
 * Throws on any line that is not a comment, a TYPE/HELP line or a sample.
 */
export function parsePrometheus(text) {
  const samples = [];
  const types = new Map();
  const help = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    if (line.startsWith('#')) {
      const meta = /^#\s+(TYPE|HELP)\s+(\S+)\s*(.*)$/.exec(line);
      if (meta?.[1] === 'TYPE') {
        assert.match(meta[3], /^(counter|gauge|histogram|summary|untyped)$/, `TYPE line: ${line}`);
        types.set(meta[2], meta[3]);
      } else if (meta?.[1] === 'HELP') {
        help.set(meta[2], meta[3]);
      }
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample: ${JSON.stringify(line)}`);
    samples.push({ name: match[1], labels: match[2] ? parseLabels(match[2], line) : {}, value: parseValue(match[3], line) });
  }
  return { samples, types, help };
}

/** Whether `labels` contains every pair of `wanted`. */
function matches(labels, wanted) {
  return Object.entries(wanted).every(([key, value]) => labels[key] === String(value));
}

/** The samples of metric `name` whose labels include `labels`. */
export function series(scrape, name, labels = {}) {
  return scrape.samples.filter((sample) => sample.name === name && matches(sample.labels, labels));
}

/** The sum of the matching samples (0 when there are none). */
export function value(scrape, name, labels = {}) {
  return series(scrape, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}

/** GET /metrics, checked and parsed. */
export async function scrape(server) {
  const response = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, 'GET /metrics answers 200');
  assert.match(response.headers.get('content-type') || '', /^text\/plain/, 'the Prometheus text format');
  const text = await response.text();
  const parsed = parsePrometheus(text);
  parsed.text = text;
  return parsed;
}

/** Scrapes until `check(scrape)` holds (metrics of a reply may land just after it). */
export async function scrapeUntil(server, check, { timeout = 5_000, what = 'the metrics to move' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await scrape(server);
    if (check(last)) return last;
    if (Date.now() > deadline) {
      const lines = last.text.split('\n').filter((l) => l.startsWith('lockstep_') && !l.includes('_bucket'));
      throw new assert.AssertionError({ message: `timed out waiting for ${what}; the last scrape:\n${lines.join('\n')}` });
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------- probes

/** GET `path` as JSON: `{ status, body, ms, headers }`. */
export async function getJson(server, path, headers = {}) {
  const started = Date.now();
  const response = await fetch(`${server.url}${path}`, { headers, signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text, ms: Date.now() - started, headers: response.headers };
}

/** Polls GET `path` until `check(response)` holds. */
export async function pollJson(server, path, check, { timeout = 15_000, what = `${path} to change` } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await getJson(server, path);
    if (check(last)) return last;
    if (Date.now() > deadline) {
      throw new assert.AssertionError({ message: `timed out waiting for ${what}; last: ${last.status} ${last.text}` });
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------- heartbeats

/**
 * Answers the server's `heartbeat` and `ping` the way the contract says a
 * client does. Returns what was answered: `{ heartbeats, pings }`.
 */
export function answerHeartbeats(socket) {
  const answered = { heartbeats: [], pings: [] };
  socket.on('heartbeat', (payload) => {
    answered.heartbeats.push(payload);
    socket.emit('heartbeat_response', { timestamp: payload.timestamp, clientTime: new Date().toISOString() });
  });
  socket.on('ping', (timestamp) => {
    answered.pings.push(timestamp);
    socket.emit('pong', timestamp);
  });
  return answered;
}

// ---------------------------------------------------------------- Redis

/** Whether `redis-server` can be run here: `{ available, reason }`. */
export async function redisServerStatus() {
  try {
    await execFileAsync('redis-server', ['--version']);
    return { available: true, reason: '' };
  } catch (error) {
    return { available: false, reason: `redis-server cannot be run: ${error.code || error.message}` };
  }
}

/**
 * A private Redis on a free port (no persistence), for tests that stop it.
 * Resolves with `{ url, port, stop() }` once it answers PING.
 */
export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((done) => child.on('exit', done));
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const { stdout } = await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping']);
      if (stdout.trim() === 'PONG') break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not start on ${port}:\n${output}`);
    }
    await sleep(100);
  }
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (!stopped) {
        stopped = true;
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- PostgreSQL

/** Drops the database of a server started with `database: 'postgres'`, under it. */
export async function dropServerDatabase(server) {
  const name = new URL(server.databaseUrl).pathname.slice(1);
  assert.match(name, /^lockstep_e2e_[0-9a-f]+$/, 'only a test database is dropped');
  const { Client } = (await import('pg')).default;
  const admin = new Client({
    connectionString: process.env.LOCKSTEP_TEST_POSTGRES_URL || DEFAULT_POSTGRES_URL,
    connectionTimeoutMillis: 5_000,
  });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end().catch(() => {});
  }
}

// ---------------------------------------------------------------- config

/** Writes a TOML config file in a fresh directory; `{ path, remove() }`. */
export function configFile(text) {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-config-'));
  const path = join(dir, 'lockstep.toml');
  writeFileSync(path, text);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the binary to completion: `{ code, stdout, stderr }`. */
export async function runBinary(args, { env = {}, timeout = 20_000 } = {}) {
  try {
    const { stdout, stderr } = await execFileAsync(binaryPath(), args, {
      env: { ...process.env, ...env },
      timeout,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return { code: error.code, stdout: error.stdout || '', stderr: error.stderr || '' };
  }
}

/** Every line of a server's output that is a JSON object (for `--log-format json`). */
export function jsonLogLines(server) {
  return server.output
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return null;
      }
    })
    .filter(Boolean);
}
