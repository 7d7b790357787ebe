// The state server SIGKILLed under a running review, twice: the one command following the run
// notices each death within seconds, says so once, starts a replacement and finishes the run with
// every instance reviewed exactly once; `status` never says that nothing runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../core/paths.js';
import { startOfflineServer } from '../../simulator/server.js';
import { pidAlive, readServerInfo } from '../../server/serverInfo.js';
import { waitFor, freeDevServerPort } from '../helpers/harness.js';

const CLI = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');

// The drill of issue #16 is the same test at scale: FLASK_DEATH_INSTANCES=1700 FLASK_DEATH_KILLS=5
// node scripts/run-tests.mjs tests/integration/stateServerDeath.test.ts (kills at random request counts).
const N = Number(process.env.FLASK_DEATH_INSTANCES ?? 300);
const KILLS = Number(process.env.FLASK_DEATH_KILLS ?? 2);

test(`SIGKILL of the state server ${KILLS} times mid-run: one untouched command finishes the run, 0 lost, 0 duplicated`, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'flask-death-'));
  const stateDir = path.join(dir, 'state');
  const port = await freeDevServerPort();
  let requests = 0;
  const server = await startOfflineServer({ seed: 5, latencyMs: 250, onRequest: () => { requests++; } });
  // FLASK_TEMPORAL_PORT unset: the replacement must find the dead server's port by itself.
  const env: NodeJS.ProcessEnv = { ...process.env, FLASK_STATE_DIR: stateDir, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: 'test-key', FLASK_JUDGE_MODEL: 'flask-offline-judge', FLASK_SERVER_IDLE_MS: '5000' };
  delete env.FLASK_TEMPORAL_PORT;
  delete env.FLASK_DB;
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  // A port of our own for the first server (7233 may be another test's): later ones reuse it.
  const start = spawnSync(process.execPath, [CLI, 'server', 'start'], { cwd: dir, env: { ...env, FLASK_TEMPORAL_PORT: String(port) }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(start.status, 0, start.stderr);
  const n = N;
  const child = spawn(process.execPath, [CLI, 'review', '--model', 'gpt4', '--limit', String(n), '--run', 'death', '--concurrency', '8'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // The longest time the done count stood still (progress lines are "<done>/<n> done").
  const t0 = Date.now();
  let lastDone = -1;
  let lastChange = t0;
  let longestStall = 0;
  const timeline: string[] = [];
  const onData = (d: Buffer) => {
    out += d;
    for (const line of d.toString().split(/[\r\n]+/)) {
      if (line.trim()) timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${line.slice(0, 160)}`);
      const m = / (\d+)\/\d+ done /.exec(line);
      if (m && Number(m[1]) !== lastDone) {
        longestStall = Math.max(longestStall, Date.now() - lastChange);
        lastDone = Number(m[1]);
        lastChange = Date.now();
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  try {
    const statusSays: string[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      const before = requests;
      // Spread over the run: 40 requests apart by default, a random share of it at scale.
      const gap = KILLS <= 2 ? 40 : 20 + Math.floor(Math.random() * (n / KILLS - 20));
      await waitFor(`requests before kill ${kill}`, async () => requests >= before + gap, 300_000);
      const info = readServerInfo(stateDir);
      assert.ok(info && pidAlive(info.pid), 'a state server runs');
      process.kill(info.pid, 'SIGKILL'); // the daemon only: its dev server is orphaned, as after an OOM kill
      const killedAt = Date.now();
      await waitFor(`the command notices death ${kill}`, async () => (out.match(/went away at/g) ?? []).length >= kill, 10_000);
      assert.ok(Date.now() - killedAt < 10_000);
      const s = cli(['status', 'death']);
      statusSays.push(`${s.status} ${s.stdout}${s.stderr}`);
      assert.doesNotMatch(s.stdout + s.stderr, /no run is in progress/, 'status tells the truth while the server is replaced');
      await waitFor(`state server back ${kill}`, async () => (out.match(/State server back \(pid \d+\)/g) ?? []).length >= kill, 60_000);
    }
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), 240_000 + n * 300); })]);
    clearTimeout(timer);
    assert.equal(code, 0, timeline.join('\n'));
    process.stderr.write(`# death test: longest stall ${(longestStall / 1000).toFixed(1)} s, run ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    assert.ok(longestStall < 30_000, `the run stood still for ${longestStall} ms:\n${timeline.join('\n')}`);
    assert.equal((out.match(/went away at/g) ?? []).length, KILLS, 'each death is said once');
    assert.match(out, new RegExp(`${n} scored, 0 failed of ${n} instances`));
    const q = cli(['query', "SELECT count(*) AS n, count(DISTINCT idx) AS d FROM reviews WHERE run_id = 'death'", '--format', 'csv']);
    assert.equal(q.status, 0, q.stderr);
    assert.equal(q.stdout, `n,d\n${n},${n}\n`, 'every instance reviewed, none twice');
    const calls = cli(['query', "SELECT count(*) AS c FROM calls WHERE run_id = 'death'", '--format', 'csv']);
    const recorded = Number(calls.stdout.split('\n')[1]);
    assert.ok(recorded >= requests, `the judge answered ${requests} requests; the run recorded ${recorded} calls`);
    process.stderr.write(`# death test: ${requests} requests (${recorded} calls recorded) for ${n} reviews; status said: ${statusSays.map((x) => x.split('\n')[0]).join(' | ')}\n`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    cli(['server', 'stop']);
    await server.close();
  }
});
