// User SQL cannot touch the store the state server owns, and cannot outlive its client or its
// time limit: on the real state server (embedded dev server), the results file stays locked
// against every other process before and after each escape attempt.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';
import { pidAlive, readServerInfo } from '../../server/serverInfo.js';
import { sleep, waitFor, freeDevServerPort } from '../helpers/harness.js';

const CLI = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');
const stateDir = mkdtempSync(path.join(tmpdir(), 'flask-sandbox-'));
const dbFile = path.join(stateDir, 'results.duckdb');
let env: NodeJS.ProcessEnv;

function cli(args: string[], timeout = 60_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Another process opens the results file read-write, as a DuckDB CLI or a second writer would.
 * True when DuckDB refuses it because the state server holds the file's lock.
 */
function lockRefusesOthers(): boolean {
  const script = `import { DuckDBInstance } from '@duckdb/node-api';
try { const i = await DuckDBInstance.create(${JSON.stringify(dbFile)}); i.closeSync(); console.log('OPENED'); }
catch (e) { console.log(/Could not set lock|Conflicting lock/.test(e.message) ? 'REFUSED' : 'OTHER ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.match(r.stdout, /^(REFUSED|OPENED)/, r.stdout + r.stderr);
  return r.stdout.startsWith('REFUSED');
}

function daemonPid(): number {
  const info = readServerInfo(stateDir);
  assert.ok(info && pidAlive(info.pid), 'the state server runs');
  return info.pid;
}

/** CPU ticks (user + system) the process has used. */
function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** Ticks (1/100 s) the process burns over `ms`. */
async function cpuOver(pid: number, ms: number): Promise<number> {
  const a = cpuTicks(pid);
  await sleep(ms);
  return cpuTicks(pid) - a;
}

/** A statement that keeps a core busy for minutes and returns one row. */
const RUNAWAY = 'SELECT count(*) FROM range(1000000000) a, range(100000) b';

describe('query sandbox on a live state server', () => {
  before(async () => {
    const port = await freeDevServerPort();
    env = { ...process.env, FLASK_STATE_DIR: stateDir, FLASK_DB: dbFile, FLASK_TEMPORAL_PORT: String(port), FLASK_QUERY_MEMORY: '64MB', FLASK_QUERY_TEMP: '32MB' };
    const r = cli(['server', 'start'], 120_000);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    const info = readServerInfo(stateDir);
    if (info && pidAlive(info.pid)) cli(['server', 'stop']);
  });

  test('no statement reaches the results file, its WAL, its temp folder or the state folder; the lock holds before and after each', () => {
    assert.equal(lockRefusesOthers(), true, 'before any query');
    const escapes: [string, RegExp][] = [
      [`SELECT octet_length(content) FROM read_blob('${dbFile}')`, /Permission Error/],
      [`SELECT octet_length(content) FROM read_blob('${dbFile}.wal')`, /Permission Error/],
      [`SELECT * FROM read_text('${dbFile}.tmp/x')`, /Permission Error/],
      [`SELECT * FROM read_text('${path.join(stateDir, 'server.json')}')`, /Permission Error/],
      [`SELECT * FROM read_csv('${path.join(stateDir, 'server.log')}')`, /Permission Error/],
      [`SELECT * FROM glob('${stateDir}/*')`, /Permission Error/],
      [`SELECT * FROM read_blob('${path.join(stateDir, 'query.tmp', '..', 'results.duckdb')}')`, /Permission Error/],
      [`SELECT * FROM read_blob('${path.join(stateDir, 'snapshot.build', '..', 'results.duckdb')}')`, /Permission Error/],
      [`SELECT * FROM query('SELECT octet_length(content) FROM read_blob(''${dbFile}'')')`, /Permission Error/],
      [`SELECT * FROM '${dbFile}'`, /Permission Error|does not exist|not supported/],
      [`ATTACH '${dbFile}' AS live`, /ATTACH statements are refused|Permission Error/],
      [`COPY (SELECT 1) TO '${dbFile}'`, /COPY statements are refused|Permission Error/],
      [`PRAGMA enable_checkpoint_on_shutdown`, /PRAGMA statements are refused|refused/],
      [`SET enable_external_access = true`, /SET statements are refused/],
      [`INSTALL httpfs`, /refused/],
      [`LOAD httpfs`, /LOAD statements are refused/],
      [`CHECKPOINT`, /refused/],
    ];
    for (const [sql, message] of escapes) {
      const r = cli(['query', sql]);
      assert.equal(r.status, 2, `${sql}\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, sql);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(lockRefusesOthers(), true, `after: ${sql}`);
    }
    // The snapshot a query runs on is its own file: reading it is allowed and harmless.
    const own = cli(['query', `SELECT octet_length(content) > 0 AS ok FROM read_blob('${path.join(stateDir, 'snapshot.duckdb')}')`, '--format', 'csv']);
    assert.equal(own.status, 0, own.stderr);
    assert.equal(lockRefusesOthers(), true, 'after reading the snapshot');
    const ok = cli(['query', 'SELECT count(*) AS n FROM runs', '--format', 'csv']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, 'n\n0\n');
  });

  test('a query runs with the memory and temp-space limits of FLASK_QUERY_MEMORY / FLASK_QUERY_TEMP, and is told which one it hit', () => {
    const r = cli(['query', "SELECT current_setting('memory_limit') AS m, current_setting('max_temp_directory_size') AS t", '--format', 'csv']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^m,t\n(61\.0 MiB|64\.0 MB|61 MiB)[^,]*,(30\.5 MiB|32\.0 MB|30 MiB)/, r.stdout);
    const big = cli(['query', 'SELECT max(len(l)) FROM (SELECT list(range) AS l FROM range(50000000))']);
    assert.equal(big.status, 2, big.stdout + big.stderr);
    assert.match(big.stderr, /Out of Memory.*\(a query may use 64MB: FLASK_QUERY_MEMORY\)/);
    assert.doesNotMatch(big.stderr, /SET memory_limit/);
  });

  test('`snapshot` publishes what landed before it, and --out copies a file other tools open while the live file stays locked', () => {
    const answers = path.join(stateDir, 'snap-answers.jsonl');
    writeFileSync(answers, [1, 2, 3].map((i) => JSON.stringify({ question_id: i, text: `answer ${i}` })).join('\n') + '\n');
    const imp = cli(['import-answers', answers, '--model-id', 'm', '--run', 'snap']);
    assert.equal(imp.status, 0, imp.stderr);
    const out = path.join(stateDir, 'copy.duckdb');
    const r = cli(['snapshot', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), out);
    const script = `import { DuckDBInstance } from '@duckdb/node-api';
const i = await DuckDBInstance.create(${JSON.stringify(out)}, { access_mode: 'READ_ONLY' }); const c = await i.connect();
console.log(JSON.stringify((await (await c.run("SELECT count(*)::INT AS n FROM responses WHERE run_id = 'snap'")).getRowObjectsJson())[0]));`;
    const read = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.deepEqual(JSON.parse(read.stdout), { n: 3 }, read.stderr);
    assert.ok(lockRefusesOthers(), 'the live file is still locked');
    const published = cli(['snapshot']);
    assert.equal(published.stdout.trim(), path.join(stateDir, 'snapshot.duckdb'));
  });

  test('a runaway query stops at its time limit, and the state server goes idle', async () => {
    const t0 = Date.now();
    const r = cli(['query', '--timeout', '2', RUNAWAY]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /query stopped after 2 s, its time limit \(raise it with --timeout SECONDS/);
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    assert.ok((await cpuOver(daemonPid(), 2000)) < 30, 'the state server is idle after the query stopped');
  });

  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    test(`a query whose client gets ${signal} is cancelled: the state server's CPU goes idle`, async () => {
      const pid = daemonPid();
      const child = spawn(process.execPath, [CLI, 'query', '--timeout', '600', RUNAWAY], { env, stdio: 'ignore' });
      await sleep(2500);
      assert.ok((await cpuOver(pid, 1000)) > 30, 'the query keeps the state server busy');
      child.kill(signal);
      await new Promise((r) => child.once('exit', r));
      await sleep(500);
      const ticks = await cpuOver(pid, 2000);
      assert.ok(ticks < 30, `the state server burned ${ticks} ticks in 2 s after its client went away`);
    });
  }

  test('`server stop` does not wait on a running query: the query is told why', async () => {
    const child = spawn(process.execPath, [CLI, 'query', '--timeout', '600', RUNAWAY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c) => { stderr += c; });
    await sleep(2500);
    const t0 = Date.now();
    const stop = cli(['server', 'stop']);
    assert.equal(stop.status, 0, stop.stderr);
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.ok(Date.now() - t0 < 15_000, `stop took ${Date.now() - t0} ms`);
    assert.equal(code, 2);
    assert.match(stderr, /query cancelled: the state server is stopping/);
    assert.doesNotMatch(stop.stdout + stop.stderr, /SIGKILL/);
    await waitFor('the state server is gone', async () => !existsSync(path.join(stateDir, 'server.json')), 10_000);
  });
});
