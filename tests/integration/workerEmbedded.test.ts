// `flask-eval worker` without TEMPORAL_ADDRESS finds the embedded Temporal of its folder's state
// server by itself, serves a detached run there, and says what to do when no server runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOfflineServer } from '../../simulator/server.js';
import { probeStateServer } from '../../server/attach.js';
import { PROJECT_ROOT } from '../../core/paths.js';
import { freeDevServerPort, waitFor } from '../helpers/harness.js';

const CLI = path.join(PROJECT_ROOT, 'bin', 'flask-eval.js');

test('flask-eval worker finds the state server\'s embedded Temporal without TEMPORAL_ADDRESS and serves a detached run', async () => {
  const stateDir = mkdtempSync(path.join(process.env.FLASK_TEST_TMP || tmpdir(), 'flask-worker-embedded-'));
  const judge = await startOfflineServer({ seed: 31 });
  const { TEMPORAL_ADDRESS: _drop, ...inherited } = process.env;
  const env = {
    ...inherited, FLASK_STATE_DIR: stateDir, FLASK_TEMPORAL_PORT: String(await freeDevServerPort()),
    OPENAI_BASE_URL: judge.url, OPENAI_API_KEY: 'test-key', FLASK_JUDGE_MODEL: 'flask-offline-judge',
  };
  // Not spawnSync: the offline judge runs in this process and must keep answering.
  const cli = (args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('close', (status) => resolve({ status, stdout, stderr }));
  });
  let worker: ReturnType<typeof spawn> | undefined;
  try {
    const none = await cli(['worker', '--role', 'judge']);
    assert.equal(none.status, 2, none.stdout + none.stderr);
    assert.match(none.stderr, new RegExp(`no state server runs for ${stateDir.replace(/[/.]/g, '\\$&')}.*flask-eval server start`));

    const started = await cli(['server', 'start']);
    assert.equal(started.status, 0, started.stdout + started.stderr);
    const found = await probeStateServer(stateDir);
    assert.ok(found, 'the state server answers');

    let log = '';
    worker = spawn(process.execPath, [CLI, 'worker', '--role', 'judge', '--max-concurrency', '4'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('the worker to be ready', async () => /worker ready/.test(log) || worker!.exitCode !== null, 120_000);
    assert.match(log, new RegExp(`worker ready: ${found.health.temporalAddress} namespace ${found.health.namespace}`), log);
    assert.match(log, new RegExp(`Temporal ${found.health.temporalAddress} .*the state server of ${stateDir.replace(/[/.]/g, '\\$&')}, pid ${found.info.pid}`), log);
    await waitFor('worker --check', async () => (await cli(['worker', '--role', 'judge', '--check'])).status === 0, 60_000);

    // A detached run serves no endpoint from its own process: only this worker judges it.
    const run = await cli(['review', '--model', 'gpt4', '--limit', '6', '--run', 'embedded-worker', '--detach']);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    await waitFor('the run\'s 6 reviews', async () => {
      const q = await cli(['query', "SELECT count(DISTINCT idx) AS n FROM reviews WHERE run_id = 'embedded-worker' AND status = 'scored'", '--format', 'jsonl']);
      return /"n":\s*6\b/.test(q.stdout);
    }, 120_000);
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker!.once('exit', r));
    }
    await cli(['server', 'stop']);
    await judge.close();
  }
});
