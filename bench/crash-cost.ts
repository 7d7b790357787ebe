/**
 * What a crash costs: a review run whose endpoint worker (a `flask-eval worker` process) is
 * SIGKILLed several times and started again. The offline server logs every request; a request
 * whose exact content was answered before is a re-sent call (paid twice). The figures compare
 * those with what the run recorded in DuckDB (`calls` rows with outcome 'lost' or 'possibly_sent', and resent).
 *
 *   npx tsx bench/crash-cost.ts [--instances 300] [--kills 5] [--latency-ms 1000] [--concurrency 16] [--every-s 8]
 */
import { parseArgs } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startOfflineServer, type OfflineRequestEvent } from '../simulator/server.js';
import { prepareReview } from '../core/inputs/prepare.js';
import { DATA_FILES, PROJECT_ROOT, publishedAnswersFile } from '../core/paths.js';
import { createOrMatchRun } from '../core/store/runs.js';
import { landInstances, landResponses } from '../core/store/instances.js';
import { endpointRef } from '../core/provider/endpoint.js';
import { startStoreRole } from '../worker/storeWorker.js';
import { startOrAttach } from '../client/runs.js';
import { fmtInt, runBench, startTemporal, tempDb } from './common.js';
import { RUN_DEFAULTS, defaultChunkSize } from '../client/flags.js';

const { values: v } = parseArgs({
  options: {
    instances: { type: 'string', default: '300' },
    kills: { type: 'string', default: '5' },
    'latency-ms': { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
    'every-s': { type: 'string', default: '8' },
  },
});
const N = Number(v.instances);
const KILLS = Number(v.kills);
const C = Number(v.concurrency);

runBench(async (cleanups) => {
  const log = (s: string) => console.log(s);
  const events: OfflineRequestEvent[] = [];
  const server = await startOfflineServer({ seed: 21, latencyMs: Number(v['latency-ms']), onRequest: (e) => events.push(e) });
  cleanups.push(() => server.close());
  const env = await startTemporal();
  cleanups.push(() => env.teardown());
  const tmp = tempDb('crash');
  cleanups.push(() => tmp.remove());
  const { db } = tmp;
  const runId = 'crash-cost';
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', N);
  await db.run(async (sql) => {
    await createOrMatchRun(sql, {
      runId, kind: 'review', simulated: true, datasetPath: null, datasetSha256: null, answersPath: null, answersSha256: null,
      modelId: 'gpt4', modelEndpoint: null, modelSettings: null, judgeModel: 'flask-offline-judge', judgeEndpoint: 'offline',
      judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 }, promptTemplateSha256: null, projectVersion: 'bench', summary: {},
    });
    await landInstances(sql, runId, prepared.instances);
    await landResponses(sql, runId, prepared.responses);
  });
  const queue = `bench-crash-${process.pid}`;
  const judge = endpointRef(server.url, 'flask-offline-judge', queue);
  const store = await startStoreRole({ connection: env.nativeConnection, namespace: 'default', controlQueue: queue, db });
  cleanups.push(() => store.shutdown());
  const startWorker = (): ChildProcess =>
    spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'flask-eval.js'), 'worker', '--role', 'judge', '--max-concurrency', String(C)], {
      cwd: PROJECT_ROOT, stdio: 'ignore',
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, FLASK_TASK_QUEUE: queue, OPENAI_BASE_URL: server.url, OPENAI_API_KEY: 'k', FLASK_JUDGE_MODEL: 'flask-offline-judge' },
    });
  let worker = startWorker();
  cleanups.push(() => { worker.kill('SIGKILL'); });
  const t0 = Date.now();
  const { handle } = await startOrAttach(env.client, {
    runId, steps: ['review'], controlQueue: queue, judge, judgeSettings: { temperature: 0.2, maxTokens: 1024, maxParseAttempts: 3 },
    chunkSize: defaultChunkSize(C), concurrency: C, batchSize: RUN_DEFAULTS.batchSize, maxAttempts: RUN_DEFAULTS.maxAttempts, shuffleSeed: 0, heartbeatTimeoutMs: 15_000,
  });
  const result = handle.result();
  let finished = false;
  void result.finally(() => { finished = true; });
  for (let k = 0; k < KILLS && !finished; k++) {
    await new Promise((r) => setTimeout(r, Number(v['every-s']) * 1000));
    if (finished) break;
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    log(`  [${((Date.now() - t0) / 1000).toFixed(0)} s] worker SIGKILLed (${k + 1}/${KILLS}); a new one starts`);
    worker = startWorker();
  }
  const final = await result;
  const wall = (Date.now() - t0) / 1000;
  const answered = new Map<string, number>();
  for (const e of events) if (e.status === 200) answered.set(e.contentHash, (answered.get(e.contentHash) ?? 0) + 1);
  const resentByServer = [...answered.values()].reduce((s, n) => s + (n - 1), 0);
  const recorded = await db.read((sql) => sql.one<Record<string, number>>(
    `SELECT count(*) FILTER (outcome = 'lost')::INT AS lost, count(*) FILTER (outcome = 'possibly_sent')::INT AS possibly, count(*) FILTER (resent)::INT AS resent,
            coalesce(sum(prompt_tokens + completion_tokens) FILTER (outcome IN ('lost', 'possibly_sent')), 0)::BIGINT AS lost_tokens,
            count(*) FILTER (outcome = 'ok')::INT AS ok FROM calls WHERE run_id = ?`, [runId]));
  const reviews = await db.read((sql) => sql.one<Record<string, number>>(`SELECT count(*)::INT AS n, count(DISTINCT idx)::INT AS d FROM reviews WHERE run_id = ?`, [runId]));
  log('');
  log(`instances           ${fmtInt(final.total)}: done ${fmtInt(final.done)}, failed ${fmtInt(final.failed)}; reviews ${reviews!.n} (${reviews!.d} distinct)`);
  log(`wall time           ${wall.toFixed(1)} s with ${KILLS} SIGKILLs of the endpoint worker (judge latency ${v['latency-ms']} ms, concurrency ${C})`);
  log(`re-sent (server)    ${fmtInt(resentByServer)} requests answered twice or more, by content`);
  const unanswered = Number(recorded!.lost) + Number(recorded!.possibly);
  log(`recorded            ${fmtInt(Number(recorded!.lost))} lost + ${fmtInt(Number(recorded!.possibly))} possibly sent calls (${fmtInt(Number(recorded!.lost_tokens))} tokens, estimated from their repeats), ${fmtInt(Number(recorded!.resent))} calls marked re-sent`);
  log(`requests vs record  server answered ${fmtInt(events.filter((e) => e.status === 200).length)}; the run recorded ${fmtInt(Number(recorded!.ok) + unanswered)} (ok + lost + possibly sent)`);
  log(resentByServer <= unanswered
    ? `over-count          ${fmtInt(unanswered - resentByServer)} recorded as lost or possibly sent that the server did not see twice (an upper bound, as designed)`
    : `UNDER-COUNT         ${fmtInt(resentByServer - unanswered)} re-sent calls the run did not record`);
});
