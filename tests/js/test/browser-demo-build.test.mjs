// The demo page's JavaScript is built from TypeScript typed by the
// generated contract, and what is checked in (and embedded in the binary)
// is exactly what the sources build: a stale bundle fails here, in CI.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { DEMO_DIR, DIST_DIR, build, stale } from '../../../demo/build.mjs';
import { startServer } from '../support/index.mjs';

test('demo/src type-checks against the generated contract and demo/dist is what it builds', () => {
  const problems = stale();
  assert.deepEqual(problems, [], `${problems.join('\n')}\nrun \`node demo/build.mjs\` and commit demo/dist/`);
});

test('the bundle is built from the generated types, with socket.io-client typed by them', () => {
  const source = readFileSync(join(DEMO_DIR, 'src', 'main.ts'), 'utf8');
  assert.match(source, /import type \{[^}]*ClientToServerEvents[^}]*\} from '@lockstep\/contract'/s);
  assert.match(source, /Socket<ServerToClientEvents, ClientToServerEvents>/);
  const built = build();
  assert.deepEqual([...built.keys()], ['main.js', 'socket.io.esm.min.js']);
  assert.doesNotMatch(built.get('main.js'), /from '@lockstep\/contract'/, 'type imports are erased');
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

    for (const name of ['main.js', 'socket.io.esm.min.js']) {
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
  });
});
