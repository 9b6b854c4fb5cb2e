// @lockstep/client as the tests use it: client/dist, straight from the
// working tree (client-package.test.mjs checks that dist/ is what the
// sources build, and that the packed tarball installs and works on its own).
//
// client/dist imports `socket.io-client` by its bare name, which Node would
// look up in client/node_modules (absent: the repository installs its
// JavaScript dependencies in tests/js). A module resolution hook resolves
// the bare imports of client/dist from tests/js instead, as an application
// that installs the package would from its own node_modules.
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { JS_DIR, REPO_ROOT } from './server.mjs';

export const CLIENT_DIST = join(REPO_ROOT, 'client', 'dist');

register('./lockstep-client-hooks.mjs', import.meta.url, {
  data: { clientUrl: pathToFileURL(CLIENT_DIST).href + '/', testsUrl: pathToFileURL(join(JS_DIR, 'package.json')).href },
});

const client = await import(pathToFileURL(join(CLIENT_DIST, 'index.js')).href);

export const { createClient, CONTRACT_VERSION, EVENTS } = client;
