// bin/flask-eval.js picks what to run: dist/ when its build stamp is newer than every source, the
// TypeScript sources (tsx) otherwise, and dist/ where there are no sources at all (the container
// image ships dist/ without them). Each case runs a copy of the launcher in a folder of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';

/** An install with bin/, and dist/ (stamped `stampAge` seconds ago) unless stampAge is null. */
function install(o: { stampAge: number | null; sources?: Record<string, number> }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-bin-'));
  mkdirSync(path.join(dir, 'bin'));
  copyFileSync(path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), path.join(dir, 'bin', 'flask-eval.js'));
  writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
  if (o.stampAge !== null) {
    mkdirSync(path.join(dir, 'dist', 'client'), { recursive: true });
    writeFileSync(path.join(dir, 'dist', 'client', 'cli.js'), "process.stdout.write(`dist ${process.env.FLASK_FRESH_BUILD}`);\n");
    const stamp = path.join(dir, 'dist', '.build-stamp');
    writeFileSync(stamp, 'x');
    const t = Date.now() / 1000 - o.stampAge;
    utimesSync(stamp, t, t);
  }
  for (const [file, age] of Object.entries(o.sources ?? {})) {
    const f = path.join(dir, file);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, "process.stdout.write('sources');\nexport {};\n");
    const t = Date.now() / 1000 - age;
    utimesSync(f, t, t);
  }
  return dir;
}

function launch(dir: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'flask-eval.js')], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

test('no source folders at all (the image): dist/ runs', () => {
  const r = launch(install({ stampAge: 60 }));
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, 'dist 1');
});

test('some source folders missing, the others older than the build: dist/ runs', () => {
  const r = launch(install({ stampAge: 60, sources: { 'core/a.ts': 120, 'client/deep/b.ts': 90 } }));
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, 'dist 1');
});

test('a source newer than the build: the sources run through tsx', () => {
  const dir = install({ stampAge: 60, sources: { 'core/a.ts': 120, 'client/cli.ts': 5 } });
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const r = launch(dir);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.out, 'sources');
});

test('neither a build nor the sources: a clear error, no attempt to load tsx', () => {
  const r = launch(install({ stampAge: null }));
  assert.equal(r.status, 2);
  assert.match(r.err, /has neither a build \(dist\/\.build-stamp\) nor the TypeScript sources \(client\/cli\.ts\)/);
  assert.match(r.err, /npm run build/);
  assert.doesNotMatch(r.err, /tsx|ERR_MODULE_NOT_FOUND/);
});

test('FLASK_NO_BUILD=1 where there are no sources: the same clear error', () => {
  const r = launch(install({ stampAge: 60 }), { FLASK_NO_BUILD: '1' });
  assert.equal(r.status, 2);
  assert.match(r.err, /to run with FLASK_NO_BUILD=1/);
});
