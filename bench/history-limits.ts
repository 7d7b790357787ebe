/**
 * Does a large run stay within Temporal's limits? A review run of N synthetic instances goes
 * through the whole pipeline — real dev server, in-process workers running the activities of
 * activities/createActivities.ts, DuckDB landing — with a fake ChatProvider that answers every
 * review instantly with a valid judge answer (score 4 on each of the instance's skills). No
 * model is called. Prints the histories' lengths and sizes next to Temporal's default limits.
 *
 *   npx tsx bench/history-limits.ts [--instances 20000] [--batch-size 1000] [--chunk-size 100] [--concurrency 64] [--max-history-events N] [--keep]
 */
import { parseArgs } from 'node:util';
import type { ChatProvider, ChatResult, EndpointProbe } from '../core/provider/provider.js';
import type { ChatRequest } from '../core/prompts/chat.js';
import { SKILL_NAMES } from '../core/flask/skills.js';
import { loadEvalSet, type EvalInstance } from '../core/flask/dataset.js';
import { DATA_FILES } from '../core/paths.js';
import { createOrMatchRun } from '../core/store/runs.js';
import { landInstances, landResponses, type ResponseRow } from '../core/store/instances.js';
import { startStoreRole } from '../worker/storeWorker.js';
import { startEndpointWorker } from '../worker/endpointWorker.js';
import { endpointRef } from '../core/provider/endpoint.js';
import { startOrAttach } from '../client/runs.js';
import type { RunWorkflowInput } from '../core/pipeline.js';
import { RUN_DEFAULTS, defaultChunkSize } from '../client/flags.js';
import {
  childPeakRss, describeHistory, dirBytes, executionsOf, fmtBytes, fmtInt, followWithTicks, historyFigures, peakRssBytes, runBench, startTemporal, tempDb,
  type HistoryFigures,
} from './common.js';

const { values: v } = parseArgs({
  options: {
    instances: { type: 'string', default: '20000' },
    'batch-size': { type: 'string', default: String(RUN_DEFAULTS.batchSize) },
    concurrency: { type: 'string', default: '64' },
    'chunk-size': { type: 'string' },
    'max-history-events': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(v.instances);
const B = Number(v['batch-size']);
const C = Number(v.concurrency);
const maxHistoryEvents = v['max-history-events'] === undefined ? undefined : Number(v['max-history-events']);
for (const [k, x] of [['instances', N], ['batch-size', B], ['concurrency', C], ['max-history-events', maxHistoryEvents ?? 1]] as const) {
  if (!Number.isInteger(x) || x < 1) throw new Error(`--${k} must be a positive integer`);
}

/** Temporal's defaults (server dynamic config): the error limits, and where it starts warning. */
const LIMITS = {
  historyEvents: 51_200, historyEventsWarn: 10_240,
  historyBytes: 50 * 1024 * 1024, historyBytesWarn: 10 * 1024 * 1024,
  payloadBytes: 2 * 1024 * 1024, payloadBytesWarn: 512 * 1024,
  pendingActivities: 2_000, pendingChildren: 2_000,
};

/**
 * A judge that answers at once: the skills are the rubric names heading lines of the user
 * message ("Factuality: ..." in the {skills} block), in order; each gets 4.
 */
class InstantJudge implements ChatProvider {
  calls = 0;
  async complete(model: string, request: ChatRequest): Promise<ChatResult> {
    this.calls++;
    const user = request.messages.filter((m) => m.role === 'user').map((m) => m.content).join('\n');
    const skills: string[] = [];
    for (const line of user.split('\n')) {
      for (const s of SKILL_NAMES) if (line.startsWith(`${s}:`) && !skills.includes(s)) skills.push(s);
    }
    const text = `The response is adequate for each skill.\n\n{${skills.map((s) => `'${s}': 4`).join(', ')}}`;
    const promptChars = request.messages.reduce((n, m) => n + m.content.length, 0);
    return {
      text, finishReason: 'stop', promptTokens: Math.ceil(promptChars / 4), completionTokens: Math.ceil(text.length / 4), model,
      simulated: true, rateHeaders: {},
    };
  }

  async probe(): Promise<EndpointProbe> {
    return { simulated: true, models: ['bench-instant-judge'] };
  }
}

runBench(async (cleanups) => {
  const log = (s: string) => console.log(s);
  log(`history-limits: instances ${fmtInt(N)}, batch size ${B}, concurrency ${C}${maxHistoryEvents ? `, parent continue-as-new after ${maxHistoryEvents} events` : ''} (fake instant judge, no model called)`);

  const tSetup = Date.now();
  const tmp = tempDb('limits');
  if (!v.keep) cleanups.push(() => tmp.remove());
  const { db } = tmp;
  const base = loadEvalSet(DATA_FILES.evalSet);
  const instances: EvalInstance[] = Array.from({ length: N }, (_, k) => ({ ...base[k % base.length]!, idx: k + 1 }));
  const responses: ResponseRow[] = instances.map((i) => ({ idx: i.idx, modelId: 'bench-model', text: 'ok', source: 'imported' }));
  const runId = `bench-limits-${N}`;

  const env = await startTemporal();
  cleanups.push(() => env.teardown());

  await db.run(async (sql) => {
    await createOrMatchRun(sql, {
      runId, kind: 'review', simulated: true, datasetPath: null, datasetSha256: null, answersPath: null, answersSha256: null,
      modelId: 'bench-model', modelEndpoint: null, modelSettings: null,
      judgeModel: 'bench-instant-judge', judgeEndpoint: 'in-process fake', judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 },
      promptTemplateSha256: null, projectVersion: 'bench', summary: { synthetic: true, cycledFrom: DATA_FILES.evalSet },
    });
    await landInstances(sql, runId, instances);
    await landResponses(sql, runId, responses);
  });
  const tLanded = Date.now();
  log(`  landed ${fmtInt(N)} instances + responses in DuckDB: ${((tLanded - tSetup) / 1000).toFixed(1)} s (dev server start included)`);

  const judge = new InstantJudge();
  const taskQueue = `bench-limits-${process.pid}`;
  // The production layout: the store role owns the file and runs the workflows; one endpoint
  // worker serves the (fake, instant) judge.
  const endpoint = endpointRef('offline:instant-judge', 'bench-instant-judge', taskQueue);
  const store = await startStoreRole({ connection: env.nativeConnection, namespace: 'default', controlQueue: taskQueue, db });
  const worker = await startEndpointWorker({ connection: env.nativeConnection, namespace: 'default', endpoint, provider: judge, limits: { maxConcurrency: C } });
  cleanups.push(async () => { await worker.shutdown(); await store.shutdown(); });

  const input: RunWorkflowInput = {
    runId, steps: ['review'], controlQueue: taskQueue, judge: endpoint, judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 },
    chunkSize: v['chunk-size'] ? Number(v['chunk-size']) : defaultChunkSize(C), concurrency: C, batchSize: B, maxAttempts: 12, shuffleSeed: 0,
    ...(maxHistoryEvents ? { maxHistoryEvents } : {}),
  };
  const t0 = Date.now();
  const { handle } = await startOrAttach(env.client, input);
  log(`  started ${handle.workflowId}; progress every 10 s:`);
  const { final, maxPendingActivities, maxRunningBatches } = await followWithTicks(env.client, handle, 10_000, log);
  const wall = (Date.now() - t0) / 1000;
  log(`  finished: done ${fmtInt(final.done)}, failed ${fmtInt(final.failed)} of ${fmtInt(final.total)}; ${fmtInt(judge.calls)} fake judge calls`);

  // The parent's continue-as-new chain.
  const chainIds = await executionsOf(env.client, handle.workflowId);
  const current = (await env.client.workflow.getHandle(handle.workflowId).describe()).runId;
  if (!chainIds.includes(current)) chainIds.push(current);
  const chain: HistoryFigures[] = [];
  for (const id of chainIds) chain.push(await historyFigures(env.client, handle.workflowId, id));

  // Every child: describe all, fetch the longest history.
  const children: HistoryFigures[] = [];
  for (let from = 0; from < N; from += B) children.push(await historyFigures(env.client, `${handle.workflowId}-batch-${from}`, undefined, false));
  const longest = children.reduce((a, b) => (b.historyLength > a.historyLength ? b : a));
  const longestFull = await historyFigures(env.client, longest.workflowId, longest.runId);
  const maxChildBytes = Math.max(...children.map((c) => c.serverHistoryBytes ?? 0));
  const childEvents = children.reduce((s, c) => s + c.historyLength, 0);

  const size = dirBytes(tmp.dir);
  const inputJson = Buffer.byteLength(JSON.stringify(input));
  const pct = (x: number, limit: number) => `${((100 * x) / limit).toFixed(2)}% of ${limit >= 1024 * 1024 ? fmtBytes(limit) : fmtInt(limit)}`;
  const chainEvents = chain.reduce((s, c) => s + c.historyLength, 0);
  const chainBytes = chain.reduce((s, c) => s + (c.serverHistoryBytes ?? 0), 0);
  const chainJson = chain.reduce((s, c) => s + (c.jsonBytes ?? 0), 0);
  const maxParentEvents = Math.max(...chain.map((c) => c.historyLength));
  const maxParentBytes = Math.max(...chain.map((c) => c.serverHistoryBytes ?? 0));
  const maxPayload = Math.max(longestFull.maxPayloadBytes ?? 0, ...chain.map((c) => c.maxPayloadBytes ?? 0));
  const maxInput = Math.max(...chain.map((c) => c.inputBytes ?? 0));

  log('');
  log(`instances              ${fmtInt(final.total)} (done ${fmtInt(final.done)}, failed ${fmtInt(final.failed)})`);
  log(`wall time              ${wall.toFixed(1)} s (workflow start to result; landing took ${((tLanded - tSetup) / 1000).toFixed(1)} s before)`);
  log(`throughput             ${(final.total / wall).toFixed(1)} instances/s`);
  log(`DuckDB file            ${fmtBytes(size.file)}`);
  log(`peak RSS (this proc.)  ${fmtBytes(peakRssBytes())}`);
  for (const d of childPeakRss('temporal')) log(`peak RSS (dev server)  ${fmtBytes(d.bytes)} (pid ${d.pid})`);
  log('');
  log(`parent chain           ${chain.length} execution(s) (${chain.length - 1} continue-as-new), ${fmtInt(chainEvents)} events, ${fmtBytes(chainBytes)} server-counted, ~${fmtBytes(chainJson)} as JSON in all`);
  chain.forEach((c, k) => log(describeHistory(`  execution ${k + 1}`, c)));
  log(`  largest execution    ${fmtInt(maxParentEvents)} events (${pct(maxParentEvents, LIMITS.historyEvents)}), ${fmtBytes(maxParentBytes)} (${pct(maxParentBytes, LIMITS.historyBytes)})`);
  log(`  parent input         ${fmtInt(inputJson)} B as JSON; ${fmtInt(maxInput)} B largest input payload in the chain (${pct(maxInput, LIMITS.payloadBytes)})`);
  log(`children               ${children.length} batch workflows, ${fmtInt(childEvents)} events in all; at most ${maxRunningBatches} running at once (sampled)`);
  log(describeHistory('  longest child', longestFull));
  log(`  longest child        ${pct(longestFull.historyLength, LIMITS.historyEvents)} events; largest child ${fmtBytes(maxChildBytes)} (${pct(maxChildBytes, LIMITS.historyBytes)})`);
  log(`largest payload        ${fmtInt(maxPayload)} B in the parent chain + longest child (${pct(maxPayload, LIMITS.payloadBytes)})`);
  log(`pending activities     at most ${maxPendingActivities} in one batch (sampled every 2 s; limit ${fmtInt(LIMITS.pendingActivities)} per workflow); parent: none (children only, at most ${maxRunningBatches} pending of ${fmtInt(LIMITS.pendingChildren)})`);
  log('');
  log(`Temporal defaults: ${fmtInt(LIMITS.historyEvents)} events / ${fmtBytes(LIMITS.historyBytes)} per history (warnings from ${fmtInt(LIMITS.historyEventsWarn)} / ${fmtBytes(LIMITS.historyBytesWarn)}), ` +
    `${fmtBytes(LIMITS.payloadBytes)} per payload (warning from ${fmtBytes(LIMITS.payloadBytesWarn)}), ${fmtInt(LIMITS.pendingActivities)} pending activities and ${fmtInt(LIMITS.pendingChildren)} pending children per workflow.`);
});
