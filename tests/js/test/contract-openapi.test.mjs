// generated/docs/openapi.json is a valid OpenAPI 3.1 document (checked by
// @readme/openapi-parser), covers every route of contract/rest.json, and
// every schema it names in `components.schemas` is exported by
// @lockstep/contract under the same name (checked by tsc).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

import { compileErrors, validate } from '@readme/openapi-parser';

import { JS_DIR, REPO_ROOT, readGenerated, readManifest } from '../support/contract.mjs';

const run = promisify(execFile);
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const manifest = readManifest();
const routes = JSON.parse(readFileSync(join(REPO_ROOT, 'contract', 'rest.json'), 'utf8'));
let source;
let document;
let scratch;

before(() => {
  source = readGenerated('docs/openapi.json');
  document = JSON.parse(source);
  scratch = mkdtempSync(join(tmpdir(), 'lockstep-openapi-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

test('validates as OpenAPI 3.1 with no error and no warning', async () => {
  const result = await validate(structuredClone(document));
  assert.equal(result.valid, true, compileErrors(result));
  assert.deepEqual(result.warnings, [], compileErrors(result));
  assert.equal(document.openapi, '3.1.0');
  assert.equal(document.info.version, manifest.version);
});

test('the validator bites: a broken copy is refused', async () => {
  const broken = structuredClone(document);
  const [path] = Object.keys(broken.paths);
  const [method] = Object.keys(broken.paths[path]);
  broken.paths[path][method].parameters = [{ name: 'x', in: 'nowhere', schema: { type: 'string' } }];
  const result = await validate(broken);
  assert.equal(result.valid, false, 'an invalid parameter location must be refused');
});

test('every route of contract/rest.json is an operation with its parameters, body and answers', () => {
  const operationIds = new Set();
  for (const route of routes.routes) {
    const operation = document.paths[route.path]?.[route.method];
    assert.ok(operation, `${route.method.toUpperCase()} ${route.path} is in openapi.json`);
    assert.equal(operation.operationId, route.operationId);
    operationIds.add(route.operationId);

    const pathParams = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
    assert.deepEqual(pathParams, (route.pathParams ?? []).map((p) => p.name), `${route.operationId} path parameters`);

    const def = (reference) => reference.split('#/$defs/')[1];
    if (route.body) {
      assert.equal(operation.requestBody.content['application/json'].schema.$ref, `#/components/schemas/${def(route.body)}`);
    } else {
      assert.equal(operation.requestBody, undefined, `${route.operationId} has no body`);
    }
    if (route.query) {
      const query = document.components.schemas[def(route.query)];
      const params = operation.parameters.filter((p) => p.in === 'query').map((p) => p.name);
      assert.deepEqual(params, Object.keys(query.properties), `${route.operationId} query parameters`);
    }
    for (const response of route.responses) {
      const answer = operation.responses[String(response.status)];
      assert.ok(answer, `${route.operationId} answers ${response.status}`);
      if (response.body) {
        assert.equal(answer.content['application/json'].schema.$ref, `#/components/schemas/${def(response.body)}`);
      }
    }
    const codes = document.components.schemas.ErrorCode.enum;
    for (const [status, answer] of Object.entries(operation.responses)) {
      if (!answer['x-error-codes']) continue;
      assert.ok(Number(status) >= 400, `${route.operationId} ${status} is an error status`);
      assert.equal(answer.content['application/json'].schema.$ref, '#/components/schemas/RestError');
      for (const code of answer['x-error-codes']) assert.ok(codes.includes(code), `${code} is an ErrorCode`);
    }
    for (const status of ['404', '405']) {
      assert.ok(operation.responses[status]?.['x-error-codes'], `${route.operationId} documents ${status}`);
    }
  }
  assert.equal(operationIds.size, routes.routes.length, 'operation ids are unique');
  for (const required of ['/api/chats', '/api/chats/{chatid}/participants', '/api/chats/{chatid}/messages', '/api/calls']) {
    assert.ok(document.paths[required], `${required} is documented`);
  }
});

test('every components.schemas name is exported by @lockstep/contract under the same name', async () => {
  const names = Object.keys(document.components.schemas);
  assert.ok(names.length > 10, `components.schemas: ${names}`);
  for (const name of ['RestError', 'Message', 'ErrorCode', 'CreateChatRequest', 'CallEntry', 'MessagePage']) {
    assert.ok(names.includes(name), `${name} is a component`);
  }
  // One file that names every component as an exported type of the package:
  // tsc refuses it (TS2305) if a name is missing.
  const file = join(scratch, 'components.ts');
  const uses = names.map((name) => `export type Use${name} = ${name};`).join('\n');
  writeFileSync(file, `import type {\n  ${names.join(',\n  ')},\n} from '@lockstep/contract';\n\n${uses}\n`);
  const project = join(scratch, 'tsconfig.json');
  writeFileSync(project, JSON.stringify({
    extends: join(JS_DIR, 'types', 'tsconfig.json'),
    compilerOptions: { skipLibCheck: true },
    files: [file],
    include: [],
  }));
  try {
    await run(process.execPath, [TSC, '--noEmit', '--strict', '--pretty', 'false', '-p', project], {
      cwd: JS_DIR,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    assert.fail(`a component is not exported by @lockstep/contract:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
});
