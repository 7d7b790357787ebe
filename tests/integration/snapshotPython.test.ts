// Researchers' tools read results while a run lands: the real Python `duckdb` package opens the
// published snapshot.duckdb again and again during a review (one connection held open all along),
// never fails, sees the rows grow, and sees them all shortly after the run.
// Needs Python with duckdb (`pip install duckdb`; PYTHON=/path/to/python picks one); skipped without.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freeDevServerPort } from '../helpers/harness.js';
import { PROJECT_ROOT } from '../../core/paths.js';
import { startOfflineServer } from '../../simulator/server.js';

const python = process.env.PYTHON ?? 'python3';
const hasDuckdb = spawnSync(python, ['-c', 'import duckdb'], { encoding: 'utf8' }).status === 0;
const CLI = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');

const READER = `
import duckdb, json, os, sys, time
snap, stop, mode = sys.argv[1], sys.argv[2], sys.argv[3]
held = None
while not os.path.exists(stop):
    try:
        if os.path.exists(snap):
            if mode == "hold":
                # One connection kept open for the whole run (another process: duckdb caches
                # instances by path, so in one process every connect would share this one's copy).
                held = held or duckdb.connect(snap, read_only=True)
            else:
                con = duckdb.connect(snap, read_only=True)
                n = con.execute("SELECT count(*) FROM reviews WHERE run_id = 'live'").fetchone()[0]
                s = con.execute("SELECT count(*) FROM skill_summary WHERE run_id = 'live'").fetchone()[0]
                con.close()
                print(json.dumps({"reviews": n, "skills": s}), flush=True)
    except Exception as e:
        print(json.dumps({"error": str(e)}), flush=True)
    time.sleep(0.3)
if mode == "hold":
    print(json.dumps({"held": held.execute("SELECT count(*) FROM runs").fetchone()[0] if held else None}), flush=True)
`;

test('Python duckdb reads snapshot.duckdb during a run: no error, rows grow, all of them after', { skip: hasDuckdb ? false : `no duckdb module for ${python} (pip install duckdb, or set PYTHON)` }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-pysnap-'));
  const stateDir = path.join(dir, 'state');
  const port = await freeDevServerPort();
  const server = await startOfflineServer({ seed: 7, latencyMs: 300 });
  const env = { ...process.env, FLASK_STATE_DIR: stateDir, FLASK_DB: path.join(stateDir, 'results.duckdb'), FLASK_TEMPORAL_PORT: String(port), FLASK_SNAPSHOT_INTERVAL_MS: '1000', OPENAI_BASE_URL: server.url, OPENAI_API_KEY: 'k', FLASK_JUDGE_MODEL: 'flask-offline-judge' };
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 180_000 });
  const script = path.join(dir, 'reader.py');
  const stop = path.join(dir, 'stop');
  writeFileSync(script, READER);
  try {
    assert.equal(cli(['server', 'start']).status, 0);
    const readers = ['poll', 'hold'].map((mode) => {
      const p = spawn(python, [script, path.join(stateDir, 'snapshot.duckdb'), stop, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      const r = { lines: '', exited: new Promise((done) => p.once('exit', done)) };
      p.stdout!.on('data', (d) => { r.lines += d; });
      return r;
    });
    const n = 200;
    // Not spawnSync: the offline judge answers from this process's event loop.
    const review = spawn(process.execPath, [CLI, 'review', '--model', 'gpt4', '--limit', String(n), '--run', 'live', '--concurrency', '8'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    review.stderr!.on('data', (d) => { stderr += d; });
    const code = await new Promise((r) => review.once('exit', r));
    assert.equal(code, 0, stderr);
    assert.match(stderr, new RegExp(`${n} scored, 0 failed of ${n} instances`));
    // One more snapshot after the last landing, within the interval (and 5x a build's time).
    const t0 = Date.now();
    while (!readers[0]!.lines.includes(`"reviews": ${n},`) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 200));
    writeFileSync(stop, '');
    await Promise.all(readers.map((r) => r.exited));
    const seen = readers.map((r) => r.lines).join('').trim().split('\n').map((l) => JSON.parse(l) as { reviews?: number; skills?: number; error?: string; held?: number });
    assert.deepEqual(seen.filter((s) => s.error), [], 'no read failed');
    const counts = seen.filter((s) => s.reviews !== undefined).map((s) => s.reviews!);
    assert.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]!), `the rows never go backwards: ${counts.join(',')}`);
    assert.ok(new Set(counts.filter((c) => c > 0 && c < n)).size >= 2, `partial results were visible during the run: ${counts.join(',')}`);
    assert.equal(counts[counts.length - 1], n, 'all rows after the run');
    // The copy it opened (taken before the run was even recorded, or after) still reads after many replacements.
    const held = seen.filter((x) => x.held !== undefined);
    assert.equal(held.length, 1);
    assert.ok(held[0]!.held === 0 || held[0]!.held === 1, JSON.stringify(held));
  } finally {
    writeFileSync(stop, '');
    cli(['server', 'stop']);
    await server.close();
  }
});
