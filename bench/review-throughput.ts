/**
 * Review throughput, end to end: the first N published GPT-4 answers are landed as a review run
 * in a temp DuckDB, judged by the offline OpenAI-compatible judge over HTTP through in-process
 * workers on the real Temporal dev server, and the figures printed.
 *
 *   npx tsx bench/review-throughput.ts [--instances 300] [--concurrency 8] [--latency-ms 0] [--batch-size 200] [--keep]
 *
 * The judge's scores are SIMULATED (offline judge); this measures the pipeline, not a model.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startOfflineServer, OFFLINE_MODEL_ID } from '../offline/server.js';
import { OpenAIProvider } from '../core/provider/openaiProvider.js';
import { startWorkers } from '../worker/createWorkers.js';
import { startOrAttach } from '../client/runs.js';
import { prepareReview, sha256File } from '../core/prepare.js';
import { loadReviewPromptKit } from '../core/prompts/review.js';
import { projectVersion } from '../core/config.js';
import { DATA_FILES, publishedAnswersFile } from '../core/paths.js';
import { createOrMatchRun } from '../core/store/runs.js';
import { landInstances, landResponses } from '../core/store/instances.js';
import { taskQueuesFor } from '../workflows/types.js';
import {
  childPeakRss, describeHistory, dirBytes, fmtBytes, fmtInt, followWithTicks, historyFigures, peakRssBytes, runBench, startTemporal, tempDb,
} from './common.js';

const { values: v } = parseArgs({
  options: {
    instances: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '8' },
    'latency-ms': { type: 'string', default: '0' },
    'batch-size': { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(v.instances);
const C = Number(v.concurrency);
const L = Number(v['latency-ms']);
const B = Number(v['batch-size']);
for (const [k, x] of [['instances', N], ['concurrency', C], ['batch-size', B]] as const) {
  if (!Number.isInteger(x) || x < 1) throw new Error(`--${k} must be a positive integer`);
}
if (!Number.isFinite(L) || L < 0) throw new Error('--latency-ms must be >= 0');

runBench(async (cleanups) => {
  const log = (s: string) => console.log(s);
  log(`review-throughput: instances ${N}, concurrency ${C}, judge latency ${L} ms, batch size ${B}`);

  const tSetup = Date.now();
  const tmp = tempDb('review');
  if (!v.keep) cleanups.push(() => tmp.remove());
  const { db } = tmp;
  const evalSet = DATA_FILES.evalSet;
  const answers = publishedAnswersFile('gpt4');
  const prepared = prepareReview(evalSet, answers, 'gpt4', N);
  if (prepared.instances.length < N) log(`  note: only ${prepared.instances.length} answered instances exist; using them all`);
  const runId = 'bench-review-gpt4';

  const env = await startTemporal();
  cleanups.push(() => env.teardown());
  const server = await startOfflineServer({ seed: 0, latencyMs: L });
  cleanups.push(() => server.close());

  await db.run(async (sql) => {
    await createOrMatchRun(sql, {
      runId, kind: 'review', simulated: true,
      datasetPath: path.resolve(evalSet), datasetSha256: sha256File(evalSet),
      answersPath: path.resolve(answers), answersSha256: sha256File(answers),
      modelId: 'gpt4', modelEndpoint: null, modelSettings: null,
      judgeModel: OFFLINE_MODEL_ID, judgeEndpoint: 'offline (simulated)',
      judgeSettings: { temperature: loadReviewPromptKit().temperature, maxTokens: loadReviewPromptKit().maxTokens, maxParseAttempts: 3 },
      promptTemplateSha256: loadReviewPromptKit().hash, projectVersion: projectVersion(), summary: prepared.summary,
    });
    await landInstances(sql, runId, prepared.instances);
    await landResponses(sql, runId, prepared.responses);
  });

  const provider = new OpenAIProvider({ apiKey: 'offline', baseURL: server.url });
  const taskQueue = `bench-review-${process.pid}`;
  const workers = await startWorkers({
    connection: env.nativeConnection, namespace: 'default', taskQueue, deps: { db, judge: provider, model: provider },
    judgeConcurrency: C, modelConcurrency: C,
  });
  cleanups.push(() => workers.shutdown());
  log(`  setup (dev server, landing ${prepared.instances.length} instances, workflow bundle, workers): ${((Date.now() - tSetup) / 1000).toFixed(1)} s`);

  const t0 = Date.now();
  const { handle } = await startOrAttach(env.client, {
    runId, steps: ['review'], queues: taskQueuesFor(taskQueue), concurrency: C, batchSize: B, maxAttempts: 12,
  });
  const { final, maxPendingActivities } = await followWithTicks(env.client, handle, 10_000, log);
  const wall = (Date.now() - t0) / 1000;

  const parent = await historyFigures(env.client, handle.workflowId);
  const child = await historyFigures(env.client, `${handle.workflowId}-batch-0`);
  const size = dirBytes(tmp.dir);
  const stats = server.stats();
  const devServer = childPeakRss('temporal');

  log('');
  log(`instances              ${fmtInt(final.total)} (done ${fmtInt(final.done)}, failed ${fmtInt(final.failed)})`);
  log(`wall time              ${wall.toFixed(2)} s (workflow start to result)`);
  log(`throughput             ${(final.total / wall).toFixed(1)} instances/s`);
  log(`judge calls            ${fmtInt(final.calls)} (workflow count); HTTP requests at the judge ${fmtInt(stats.requests)}, malformed ${stats.malformed}, 5xx ${stats.status5xx}, 429 ${stats.status429}`);
  log(`tokens                 ${fmtInt(final.tokens)} (${fmtInt(Math.round(final.tokens / Math.max(1, final.total)))} per instance)`);
  log(`DuckDB file            ${fmtBytes(size.file)}${size.total !== size.file ? ` (+ ${fmtBytes(size.total - size.file)} other files)` : ''}  ${v.keep ? db.file : ''}`);
  log(`peak RSS (this proc.)  ${fmtBytes(peakRssBytes())} (process.resourceUsage().maxRSS: workers, client, offline judge, DuckDB)`);
  for (const d of devServer) log(`peak RSS (dev server)  ${fmtBytes(d.bytes)} (pid ${d.pid}, VmHWM)`);
  log(`max pending activities in one batch (sampled): ${maxPendingActivities}`);
  log(describeHistory('parent history        ', parent));
  log(describeHistory('child history (batch 0)', child));
});
