// @lockstep/client as a package: client/dist is what client/src and
// generated/client build (CI fails on a stale dist); `npm pack` of the
// package, installed with the contract package it depends on into a fresh
// scratch project (offline: every tarball is packed from this checkout and
// tests/js/node_modules), type-checks under tsc --strict there and talks to
// the real binary; it is tree-shakeable, and the README states its size.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

import { JS_DIR, REPO_ROOT, createChat, startServer, users } from '../support/index.mjs';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const CLIENT_DIR = join(REPO_ROOT, 'client');
const CONTRACT_DIR = join(REPO_ROOT, 'generated', 'ts');
const T = { timeout: 180_000 };

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const npm = (args, cwd) => run('npm', [...args, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd, maxBuffer: 16 * 1024 * 1024 });

/** Where `name` is installed as seen from `dir` (Node's lookup: nearest node_modules up to tests/js). */
function installedDir(name, dir) {
  for (let at = dir; at.startsWith(JS_DIR); at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (at === JS_DIR) break;
  }
  throw new Error(`${name} is not installed in tests/js (run npm ci there)`);
}

/** socket.io-client and every package it needs at run time, as installed in tests/js. */
function runtimeClosure() {
  const found = new Map();
  const visit = (name, from) => {
    const dir = installedDir(name, from);
    if (found.has(dir)) return;
    found.set(dir, name);
    for (const dep of Object.keys(readJson(join(dir, 'package.json')).dependencies ?? {})) visit(dep, dir);
  };
  visit('socket.io-client', JS_DIR);
  return [...found.keys()];
}

/** The bytes of esbuild's minified bundle of `entry`, without socket.io-client, and gzipped. */
async function bundleSize(entry, cwd) {
  const esbuild = require('esbuild');
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: cwd, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    external: ['socket.io-client'],
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

test('client/dist is what client/src and generated/client build', T, async () => {
  const { stdout } = await run(process.execPath, [join(CLIENT_DIR, 'build.mjs'), '--check']);
  assert.match(stdout, /up to date/);
});

test('package.json: ESM with types, side-effect free, depending on this contract version and socket.io-client', () => {
  const pkg = readJson(join(CLIENT_DIR, 'package.json'));
  const contract = readJson(join(CONTRACT_DIR, 'package.json'));
  assert.equal(pkg.name, '@lockstep/client');
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.exports['.'], { types: './dist/index.d.ts', default: './dist/index.js' });
  assert.equal(pkg.sideEffects, false, 'tree-shakeable');
  assert.equal(pkg.dependencies['@lockstep/contract'], contract.version, 'the contract it was generated from');
  assert.ok(pkg.dependencies['socket.io-client'], 'depends on socket.io-client');
});

describe('npm pack, installed into a fresh project', () => {
  let scratch;
  let app;
  let server;
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'lockstep-client-pack-'));
    const tarballs = join(scratch, 'tarballs');
    mkdirSync(tarballs);
    const pack = async (dir) => {
      const { stdout } = await npm(['pack', dir, '--pack-destination', tarballs, '--json'], scratch);
      return JSON.parse(stdout)[0];
    };
    const client = await pack(CLIENT_DIR);
    const files = client.files.map((f) => f.path).sort();
    assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts') && files.includes('README.md'), files.join(' '));
    assert.ok(!files.some((f) => f.startsWith('src/') || f === 'build.mjs'), `only dist/ and the README ship: ${files.join(' ')}`);
    const contract = await pack(CONTRACT_DIR);
    const dependencies = [];
    for (const dir of runtimeClosure()) dependencies.push((await pack(dir)).filename);

    app = join(scratch, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
    const all = [client.filename, contract.filename, ...dependencies].map((f) => join(tarballs, f));
    await npm(['install', '--offline', ...all], app);
    server = await startServer({ name: 'client-package' });
  });
  after(async () => {
    await server?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('the installed package type-checks under tsc --strict', T, async () => {
    writeFileSync(
      join(app, 'check.ts'),
      [
        "import { createClient } from '@lockstep/client';",
        "import type { Message } from '@lockstep/contract';",
        "const client = createClient({ url: 'http://localhost:3000', profileid: 'p-alice', token: 't' });",
        'export async function send(chatid: string): Promise<number> {',
        "  const ack = await client.sendMessage({ chatid, messageType: 'text', content: 'hi' });",
        '  return ack.success ? ack.seq : -1;',
        '}',
        'client.onMessage((message: Message) => console.log(message.seq));',
        '',
      ].join('\n'),
    );
    const compilerOptions = { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['check.ts'] }));
    await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app }).catch((error) => {
      assert.fail(`tsc refused the scratch project:\n${error.stdout}${error.stderr}`);
    });
  });

  test('the installed package connects, sends and receives against the real binary', T, async () => {
    const [alice, bob] = await users(server, 'alice', 'bob');
    const chatid = await createChat(server, alice, { participants: [bob] });
    writeFileSync(
      join(app, 'app.mjs'),
      `import { createClient } from '@lockstep/client';
const [url, profileid, token, chatid] = process.argv.slice(2);
const client = createClient({ url, profileid, token, io: { transports: ['websocket'] } });
const seen = [];
client.onMessage((message) => seen.push(message.content));
const ack = await client.sendMessage({ chatid, messageType: 'text', content: 'from the scratch project' });
const synced = await client.sync({ positions: [] });
client.close();
console.log(JSON.stringify({ ack, synced: synced.success, seen, status: client.status.state }));
`,
    );
    const { stdout } = await run(process.execPath, ['app.mjs', server.url, alice.profileid, alice.token, chatid], { cwd: app, timeout: 30_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1));
    assert.equal(result.ack.success, true, stdout);
    assert.equal(result.ack.seq, 1);
    assert.equal(result.synced, true);
    assert.deepEqual(result.seen, ['from the scratch project']);
  });

  test('tree-shakeable, and the README states the minified+gzipped size', T, async () => {
    const whole = await bundleSize("export { createClient } from '@lockstep/client';", app);
    const constants = await bundleSize("export { EVENTS, CONTRACT_VERSION } from '@lockstep/client';", app);
    assert.ok(constants.minified < whole.minified / 10, `importing constants leaves the rest out (${constants.minified} of ${whole.minified} bytes)`);
    const readme = readFileSync(join(CLIENT_DIR, 'README.md'), 'utf8');
    const stated = /\*\*([\d.]+) kB\*\* minified and gzipped/.exec(readme);
    assert.ok(stated, 'README.md states "**N kB** minified and gzipped"');
    const kb = Number(stated[1]);
    console.log(`@lockstep/client: ${whole.minified} B minified, ${whole.gzipped} B gzipped; constants only: ${constants.minified} B`);
    const measured = whole.gzipped / 1000;
    assert.ok(Math.abs(kb - measured) / measured < 0.1, `README says ${kb} kB, measured ${measured.toFixed(1)} kB (${whole.minified} B minified): update the README`);
  });
});
