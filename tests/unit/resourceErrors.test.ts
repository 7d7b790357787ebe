// Running out of memory or disk is told as such, with what to change, without a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainError } from '../../client/output/errorReport.js';
import { StateServerError } from '../../server/socketClient.js';
import { EXIT } from '../../client/output/exitCodes.js';

test("the state server's DuckDB out of memory: exit 3, names FLASK_DUCKDB_MEMORY, not a SET nobody can run", () => {
  const r = explainError(new StateServerError("state server: Out of Memory Error: failed to allocate data of size 64.0 MiB (512.0 MiB/512.0 MiB used)\n\nPossible solutions:\n* Increasing the memory limit (SET memory_limit='...GB')", 500));
  assert.equal(r.code, EXIT.runStopped);
  assert.match(r.message, /ran out of memory \(Out of Memory Error: failed to allocate data of size 64\.0 MiB/);
  assert.match(r.message, /FLASK_DUCKDB_MEMORY/);
  assert.doesNotMatch(r.message, /SET memory_limit/);
});

test('ENOSPC anywhere: exit 3, the path and its free space, how to resume', () => {
  const e = Object.assign(new Error("ENOSPC: no space left on device, write '/tmp/x.spool'"), { code: 'ENOSPC', path: '/tmp/x.spool' });
  const r = explainError(e);
  assert.equal(r.code, EXIT.runStopped);
  assert.match(r.message, /the disk holding \/tmp\/x\.spool is full \(\d+(\.\d)? (KiB|MiB|GiB) free\)/);
  assert.match(r.message, /rerun the same command: landed results are kept/);
  const sqlite = explainError(new Error('database or disk is full (SQLITE_FULL) at "/var/state/temporal.db"'));
  assert.equal(sqlite.code, EXIT.runStopped);
  assert.match(sqlite.message, /the disk holding \/var\/state\/temporal\.db is full/);
});
