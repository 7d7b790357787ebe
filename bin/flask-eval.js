#!/usr/bin/env node
// The flask-eval command. It runs the compiled dist/ (fast start) when `npm run build` made it
// and no source file changed since; otherwise the TypeScript sources through tsx. An install
// without the sources (the container image: dist/ only) always runs dist/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['core', 'workflows', 'activities', 'worker', 'server', 'client', 'simulator'];
const ENTRY_SOURCE = path.join(root, 'client', 'cli.ts');

/** Newest .ts under dir; 0 for a folder that is not there (an image ships only some of them). */
function newestSource(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function freshBuild() {
  const stamp = path.join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp) || process.env.FLASK_NO_BUILD === '1') return false;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.every((d) => newestSource(path.join(root, d)) <= built);
}

if (freshBuild()) {
  process.env.FLASK_FRESH_BUILD = '1';
  await import(path.join(root, 'dist', 'client', 'cli.js'));
} else if (existsSync(ENTRY_SOURCE)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../client/cli.ts');
} else {
  process.stderr.write(
    `flask-eval: ${root} has neither a build (dist/.build-stamp) nor the TypeScript sources (client/cli.ts)` +
      `${process.env.FLASK_NO_BUILD === '1' ? ' to run with FLASK_NO_BUILD=1' : ''}: ` +
      'build it where the sources are (`npm run build`, or `npm ci`, which runs it) and copy dist/ with it\n',
  );
  process.exit(2);
}
