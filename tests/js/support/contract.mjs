// Paths and generated files shared by the contract tests (test/contract-*).
// Lives in support/, outside test/, so `node --test` does not run it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** tests/js */
export const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The repository root. */
export const REPO_ROOT = resolve(JS_DIR, '..', '..');
/** generated/ at the repository root. */
export const GENERATED_DIR = join(REPO_ROOT, 'generated');

/** Reads a file under generated/, failing with a hint when codegen has not run. */
export function readGenerated(relative) {
  const path = join(GENERATED_DIR, relative);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`cargo xtask codegen\` at the repository root first`);
  }
  return readFileSync(path, 'utf8');
}

/** contract/manifest.json, parsed. */
export function readManifest() {
  return JSON.parse(readFileSync(join(REPO_ROOT, 'contract', 'manifest.json'), 'utf8'));
}
