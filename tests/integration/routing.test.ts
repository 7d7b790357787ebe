// Runs are bound to their endpoints: a worker serves only the task queues of the endpoints it
// was configured with, so a run never gets answers from another command's endpoints, and
// every row records the endpoint that produced it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer, type OfflineRequestEvent } from '../../simulator/server.js';
import { OpenAIProvider } from '../../core/provider/openaiProvider.js';
import { endpointRef } from '../../core/provider/endpoint.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { DATA_FILES } from '../../core/paths.js';
import { startOrAttach } from '../../client/runs.js';
import { preflight, serveEndpoint } from '../../client/endpoints.js';
import { startEndpointWorker } from '../../worker/endpointWorker.js';
import { baseRun, counts, landRun, sleep, startTemporal, startTestPipeline, tempDb } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startTemporal();
});
after(async () => {
  await env?.teardown();
});

test('an interrupted run is not served by a later command with other endpoints; its own endpoint worker finishes it', async () => {
  const events: OfflineRequestEvent[] = [];
  const server = await startOfflineServer({ seed: 11, onRequest: (e) => events.push(e) });
  const db = tempDb('routing');
  const instances = loadEvalSet(DATA_FILES.evalSet).slice(0, 8);
  // Only the store runs: no worker serves run A's endpoints (its command was interrupted).
  const pipeline = await startTestPipeline(env, db, 'routing', server.url, { endpointWorkers: false });
  const modelA = endpointRef(server.url, 'model-of-run-a', pipeline.controlQueue);
  await landRun(db, { ...baseRun('run-a', 'eval'), modelId: 'model-of-run-a' }, instances);
  const a = await startOrAttach(env.client, pipeline.plan('run-a', ['generate', 'review'], { model: modelA }));

  // A later command reviews run B with another judge, serving only that judge's queue.
  await landRun(db, baseRun('run-b'), instances, instances.map((i) => ({ idx: i.idx, modelId: 'm', text: 'an answer', source: 'imported' as const })));
  const judgeB = endpointRef(server.url, 'judge-of-run-b', pipeline.controlQueue);
  const provider = new OpenAIProvider({ apiKey: 'k', baseURL: server.url });
  const workerB = await startEndpointWorker({ connection: env.nativeConnection, namespace: 'default', endpoint: judgeB, provider, limits: { maxConcurrency: 4 } });
  const b = await startOrAttach(env.client, pipeline.plan('run-b', ['review'], { judge: judgeB }));
  const doneB = await b.handle.result();
  assert.equal(doneB.done, 8);
  await sleep(500);
  const untouched = await counts(db, 'run-a');
  assert.equal(untouched.responses, 0, 'run A got no answers from run B\'s worker');
  assert.equal(untouched.reviews, 0);
  assert.equal(events.filter((e) => e.kind === 'model').length, 0, 'no generation request was sent for run A');
  const reviewedB = await db.run((sql) => sql.all(`SELECT DISTINCT judge_model, endpoint FROM reviews WHERE run_id = 'run-b'`));
  assert.deepEqual(reviewedB, [{ judge_model: 'judge-of-run-b', endpoint: server.url.replace(/\/+$/, '') }]);
  await workerB.shutdown();

  // Run A's own endpoints come back: it finishes, and each row says who produced it.
  const workersA = await Promise.all([modelA, pipeline.judge].map((ref) =>
    startEndpointWorker({ connection: env.nativeConnection, namespace: 'default', endpoint: ref, provider, limits: { maxConcurrency: 4 } })));
  const doneA = await a.handle.result();
  assert.equal(doneA.done + doneA.failed, 8);
  const rows = await db.run((sql) => sql.all(
    `SELECT (SELECT list(DISTINCT model_id) FROM responses WHERE run_id = 'run-a') AS models,
            (SELECT list(DISTINCT judge_model) FROM reviews WHERE run_id = 'run-a') AS judges,
            (SELECT bool_and(simulated) FROM responses WHERE run_id = 'run-a') AS simulated`));
  assert.deepEqual(rows[0]!.models, ['model-of-run-a']);
  assert.deepEqual(rows[0]!.judges, ['flask-offline-judge']);
  assert.equal(rows[0]!.simulated, true, 'the offline server said its answers are simulated');
  await Promise.all(workersA.map((w) => w.shutdown()));
  await pipeline.shutdown();
  await server.close();
});

test('the offline server reached by URL is recognised as simulated by the preflight', async () => {
  const server = await startOfflineServer({ seed: 12 });
  const ep = await preflight('judge', await serveEndpoint({ baseURL: server.url, apiKey: 'some-key', model: 'gpt-4-0613' }, 'q'));
  assert.equal(ep.simulated, true);
  assert.equal(ep.ref.baseUrl, server.url.replace(/\/+$/, ''));
  await server.close();
});

test('an unreachable endpoint fails the preflight within seconds, naming the address', async () => {
  const started = Date.now();
  await assert.rejects(
    preflight('model', await serveEndpoint({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k', model: 'm' }, 'q'), 5_000),
    (e: Error) => {
      assert.match(e.message, /model endpoint http:\/\/127\.0\.0\.1:9\/v1 did not answer.*--model-base-url/);
      return true;
    },
  );
  assert.ok(Date.now() - started < 10_000);
});

test('a busy one-at-a-time server passes the preflight after a message; one busier than the request timeout is called busy, not dead', async () => {
  const server = await startOfflineServer({ serial: true, latencyMs: 12_000 });
  try {
    const ep = await serveEndpoint({ baseURL: server.url, apiKey: 'k', model: 'flask-offline-judge' }, 'q');
    // Another client's request holds the server's one slot for 12 s.
    const other = ep.provider.complete('flask-offline-judge', { messages: [{ role: 'user', content: 'hello' }], temperature: 0, maxTokens: 5 });
    await new Promise((r) => setTimeout(r, 200));
    const said: string[] = [];
    const started = Date.now();
    const ok = await preflight('judge', ep, 30_000, (s) => said.push(s));
    assert.ok(Date.now() - started >= 10_000, 'it waited for the busy server');
    assert.equal(ok.simulated, true);
    assert.equal(said.length, 1);
    assert.match(said[0]!, /accepted the connection but has not answered GET \/models for 10s: busy .*waiting up to 30s \(--request-timeout\)/);
    await other;

    const again = ep.provider.complete('flask-offline-judge', { messages: [{ role: 'user', content: 'hello again' }], temperature: 0, maxTokens: 5 });
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(preflight('judge', ep, 3_000), /accepted a connection but did not answer GET \/models within 3s .*busy or hung\. A slow server needs a longer --request-timeout/);
    await again;
  } finally {
    await server.close();
  }
});
