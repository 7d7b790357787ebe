import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { InputError, RunStoppedError } from '../../core/errors.js';
import { dbPath, temporalConfig, stateDir } from '../../core/config.js';
import { assertResultsFile } from '../../core/store/resultsFile.js';
import { runProgress, type RunHandle } from '../runs.js';
import { runWorkflowId, RUN_STATUS_QUERY, type RunStatus } from '../../core/pipeline.js';
import { liveDaemonPid, probeStateServer } from '../../server/attach.js';
import { readServerInfo, serverLogPath } from '../../server/serverInfo.js';
import { liveFromHeartbeats } from '../output/liveProgress.js';
import { endpointLiveLine, progressLine, type EndpointLive } from '../output/progressBar.js';
import { outageReporter, retryWhileUnreachable } from '../temporalOutage.js';
import { dataConverter } from '../../core/temporal/compressionCodec.js';
import { livePollerCount, livePollerWindowFor, mergedPollers, taskQueuePartitionNames } from '../../core/rate/fleet.js';
import { explainError } from '../output/errorReport.js';

export const STATUS_HELP = `flask-eval status RUN [--json]   a run's progress: the progress line the running command prints
  (landed counts, and per endpoint the calls of chunks not landed yet: started, answered, failed,
  re-asked, in flight and the oldest one's age, an ETA); --json: the same as JSON.
  Says at once when no worker polls the run's task queues. Rides out a Temporal outage
  (retries until Temporal answers). Exit 2 when the run is unknown.`;

/** A poller seen this recently is a live worker (Temporal keeps pollers listed for minutes). */

/** `flask-eval status RUN`: the run's progress, and whether any worker serves its queues. */
export async function statusCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 1 || !positionals[0]) throw new InputError(`status takes one run name\n\n${STATUS_HELP}`);
  const runId = positionals[0];
  assertResultsFile(dbPath());
  const cfg = temporalConfig();
  let address = cfg.address;
  if (!address) {
    let found = await probeStateServer(stateDir());
    // A replacement state server still starting (its predecessor died): wait for it, do not say nothing runs.
    for (let i = 0; !found && liveDaemonPid(stateDir()) !== undefined && i < 60; i++) {
      if (i === 0) log(`The state server of ${stateDir()} (pid ${liveDaemonPid(stateDir())}) is starting; waiting for it...`);
      await new Promise((r) => setTimeout(r, 500));
      found = await probeStateServer(stateDir());
    }
    const dead = found ? undefined : readServerInfo(stateDir());
    if (dead) {
      throw new RunStoppedError(
        `the state server of ${stateDir()} (pid ${dead.pid}) is not running: it died (see ${serverLogPath(stateDir())}). A run started there is paused, not lost: ` +
          'the command following it starts a replacement by itself; otherwise `flask-eval server start` (or rerunning the command) resumes it.',
      );
    }
    if (!found) {
      throw new InputError(
        `no state server runs for ${stateDir()}, so no run is in progress there. Landed results: \`flask-eval report ${runId}\`; ` +
          'rerun the command that started the run to resume it (or `flask-eval server start`).',
      );
    }
    address = found.health.temporalAddress;
  }
  const outage = outageReporter(log);
  const connection = await retryWhileUnreachable(() => Connection.connect({ address: address!, connectTimeout: 3000 }), outage);
  try {
    const client = new Client({ connection, namespace: cfg.namespace, dataConverter });
    const handle: RunHandle = client.workflow.getHandle(runWorkflowId(runId));
    const call = <T>(fn: () => Promise<T>) => retryWhileUnreachable(() => connection.withDeadline(Date.now() + 10_000, fn), outage);
    let d;
    try {
      d = await call(() => handle.describe());
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) {
        throw new InputError(`no run "${runId}" in Temporal at ${address} (namespace ${cfg.namespace}): check the name (\`flask-eval query "SELECT run_id FROM runs"\` lists stored runs)`);
      }
      throw e;
    }
    log(`${handle.workflowId}: ${d.status.name}, started ${d.startTime.toISOString()}, history ${d.historyLength} events`);
    if (d.status.name === 'COMPLETED') {
      process.stdout.write(`${JSON.stringify(await call(() => handle.result()))}\n`);
      return;
    }
    // A run that stopped says why (a refused key, a worker that cannot render its prompts), not only FAILED.
    if (d.status.name === 'FAILED') log(explainError(await handle.result().catch((e: unknown) => e)).message.replace(/^error: /, ''));
    if (d.status.name !== 'RUNNING') return;

    const queues = await call(() => runQueues(client, cfg.namespace, handle.workflowId));
    const idle: string[] = [];
    for (const [role, queue] of Object.entries(queues)) {
      const kind = role === 'control' ? 'workflow' : 'activity';
      const live = await call(() => livePollers(client, cfg.namespace, queue, kind));
      if (live === 0) idle.push(`${role} queue ${queue} (${kind} tasks)`);
    }
    if (queues.control && idle.some((q) => q.startsWith('control'))) {
      log(`No worker polls the run's control queue: the state server's store is not running (see ${serverLogPath(stateDir())}); progress cannot be queried.`);
    }
    const endpoints = idle.filter((q) => !q.startsWith('control'));
    if (endpoints.length) {
      log(`No worker polls ${endpoints.join(', ')}: the run waits until a command or \`flask-eval worker\` with that endpoint serves it (rerun the command that started it).`);
    }
    if (idle.some((q) => q.startsWith('control'))) return;
    const progress = await call(() => runProgress(client, handle));
    const { runningBatches } = await call(() => handle.query<RunStatus>(RUN_STATUS_QUERY));
    const live = await call(() => liveFromHeartbeats(client, runningBatches));
    const left = (e: EndpointLive) => progress.total - progress.resumed - progress.done - progress.failed - e.instancesThrough;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...progress, endpoints: live })}\n`);
      return;
    }
    const liveLine = live.map((e) => endpointLiveLine(e, left(e), Math.max(1, e.inFlight))).join(' | ');
    process.stdout.write(`${progressLine(runId, progress, (Date.now() - d.startTime.getTime()) / 1000, liveLine || undefined)}\n`);
    if (progress.batchFallback) log(`--batch: ${progress.batchFallback} (runs.batch_fallback)`);
  } finally {
    await connection.close();
  }
}

/**
 * The run's task queues, from the input of its current execution (the first event of its
 * history): its endpoints' queues (judge, model, panel judges), and `queues` where an input
 * names them so.
 */
async function runQueues(client: Client, namespace: string, workflowId: string): Promise<Record<string, string>> {
  const page = await client.workflowService.getWorkflowExecutionHistory({ namespace, execution: { workflowId }, maximumPageSize: 1 });
  const started = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  const out: Record<string, string> = {};
  if (started?.taskQueue?.name) out.control = started.taskQueue.name;
  if (!payload) return out;
  const input = defaultPayloadConverter.fromPayload<Record<string, unknown>>(payload);
  const queueOf = (ref: unknown) => (ref && typeof ref === 'object' && typeof (ref as { queue?: unknown }).queue === 'string' ? (ref as { queue: string }).queue : undefined);
  for (const role of ['judge', 'model'] as const) {
    const q = queueOf(input?.[role]);
    if (q) out[role] = q;
  }
  if (Array.isArray(input?.judges)) {
    for (const [i, j] of (input.judges as Array<{ endpoint?: unknown }>).entries()) {
      const q = queueOf(j?.endpoint);
      if (q && !Object.values(out).includes(q)) out[`judge ${i + 1}`] = q;
    }
  }
  const queues = input?.queues;
  if (queues && typeof queues === 'object') {
    for (const [k, v] of Object.entries(queues as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** Workers polling the queue now, asked of each of its partitions (core/rate/fleet.ts says why). */
async function livePollers(client: Client, namespace: string, queue: string, kind: 'workflow' | 'activity'): Promise<number> {
  const parts = await Promise.all(taskQueuePartitionNames(queue).map((name) => client.workflowService.describeTaskQueue({
    namespace,
    // TASK_QUEUE_KIND_NORMAL = 1; TASK_QUEUE_TYPE_WORKFLOW = 1, TASK_QUEUE_TYPE_ACTIVITY = 2 (temporal.api.enums.v1)
    taskQueue: { name, kind: 1 },
    taskQueueType: kind === 'workflow' ? 1 : 2,
  })));
  return livePollerCount(mergedPollers(parts), Date.now(), livePollerWindowFor(temporalConfig().address));
}
