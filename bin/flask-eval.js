#!/usr/bin/env node
// The flask-eval command. It runs the compiled dist/ (fast start) when `npm run build` made it
// and no source file changed since; otherwise the TypeScript sources through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['core', 'workflows', 'activities', 'worker', 'client', 'offline'];

function newestSource(dir) {
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
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../client/cli.ts');
}
