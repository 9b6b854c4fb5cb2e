// Everything the end-to-end tests import, from one place.
export * from './server.mjs';
export * from './client.mjs';
export * from './rest.mjs';
export * from './jwt.mjs';
export * from './fixtures.mjs';
