// The generated TypeScript types bite: the client files in types/ok compile
// under `tsc --noEmit --strict` with the real socket.io-client, and every file
// in types/fail is refused, each for the reason its `// expect: TSxxxx`
// header names (and only in that file).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { JS_DIR, REPO_ROOT, readGenerated } from '../support/contract.mjs';

const run = promisify(execFile);
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const TYPES_DIR = join(JS_DIR, 'types');
const BASE_CONFIG = join(TYPES_DIR, 'tsconfig.json');
const FAIL_DIR = join(TYPES_DIR, 'fail');

/** Runs tsc with a project file from tests/js; resolves to { code, output }. */
async function tsc(project) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [TSC, '--noEmit', '--strict', '--pretty', 'false', '-p', project],
      { cwd: JS_DIR, maxBuffer: 16 * 1024 * 1024 },
    );
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    if (typeof error.code !== 'number') throw error;
    return { code: error.code, output: `${error.stdout ?? ''}${error.stderr ?? ''}` };
  }
}

let scratch;
before(() => {
  // Fail early, with a hint, when generated/ts has not been rendered.
  readGenerated('ts/index.d.ts');
  scratch = mkdtempSync(join(tmpdir(), 'lockstep-tsc-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

test('the generated package.json points at the types', () => {
  const pkg = JSON.parse(readGenerated('ts/package.json'));
  assert.equal(pkg.name, '@lockstep/contract');
  assert.equal(pkg.types, 'index.d.ts');
  assert.equal(pkg.dependencies, undefined, 'the types package has no runtime dependencies');
  // It ships the runtime constants as ESM next to the types.
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', default: './index.js' });
  // `@lockstep/contract/version`: the contract version alone, for a client's handshake.
  assert.deepEqual(pkg.exports['./version'], { types: './version.d.mts', default: './version.mjs' });
  assert.deepEqual([...pkg.files].sort(), ['index.d.ts', 'index.js', 'version.d.mts', 'version.mjs']);
});

test('index.js exports what index.d.ts declares', async () => {
  const runtime = await import(join(REPO_ROOT, 'generated', 'ts', 'index.js'));
  const declarations = readGenerated('ts/index.d.ts');
  const declared = [...declarations.matchAll(/^export declare const (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(runtime).sort(), declared);
  for (const name of declared) assert.ok(Object.isFrozen(runtime[name]) || typeof runtime[name] === 'string', name);
});

test('types/ok compiles with tsc --noEmit --strict', async () => {
  const { code, output } = await tsc(BASE_CONFIG);
  assert.equal(code, 0, `tsc refused the ok files:\n${output}`);
});

describe('every file in types/fail is refused', { concurrency: Math.max(1, availableParallelism() - 1) }, () => {
  const failFiles = readdirSync(FAIL_DIR).filter((f) => f.endsWith('.ts')).sort();

  test('there are fail files', () => assert.ok(failFiles.length >= 6));

  for (const file of failFiles) {
    test(file, async () => {
      const path = join(FAIL_DIR, file);
      const expected = /^\/\/ expect: (TS\d+)\s*$/m.exec(readFileSync(path, 'utf8'))?.[1];
      assert.ok(expected, `${file} names the error it must produce in a \`// expect: TSxxxx\` line`);

      // One project per file, so each one fails on its own. Declaration
      // files were checked by the ok run; skipping them here keeps this fast.
      const project = join(scratch, `tsconfig.${file}.json`);
      const config = { extends: BASE_CONFIG, compilerOptions: { skipLibCheck: true }, files: [path], include: [] };
      writeFileSync(project, JSON.stringify(config));
      const { code, output } = await tsc(project);

      const shown = relative(JS_DIR, path);
      assert.notEqual(code, 0, `${shown} compiled but must not`);
      const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
      assert.ok(errors.length > 0, `tsc failed without a type error:\n${output}`);
      for (const line of errors) {
        assert.ok(line.startsWith(shown), `an error outside ${shown}: the failure is not the intended one:\n${output}`);
      }
      assert.ok(output.includes(`error ${expected}:`), `${shown} must fail with ${expected}:\n${output}`);
    });
  }
});
