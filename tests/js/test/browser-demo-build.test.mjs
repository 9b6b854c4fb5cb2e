// The demo page's JavaScript is built from TypeScript typed by the
// generated contract and runs on @lockstep/client, and what is checked in
// (and embedded in the binary) is exactly what the sources and the client
// package build: a stale bundle fails here, in CI.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DEMO_DIR, DIST_DIR, REPO_ROOT, build, stale } from '../../../demo/build.mjs';
import { startServer } from '../support/index.mjs';

test('demo/src type-checks against the generated contract and demo/dist is what it builds', () => {
  const problems = stale();
  assert.deepEqual(problems, [], `${problems.join('\n')}\nrun \`node demo/build.mjs\` and commit demo/dist/`);
});

test('the page runs on @lockstep/client, typed by the generated contract, and dist carries the client', () => {
  const source = readFileSync(join(DEMO_DIR, 'src', 'main.ts'), 'utf8');
  assert.match(source, /import \{[^}]*createClient[^}]*\} from '@lockstep\/client'/s);
  assert.match(source, /import type \{[^}]*Message[^}]*\} from '@lockstep\/contract'/s);
  assert.doesNotMatch(source, /from 'socket\.io-client'/, 'no raw socket.io-client calls: the client package does the wire');
  const built = build();
  const names = [...built.keys()];
  for (const name of ['main.js', 'socket.io.esm.min.js', 'lockstep-client/index.js', 'assets.rs']) {
    assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  }
  // The copy of the client is the package's own build, byte for byte.
  for (const name of names.filter((n) => n.startsWith('lockstep-client/'))) {
    const packaged = readFileSync(join(REPO_ROOT, 'client', 'dist', name.slice('lockstep-client/'.length)), 'utf8');
    assert.equal(built.get(name), packaged.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'), name);
  }
  assert.doesNotMatch(built.get('main.js'), /from '@lockstep\/contract'/, 'type imports are erased');
  // The import map resolves every bare import of the served files.
  const html = readFileSync(join(DEMO_DIR, 'index.html'), 'utf8');
  const importMap = JSON.parse(html.match(/<script type="importmap">([\s\S]*?)<\/script>/)[1]).imports;
  for (const [name, text] of built) {
    if (!name.endsWith('.js')) continue;
    for (const [, specifier] of text.matchAll(/^(?:import|export)\b[^'"]*from '([^'.][^']*)'/gm)) {
      assert.ok(importMap[specifier], `${name} imports ${specifier}, which the import map does not resolve`);
      assert.ok(names.includes(importMap[specifier].replace(/^\/demo\//, '')), `${importMap[specifier]} is built`);
    }
  }
  // Every served file is listed for the server to embed.
  const listed = [...built.get('assets.rs').matchAll(/\("([^"]+)", include_str!/g)].map((m) => m[1]);
  assert.deepEqual(listed, names.filter((n) => n !== 'assets.rs'));
});

test('every error code of the contract has words, and the sign-in refusals say what to do', async () => {
  const { ERROR_CODES } = await import('../../../generated/ts/index.js');
  const { ERROR_WORDS, wordsFor } = await import('../../../demo/dist/words.js');
  const codes = Object.values(ERROR_CODES).sort();
  assert.deepEqual(Object.keys(ERROR_WORDS).sort(), codes);
  for (const code of codes) assert.ok(ERROR_WORDS[code].length > 10 && !ERROR_WORDS[code].includes('_'), `${code}: ${ERROR_WORDS[code]}`);
  assert.match(wordsFor('AUTH_TOKEN_EXPIRED'), /^your token expired/);
  assert.match(wordsFor('TIMEOUT'), /did not answer in time/);
  assert.match(wordsFor('SOMETHING_NEW'), /SOMETHING_NEW/, 'an unknown code is still shown');
});

describe('the server serves the demo it embeds', () => {
  let server;
  before(async () => {
    server = await startServer({ name: 'demo-assets' });
  });
  after(async () => {
    await server?.stop();
  });

  test('GET /demo and its assets answer with the checked-in files', async () => {
    const page = await fetch(`${server.url}/demo`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.equal(await page.text(), readFileSync(join(DEMO_DIR, 'index.html'), 'utf8'));
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self' 'sha256-/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');

    for (const name of ['main.js', 'words.js', 'socket.io.esm.min.js', 'lockstep-client/index.js', 'lockstep-client/client.js']) {
      const response = await fetch(`${server.url}/demo/${name}`);
      assert.equal(response.status, 200, name);
      assert.match(response.headers.get('content-type'), /^text\/javascript/, name);
      assert.equal(
        await response.text(),
        readFileSync(join(DIST_DIR, name), 'utf8'),
        `the binary serves demo/dist/${name} as checked in (rebuild the server after \`node demo/build.mjs\`)`,
      );
    }
    assert.equal((await fetch(`${server.url}/demo/`)).status, 200);
    assert.equal((await fetch(`${server.url}/demo/nothing.js`)).status, 404);
    assert.equal((await fetch(`${server.url}/demo/assets.rs`)).status, 404, 'the asset list is not served');
  });
});
