// A full disk under the state folder (a real one: a small tmpfs, filled up): `server start` says
// so with the path and the free space, exits 3 without a stack trace, and leaves no lock file.
// Mounting needs root; elsewhere the test is skipped (and says why).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, writeSync, closeSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';
import { diskFullMessage } from '../../core/diskSpace.js';

const mnt = mkdtempSync(path.join(tmpdir(), 'flask-full-'));
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]).status === 0;

/** Fill the file system until a write fails with ENOSPC. */
function fill(dir: string): void {
  const fd = openSync(path.join(dir, 'filler'), 'w');
  try {
    for (;;) writeSync(fd, Buffer.alloc(4096, 1));
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}

test('server start on a full disk: exit 3, the path and the free space, no 0-byte lock left', { skip: mounted ? false : 'cannot mount a tmpfs here (needs root)' }, () => {
  try {
    const stateDir = path.join(mnt, 'state');
    mkdirSync(stateDir);
    fill(mnt);
    assert.match(diskFullMessage(stateDir) ?? '', /is full \(0 KiB free\)/);
    const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'server', 'start'], {
      env: { ...process.env, FLASK_STATE_DIR: stateDir, FLASK_DB: path.join(stateDir, 'results.duckdb'), FLASK_TEMPORAL_PORT: String(21_000 + (process.pid % 5000)) },
      encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(r.status, 3, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`the disk holding ${stateDir.replace(/[/.]/g, '\\$&')} is full \\(\\d+ KiB free\\)`));
    assert.match(r.stderr, /Free space and rerun/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(path.join(stateDir, 'server.lock')), 'no lock file left behind');
    assert.ok(!existsSync(path.join(stateDir, 'server.json')));
  } finally {
    spawnSync('umount', [mnt]);
    rmdirSync(mnt);
  }
});
