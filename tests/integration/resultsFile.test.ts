// A results file that is not a whole DuckDB database (foreign, cut short, empty) is refused at
// once by server start, status, runs and query: exit 2, the path named, no stack trace, nothing
// written (no lock file, no server record, the file unchanged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';
import { Database } from '../../core/store/database.js';
import { assertResultsFile } from '../../core/store/resultsFile.js';
import { freeDevServerPort } from '../helpers/harness.js';

const dir = mkdtempSync(path.join(tmpdir(), 'flask-badfile-'));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

test('foreign, truncated and empty results files: every command that opens one exits 2 naming it, before anything is written', async () => {
  const good = path.join(dir, 'good.duckdb');
  const db = new Database(good, { gatherMs: 0 });
  await db.run((sql) => sql.exec(`INSERT INTO runs (run_id, kind, simulated, project_version, created_at) VALUES ('r1', 'review', true, 'test', now())`));
  await db.close();
  assert.doesNotThrow(() => assertResultsFile(good), 'a real results file passes');
  assert.doesNotThrow(() => assertResultsFile(path.join(dir, 'absent.duckdb')), 'a file yet to be created passes');

  const foreign = path.join(dir, 'foreign.duckdb');
  writeFileSync(foreign, 'SQLite format 3\0'.padEnd(20_000, 'x'));
  const truncated = path.join(dir, 'truncated.duckdb');
  copyFileSync(good, truncated);
  truncateSync(truncated, Math.floor(statSync(good).size / 2) + 1000);
  const empty = path.join(dir, 'empty.duckdb');
  writeFileSync(empty, '');
  const cases: [string, RegExp][] = [
    [foreign, /is not a DuckDB database/],
    [truncated, /is cut short or damaged/],
    [empty, /is empty \(0 bytes\)/],
  ];
  for (const [file, message] of cases) {
    const before = sha(file);
    const stateDir = path.join(dir, `state-${path.basename(file, '.duckdb')}`);
    const env = { ...process.env, FLASK_STATE_DIR: stateDir, FLASK_DB: file, FLASK_TEMPORAL_PORT: '1' };
    for (const args of [['server', 'start'], ['status', 'r1'], ['runs'], ['query', 'SELECT count(*) FROM runs'], ['report', 'r1']]) {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), ...args], { env, encoding: 'utf8', timeout: 60_000 });
      const what = `${args.join(' ')} on ${path.basename(file)}`;
      assert.equal(r.status, 2, `${what}: ${r.stdout}${r.stderr}`);
      assert.ok(r.stderr.includes(file), `${what} names the file: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
      assert.ok(Date.now() - t0 < 20_000, `${what} failed at once`);
    }
    assert.equal(sha(file), before, 'the file is unchanged');
    for (const f of ['server.lock', 'server.json', 'server.sock']) assert.ok(!existsSync(path.join(stateDir, f)), `no ${f} left`);
  }
});

test('a reader holding the results file when the state server starts: the command waits, naming its pid, and goes on once it closes', async () => {
  const stateDir = path.join(dir, 'state-held');
  const file = path.join(stateDir, 'results.duckdb');
  const db = new Database(file, { gatherMs: 0 });
  await db.ready();
  await db.close();
  const answers = path.join(dir, 'held-answers.jsonl');
  writeFileSync(answers, '{"question_id": 1, "text": "a"}\n');
  // A notebook's read-only connection, held until the test closes its stdin.
  const holder = spawn(process.execPath, ['--input-type=module', '-e', `import { DuckDBInstance } from '@duckdb/node-api';
const i = await DuckDBInstance.create(${JSON.stringify(file)}, { access_mode: 'READ_ONLY' }); console.log('holding');
process.stdin.resume(); process.stdin.on('end', () => { i.closeSync(); process.exit(0); });`], { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  const env = { ...process.env, FLASK_STATE_DIR: stateDir, FLASK_DB: file, FLASK_TEMPORAL_PORT: String(await freeDevServerPort()) };
  const bin = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');
  try {
    const cmd = spawn(process.execPath, [bin, 'import-answers', answers, '--model-id', 'm', '--run', 'held'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const waiting = new RegExp(`results\\.duckdb is held open by process ${holder.pid} \\(.*node.*\\) since .*: waiting for it to close`);
    cmd.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (waiting.test(stderr)) holder.stdin.end(); // the user closes the notebook
    });
    const code = await new Promise<number | null>((resolve) => cmd.once('exit', (c) => resolve(c)));
    assert.equal(code, 0, stderr);
    assert.match(stderr, waiting);
    assert.match(stderr, /Run created: "held"/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  } finally {
    holder.kill();
    spawnSync(process.execPath, [bin, 'server', 'stop'], { env, timeout: 60_000 });
  }
});
