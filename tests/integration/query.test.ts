// `flask-eval query` cannot write: every known escape is refused and the results file stays
// byte-identical; rows stream in bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type Json } from '@duckdb/node-api';
import { PROJECT_ROOT } from '../../core/paths.js';
import { Database } from '../../core/store/database.js';
import { InputError } from '../../core/errors.js';
import { LOCKED_DOWN } from '../../core/store/lockedDown.js';
import { openLockedReadOnly, runUserQuery, type UserQuerySink } from '../../core/store/safeQuery.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-query-'));
const dbFile = path.join(dir, 'results.duckdb');
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), ...args], {
    cwd: dir, encoding: 'utf8', timeout: 180_000, maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, FLASK_STATE_DIR: path.join(dir, 'state'), ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Collects a query's result in memory (small results only). */
function collect(): { sink: UserQuerySink; columns: string[]; rows: Json[][] } {
  const out = { columns: [] as string[], rows: [] as Json[][] };
  return {
    ...out,
    sink: { columns: (names) => { out.columns.push(...names); }, rows: (batch) => { out.rows.push(...batch); } },
  };
}

test('setup: a results file with the real schema and one run', async () => {
  const db = new Database(dbFile, { gatherMs: 0 });
  await db.run((sql) => sql.exec(`INSERT INTO runs (run_id, kind, simulated, project_version, created_at) VALUES ('r1', 'review', true, 'test', now())`));
  await db.close();
  assert.ok(existsSync(dbFile));
});

test('a SELECT streams its columns and rows; DESCRIBE, SHOW, EXPLAIN, PRAGMA table_info are reads too', async () => {
  const reader = await openLockedReadOnly(dbFile);
  try {
    const c = collect();
    const r = await runUserQuery(reader.connection, `SELECT run_id, count(*) OVER () AS n, [1, 2] AS l FROM runs`, c.sink);
    assert.deepEqual(c.columns, ['run_id', 'n', 'l']);
    assert.deepEqual(c.rows, [['r1', 1, [1, 2]]], 'BIGINT counts come out as numbers');
    assert.deepEqual(r, { delivered: 1, total: 1 });
    for (const q of ['DESCRIBE runs', 'SHOW TABLES', 'EXPLAIN SELECT 1', "PRAGMA table_info('runs')", 'SUMMARIZE SELECT 1 AS a']) {
      const x = collect();
      await runUserQuery(reader.connection, q, x.sink);
      assert.ok(x.rows.length > 0, q);
    }
    const capped = collect();
    assert.deepEqual(await runUserQuery(reader.connection, 'SELECT range FROM range(5000)', capped.sink, { deliverAtMost: 3 }), { delivered: 3, total: 5000 });
    assert.equal(capped.rows.length, 3);
  } finally {
    reader.close();
  }
});

test('every escape is refused with a message, and the results file is byte-identical', async () => {
  const before = sha(dbFile);
  const cases: [string, RegExp][] = [
    [`COPY (SELECT 1) TO '${dbFile}'`, /COPY statements are refused.*flask-eval export/],
    [`COPY runs TO '${path.join(dir, 'out.csv')}'`, /Permission Error|COPY statements are refused/],
    [`SELECT * FROM read_text('/etc/shadow')`, /Permission Error: Cannot access file "\/etc\/shadow"/],
    [`SELECT * FROM read_csv('/etc/passwd')`, /Permission Error: Cannot access file "\/etc\/passwd"/],
    [`SELECT * FROM '/etc/passwd'`, /Permission Error|Table with name \/etc\/passwd does not exist/],
    [`INSTALL httpfs`, /INSTALL statements are refused|LOAD statements are refused/],
    [`LOAD httpfs`, /LOAD statements are refused/],
    [`ATTACH '${path.join(dir, 'other.duckdb')}' AS o`, /Permission Error|ATTACH statements are refused/],
    [`ATTACH ':memory:' AS m`, /ATTACH statements are refused/],
    [`SET enable_external_access = true`, /SET statements are refused/],
    [`SET threads = 1`, /SET statements are refused/],
    [`SELECT 1; SELECT 2`, /query runs exactly one statement; got 2/],
    [`CREATE TABLE t AS SELECT 1`, /CREATE statements are refused/],
    [`DELETE FROM runs`, /DELETE statements are refused/],
    [`INSERT INTO runs (run_id) VALUES ('x')`, /INSERT statements are refused/],
    [`EXPORT DATABASE '${path.join(dir, 'exp')}'`, /Permission Error|EXPORT statements are refused/],
    [`CHECKPOINT`, /CALL statements are refused/],
    [`SELECT * FROM nope`, /Table with name nope does not exist/],
    [``, /exactly one statement; got 0/],
  ];
  const reader = await openLockedReadOnly(dbFile);
  try {
    for (const [q, message] of cases) {
      await assert.rejects(runUserQuery(reader.connection, q, collect().sink), (e: Error) => e instanceof InputError && message.test(e.message), q);
    }
    // The connection is still usable (every refusal rolled back its transaction).
    const c = collect();
    await runUserQuery(reader.connection, 'SELECT count(*) AS n FROM runs', c.sink);
    assert.deepEqual(c.rows, [[1]]);
  } finally {
    reader.close();
  }
  assert.equal(sha(dbFile), before);
  assert.ok(!existsSync(path.join(dir, 'out.csv')) && !existsSync(path.join(dir, 'other.duckdb')) && !existsSync(path.join(dir, 'exp')));
});

test('on a read-write locked instance (the daemon), writes are refused and the connection is left clean', async () => {
  const file = path.join(dir, 'daemon.duckdb');
  const instance = await DuckDBInstance.create(file, { ...LOCKED_DOWN });
  const conn = await instance.connect();
  try {
    await conn.run('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)');
    // External access does not guard the database's own file: the statement check does.
    await assert.rejects(runUserQuery(conn, `COPY (SELECT 1) TO '${file}'`, collect().sink), /COPY statements are refused/);
    await assert.rejects(runUserQuery(conn, `UPDATE t SET a = 2`, collect().sink), /UPDATE statements are refused/);
    await assert.rejects(runUserQuery(conn, `DROP TABLE t`, collect().sink), /DROP statements are refused/);
    await assert.rejects(runUserQuery(conn, `BEGIN TRANSACTION`, collect().sink), /TRANSACTION statements are refused/);
    // EXPLAIN ANALYZE executes what it explains: only a SELECT may be explained.
    await assert.rejects(runUserQuery(conn, `EXPLAIN ANALYZE DELETE FROM t`, collect().sink), /EXPLAIN of a DELETE statement is refused/);
    await assert.rejects(runUserQuery(conn, `/* plan */ EXPLAIN ANALYZE COPY (SELECT 1) TO '${file}'`, collect().sink), /COPY statement is refused|Permission Error/);
    const plan = collect();
    await runUserQuery(conn, `-- the plan\nEXPLAIN ANALYZE SELECT a FROM t`, plan.sink);
    assert.equal(plan.rows.length, 1);
    // A sink that stops early, and a statement failing mid-stream, both end their transaction.
    assert.deepEqual(await runUserQuery(conn, 'SELECT range FROM range(10000)', { columns: () => undefined, rows: () => false }), { delivered: 2048, total: undefined });
    await assert.rejects(runUserQuery(conn, `SELECT CASE WHEN range < 5000 THEN range ELSE error('boom') END FROM range(10000)`, collect().sink), /boom/);
    await conn.run('BEGIN TRANSACTION');
    await conn.run('ROLLBACK');
    assert.deepEqual((await conn.runAndReadAll('SELECT a FROM t')).getRows(), [[1]]);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
});

test('user SQL is refused on an instance that is not locked down', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await assert.rejects(runUserQuery(conn, 'SELECT 1', collect().sink), /enable_external_access=false and lock_configuration=true/);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
});

test('CLI: COPY onto the results file and two statements exit 2 without a stack; the file is unchanged', () => {
  const before = sha(dbFile);
  const copy = cli(['query', `COPY (SELECT 1) TO '${dbFile}'`, '--db', dbFile]);
  assert.equal(copy.code, 2, copy.stderr);
  assert.match(copy.stderr, /COPY statements are refused/);
  assert.doesNotMatch(copy.stderr, /\n\s+at /, 'no stack trace');
  const two = cli(['query', 'SELECT 1; DELETE FROM runs', '--db', dbFile]);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /query runs exactly one statement; got 2/);
  const shadow = cli(['query', "SELECT * FROM read_text('/etc/shadow')", '--db', dbFile]);
  assert.equal(shadow.code, 2);
  assert.match(shadow.stderr, /Permission Error/);
  assert.equal(sha(dbFile), before);
});

test('CLI: --file, formats, an empty result prints its header, the table stops at --max-rows', () => {
  const q = path.join(dir, 'q.sql');
  writeFileSync(q, `-- a long query lives in a file\nSELECT run_id, kind\nFROM runs\nWHERE run_id = 'r1'\n`);
  const json = cli(['query', '--file', q, '--db', dbFile, '--format', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), [{ run_id: 'r1', kind: 'review' }]);
  const emptyCsv = cli(['query', "SELECT run_id, kind FROM runs WHERE false", '--db', dbFile, '--format', 'csv']);
  assert.equal(emptyCsv.stdout, 'run_id,kind\n');
  const emptyTable = cli(['query', "SELECT run_id, kind FROM runs WHERE false", '--db', dbFile]);
  assert.match(emptyTable.stdout, /^run_id\s+kind\n-+\s+-+\n\(0 rows\)\n$/);
  assert.deepEqual(JSON.parse(cli(['query', 'SELECT 1 AS a WHERE false', '--db', dbFile, '--format', 'json']).stdout), []);
  const table = cli(['query', 'SELECT range AS n FROM range(130000)', '--db', dbFile, '--max-rows', '5']);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.deepEqual(lines.slice(2, 7), ['0', '1', '2', '3', '4']);
  assert.equal(lines.at(-1), '... 129995 more rows (use --format csv)');
  const bad = cli(['query', '--file', path.join(dir, 'missing.sql'), '--db', dbFile]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--file .*missing\.sql: cannot read it \(ENOENT\)/);
  assert.equal(cli(['query', 'SELECT 1', '--db', dbFile, '--format', 'xml']).code, 2);
  assert.equal(cli(['query', 'SELECT 1', '--db', dbFile, '--max-rows', '0']).code, 2);
});

test('CLI: a million rows stream as CSV and JSONL in a heap too small to hold them', () => {
  // 96 MB of heap: materialising 1,000,000 [int, string] rows does not fit (checked by hand:
  // "JavaScript heap out of memory"); streaming them chunk by chunk does.
  const env = { NODE_OPTIONS: '--max-old-space-size=96' };
  const sql = "SELECT range, 'row ' || range AS label FROM range(1000000)";
  const csv = cli(['query', sql, '--db', dbFile, '--format', 'csv'], env);
  assert.equal(csv.code, 0, csv.stderr.slice(-2000));
  const lines = csv.stdout.split('\n');
  assert.equal(lines.length, 1_000_002, 'header + 1,000,000 rows + the final newline');
  assert.equal(lines[0], 'range,label');
  assert.equal(lines[1_000_000], '999999,row 999999');
  const jsonl = cli(['query', sql, '--db', dbFile, '--format', 'jsonl'], env);
  assert.equal(jsonl.code, 0, jsonl.stderr.slice(-2000));
  assert.deepEqual(JSON.parse(jsonl.stdout.trimEnd().split('\n').at(-1)!), { range: 999999, label: 'row 999999' });
});
