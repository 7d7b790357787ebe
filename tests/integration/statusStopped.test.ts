// A run that stopped says why in `flask-eval status`, not only FAILED: the reason of the failure
// that stopped it (a refused key here; a worker that cannot render its prompts, WorkerCannotWork,
// stops a run the same way: tests/unit/promptSet.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES, PROJECT_ROOT } from '../../core/paths.js';
import { startOrAttach } from '../../client/runs.js';
import { baseRun, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

test('status of a stopped run prints why it stopped', async () => {
  const server = await startOfflineServer({ seed: 41, apiKey: 'the-right-key' });
  cleanups.push(() => server.close());
  const db = tempDb('status-stopped');
  const pipeline = await startTestPipeline(env, db, 'status-stopped', server.url);
  cleanups.push(() => pipeline.shutdown());
  const instances = loadEvalSet(DATA_FILES.evalSet).slice(0, 3);
  await landRun(db, baseRun('stopped'), instances, instances.map((i) => ({ idx: i.idx, modelId: 'm', text: 'an answer', source: 'imported' as const })));
  const run = await startOrAttach(env.client, pipeline.plan('stopped', ['review']));
  await assert.rejects(run.handle.result());
  await pipeline.shutdown();
  await db.close(); // the results file is free for the CLI

  const out = await new Promise<{ status: number | null; text: string }>((resolve) => {
    const p = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'status', 'stopped'], {
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, FLASK_DB: db.file }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.stderr.on('data', (d: Buffer) => (text += d.toString()));
    p.once('close', (status) => resolve({ status, text }));
  });
  assert.match(out.text, /: FAILED, started /, out.text);
  assert.match(out.text, /the run stopped: .*401/, out.text);
  assert.match(out.text, /check the key/, out.text);
});
