import type { Database } from '../core/store/database.js';
import type { RunRecord } from '../core/store/runs.js';
import type { ResponseRow } from '../core/store/instances.js';
import type { EvalInstance } from '../core/flask/dataset.js';
import { endpointHost, temporalConfig, type EndpointConfig } from '../core/config.js';
import { describeEndpoint } from '../core/provider/endpoint.js';
import type { EndpointLimits } from '../core/rate/index.js';
import { BUDGET_REACHED, judgeIdOf, roleOf, type JudgeSpec, type Progress, type RunWorkflowInput, type Step, type StepSettings, type CacheMode } from '../core/pipeline.js';
import { loadPriceTable, formatUsd } from '../core/cost/pricing.js';
import { formatRunCost, runCost, runPrices } from '../core/cost/runCost.js';
import { cacheSavings } from '../core/cost/cacheSavings.js';
import { InputError } from '../core/errors.js';
import type { EndpointWorker } from '../worker/endpointWorker.js';
import { openSession } from './session.js';
import { openReadOnly } from './readDb.js';
import { followRun, startOrAttach } from './runs.js';
import { endpointLiveLine, progressPrinter, type EndpointLive } from './output/progressBar.js';
import { batchFallbackTeller } from './output/batchFallback.js';
import { preflight, serveEndpoint, type ServedEndpoint } from './endpoints.js';

export interface RunOptions {
  /** Instances in flight per batch (the endpoint limiter caps the calls really in flight). */
  concurrency: number;
  /** Instances per endpoint activity. */
  chunkSize: number;
  batchSize: number;
  /** Calls per instance that may fail with a transient error (429s spend none). */
  maxAttempts: number;
  retryFailed: boolean;
  /** Judge an existing run's remaining instances with another judge (recorded per row). */
  changeJudge: boolean;
  /** Start (or attach) and return without following. */
  detach: boolean;
  judgeLimits: EndpointLimits;
  modelLimits: EndpointLimits;
  /** The --limit given, checked against an existing run. */
  limit?: number;
  /** Seconds without a heartbeat before a chunk's worker is presumed dead. */
  heartbeatTimeoutMs?: number;
  /** --prices FILE: entries over data/prices.json. */
  pricesFile?: string;
  /** --max-cost USD: a budget that holds (each chunk reserves its calls' worst case; README, "Budgets that hold"). */
  maxCostUsd?: number;
  /** --batch: judge requests through the Batch API, polled every pollMs; at most maxFallback direct re-asks a chunk. */
  batch?: { pollMs: number; maxFallback?: number };
  /** --cache: how the call cache is used (undefined: temperature-0 calls only). */
  cache?: CacheMode;
}

/**
 * A run's inputs, read once as they are uploaded to the store: `review` passes generators that
 * read its files again (core/inputs/prepare.ts planReview), so a 100,000-instance set is never held.
 */
interface RunInputs {
  instances: Iterable<EvalInstance>;
  responses?: Iterable<ResponseRow>;
}

/** What a finished run came to: the summary's counts are the progress line's. */
export interface RunOutcome {
  progress: Progress;
  record: RunRecord;
}

/** A run as a run command describes it: what executeRun (or an experiment's cell) takes. */
export interface RunRequest {
  db: Database;
  record: RunRecord;
  inputs: RunInputs;
  steps: Step[];
  judge: EndpointConfig;
  model: EndpointConfig;
  options: RunOptions;
  log: (s: string) => void;
  /** A panel (--judge ..., repeated): each instance is reviewed by each; `judge` is its first. */
  judges?: Array<{ config: EndpointConfig; profile: string }>;
  /** A panel judge's sampling for its profile (the profile's, or the user's overrides). */
  judgeSettingsFor?: (profile: string) => StepSettings;
}

/** A run bound to its endpoints (each checked by its preflight), before anything is stored. */
export interface BoundRun {
  record: RunRecord;
  served: Partial<Record<'judge' | 'model', ServedEndpoint>>;
  panel: JudgeSpec[];
  /** The endpoints this process serves for the run, with their limits. */
  toServe: Array<{ endpoint: ServedEndpoint; limits: EndpointLimits }>;
  prices: ReturnType<typeof runPrices>;
  priceTable: ReturnType<typeof loadPriceTable>;
}

/**
 * The life of every run, whatever its steps: check its endpoints (one cheap call each), record
 * the run (or match it to the stored run of that name) and land its inputs, start or attach to
 * its workflow, serve its endpoints from this process, follow it with a progress line. Running
 * the same command again resumes instead of starting over.
 */
export async function executeRun(a: RunRequest): Promise<RunOutcome | undefined> {
  const { record, options, log } = a;
  const { served, panel, toServe, priceTable, prices: bindPrices, record: bound } = await bindRun(a);
  const session = await openSession({ dbFile: a.db.file, log });
  // The endpoint workers start while the run is prepared (neither needs the other): the first
  // call leaves sooner. Like any worker of these endpoints they may take chunks of other runs bound
  // to them; if preparing fails they are shut down and those chunks are retried elsewhere.
  // --detach leaves the work to the endpoints' workers elsewhere: a worker here would take chunks
  // and drop them when this command returns.
  const serving = session.serve(options.detach ? [] : toServe);
  serving.catch(() => undefined); // awaited below; a failure surfaces there
  try {
    const prepared = await session.prepareRun({
      record: bound, instances: a.inputs.instances, responses: a.inputs.responses, retryFailed: options.retryFailed, changeJudge: options.changeJudge, limit: options.limit,
    });
    log(
      prepared.existed
        ? `Run "${record.runId}" exists: resuming (landed results are kept and not redone${prepared.retried ? `; ${prepared.retried} failed results will be retried` : ''}).`
        : `Run "${record.runId}" created: ${prepared.newInstances} instances${a.inputs.responses ? `, ${prepared.newResponses} responses` : ''}.`,
    );
    const run = prepared.record;
    // Costs are read through the state server, which owns the results file.
    const costNow = async () => openReadOnly(session.dbFile).run((sql) => runCost(sql, run.runId, priceTable));
    if (options.maxCostUsd !== undefined) {
      const spent = (await costNow()).pricedUsd;
      if (spent >= options.maxCostUsd) {
        throw new InputError(
          `run "${run.runId}" has already cost ${formatUsd(spent)}, at or over --max-cost ${formatUsd(options.maxCostUsd)}: ` +
            'run the same command with a higher --max-cost to continue it.',
        );
      }
      log(`Budget: ${formatUsd(options.maxCostUsd)} (spent so far ${formatUsd(spent)}); each chunk reserves its calls' worst case before it is sent, and the run stops when the next instance's would not fit.`);
    }
    const workers = await serving;
    const input = workflowInputOf(run, a.steps, { served, panel, prices: bindPrices }, options, session.controlQueue);
    const { handle, attached } = await startOrAttach(session.client, input);
    log(`${attached ? 'Attached to running' : 'Started'} workflow ${handle.workflowId}${session.uiUrl ? ` (${session.uiUrl}/namespaces/${session.namespace}/workflows/${handle.workflowId})` : ''}`);
    if (options.detach) {
      // Nothing has run yet: say what the run needs and where to follow it, not where its results are.
      log(`Detached: run "${record.runId}" goes on in Temporal once a worker serves its endpoints (\`flask-eval worker\` with the same ` +
        `endpoint flags, or this command again without --detach); follow it with \`flask-eval status ${record.runId}\`. ` +
        `Its results land in ${a.db.file} as its chunks finish.`);
      return undefined;
    }
    // Only while following: before, Node's default ends the command; after, the run is over.
    const interrupted = () => {
      log(`\nInterrupted. The run stays in Temporal (${handle.workflowId}); run the same command again to resume it.`);
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    const bar = progressPrinter(record.runId, { endpoints: (p) => endpointLine(workers, p) });
    const tellBatchFallback = batchFallbackTeller(log);
    const final = await followRun(session.client, handle, (p) => bar.update(tellBatchFallback(p))).finally(() => process.off('SIGINT', interrupted));
    bar.end();
    const cost = await costNow().then(formatRunCost, (e: Error) => `n/a (${e.message})`);
    const saved = final.cached ? await openReadOnly(session.dbFile).run((sql) => cacheSavings(sql, run.runId, priceTable)).then(formatUsd, () => undefined) : undefined;
    log(runSummary(final, cost, record.kind, saved));
    if (final.stopped === BUDGET_REACHED) {
      const spent = await costNow().then((c) => c.pricedUsd, () => undefined);
      log(budgetStopMessage(options.maxCostUsd!, spent, final.pending, final.nextWorstUsd));
    }
    return { progress: final, record: run };
  } finally {
    await serving.catch(() => undefined); // workers still starting are shut down with the session
    await session.close();
  }
}

/**
 * Check a run's endpoints (one cheap call each) and bind the run to them: its record says which
 * endpoints produce its rows; the endpoints a worker of this process serves come with their limits.
 */
export async function bindRun(a: RunRequest): Promise<BoundRun> {
  const { record, options, log } = a;
  const queueBase = temporalConfig().taskQueue;
  const roles = new Set(a.steps.map(roleOf));
  const served: Partial<Record<'judge' | 'model', ServedEndpoint>> = {};
  for (const role of roles) {
    if (role === 'judge' && a.judges) continue;
    const limits = role === 'judge' ? options.judgeLimits : options.modelLimits;
    served[role] = await preflight(role, await serveEndpoint(role === 'judge' ? a.judge : a.model, queueBase), limits.requestTimeoutMs, log);
  }
  // A panel: every judge's endpoint served once (two profiles of one endpoint share its worker).
  const panel: JudgeSpec[] = [];
  const panelEndpoints = new Map<string, ServedEndpoint>();
  if (roles.has('judge') && a.judges) {
    for (const j of a.judges) {
      const ep = await preflight('judge', await serveEndpoint(j.config, queueBase), options.judgeLimits.requestTimeoutMs, log);
      const id = judgeIdOf(ep.ref.id, j.profile);
      if (panel.some((p) => p.id === id)) throw new InputError(`--judge ${j.config.model} at ${ep.ref.baseUrl} with profile ${j.profile} is given twice`);
      if (!panelEndpoints.has(ep.ref.id)) panelEndpoints.set(ep.ref.id, ep);
      panel.push({ id, endpoint: ep.ref, profile: j.profile, settings: a.judgeSettingsFor ? a.judgeSettingsFor(j.profile) : record.judgeSettings! });
    }
    served.judge = panelEndpoints.get(panel[0]!.endpoint.id);
  }
  const bound: RunRecord = {
    ...record,
    simulated: record.simulated || !!served.judge?.simulated || !!served.model?.simulated,
    ...(served.judge ? { judgeModel: served.judge.ref.model, judgeEndpoint: endpointHost(a.judge), judgeBaseUrl: served.judge.ref.baseUrl, judgeQueue: served.judge.ref.queue } : {}),
    ...(panel.length > 0 ? { judges: panel.map((p) => ({ id: p.id, model: p.endpoint.model, baseUrl: p.endpoint.baseUrl, profile: p.profile, settings: p.settings })) } : {}),
    ...(served.model ? { modelId: served.model.ref.model, modelEndpoint: endpointHost(a.model), modelBaseUrl: served.model.ref.baseUrl, modelQueue: served.model.ref.queue } : {}),
  };
  for (const [role, ep] of Object.entries(served)) if (!(role === 'judge' && panel.length)) log(`${role}: ${describeEndpoint(ep.ref)} (task queue ${ep.ref.queue})`);
  for (const [k, p] of panel.entries()) log(`judge ${k + 1}: ${describeEndpoint(p.endpoint)}, profile ${p.profile} (task queue ${p.endpoint.queue})`);
  const priceTable = loadPriceTable(options.pricesFile);
  const models = [...new Set([...Object.values(served).map((ep) => ep.ref.model), ...panel.map((p) => p.endpoint.model)])];
  const prices = runPrices(models, priceTable);
  if (options.maxCostUsd !== undefined) {
    const missing = models.filter((m) => !prices[m]);
    if (missing.length > 0) {
      throw new InputError(
        `--max-cost needs a price for ${missing.join(', ')}, which ${priceTable.files.join(' + ')} does not list: ` +
          `give one with --prices FILE ({"models": {"${missing[0]}": {"input": USD_PER_1M, "output": USD_PER_1M}}})`,
      );
    }
  }

  const toServe = (Object.entries(served) as Array<['judge' | 'model', ServedEndpoint]>)
    .filter(([role]) => !(role === 'judge' && panel.length))
    .map(([role, endpoint]) => ({ endpoint, limits: role === 'judge' ? options.judgeLimits : options.modelLimits }));
  for (const endpoint of panelEndpoints.values()) if (!toServe.some((t) => t.endpoint.ref.id === endpoint.ref.id)) toServe.push({ endpoint, limits: options.judgeLimits });
  return { record: bound, served, panel, toServe, prices, priceTable };
}

/** What the run's workflow is started with: ids, endpoint identities and settings (never a key). */
export function workflowInputOf(run: RunRecord, steps: Step[], b: Pick<BoundRun, 'served' | 'panel' | 'prices'>, options: RunOptions, controlQueue: string): RunWorkflowInput {
  const { served, panel, prices } = b;
  return {
    runId: run.runId, steps, controlQueue,
    ...(served.judge ? { judge: served.judge.ref, judgeSettings: run.judgeSettings ?? undefined, judgeProfile: run.judgeProfile ?? 'flask' } : {}),
    ...(served.model ? { model: served.model.ref, modelSettings: run.modelSettings ?? undefined } : {}),
    chunkSize: options.chunkSize, concurrency: options.concurrency, batchSize: options.batchSize, maxAttempts: options.maxAttempts,
    shuffleSeed: Number(run.summary.skillShuffleSeed ?? 0), heartbeatTimeoutMs: options.heartbeatTimeoutMs,
    ...(options.maxCostUsd !== undefined ? { maxCostUsd: options.maxCostUsd, prices } : {}),
    ...(panel.length > 0 ? { judges: panel } : {}),
    ...(options.batch ? { batch: options.batch } : {}),
    ...(options.cache ? { cache: options.cache } : {}),
  };
}

/**
 * The endpoints' side of the progress line, per call (this process's workers): calls, instances
 * through, the oldest call in flight, the limit in force or what adaptive concurrency learned,
 * an ETA, and a sustained failure.
 */
function endpointLine(workers: EndpointWorker[], p: Progress): string {
  return workers
    .map((w) => {
      const s = w.stats;
      const snap = w.limiter.snapshot();
      // The limiter reports this process's share of fleet-wide limits.
      const fleet = snap.fleetSize > 1 ? ` (1/${snap.fleetSize} of the fleet's)` : '';
      const limit = snap.rpm ? `rpm ${Math.round(snap.rpm)}${fleet}` : snap.tpm ? `tpm ${Math.round(snap.tpm)}${fleet}` : `adaptive, ${snap.concurrency} allowed in flight`;
      const now = s.inFlightNow();
      const failing = s.failingStreak >= 3 && s.lastError ? ` | FAILING: ${s.lastError.message.slice(0, 120)}` : '';
      const live: EndpointLive = {
        model: w.endpoint.model, started: s.started, answered: s.ok, failed: s.errors, rateLimited: s.rateLimited, reasked: s.reasked,
        instancesThrough: s.instancesThrough, inFlight: now.count, oldestInFlightMs: now.oldestMs, meanLatencyMs: s.meanLatencyMs(), limit,
      };
      return `${endpointLiveLine(live, p.total - p.resumed - s.instancesThrough, snap.concurrency)}${failing}`;
    })
    .join(' | ');
}

/**
 * How far a run that reached its --max-cost went: what it spent, what the next instance could have
 * cost, and by how much the spending passed the budget if it did (the provider billed more tokens
 * than the reservations counted, or a run from before reservations).
 */
export function budgetStopMessage(maxCostUsd: number, spentUsd: number | undefined, pending: number, nextWorstUsd?: number): string {
  const over = spentUsd !== undefined && spentUsd > maxCostUsd
    ? `, ${formatUsd(spentUsd - maxCostUsd)} (${Math.round((100 * (spentUsd - maxCostUsd)) / maxCostUsd)}%) over it: the endpoint billed more tokens than the reservations counted (its own tokenizer), or chunks sent before the budget was reached landed after it`
    : '';
  const next = nextWorstUsd !== undefined && spentUsd !== undefined && spentUsd <= maxCostUsd
    ? `; the next instance could cost up to ${formatUsd(nextWorstUsd)} (its prompts + max_tokens), more than the ${formatUsd(maxCostUsd - spentUsd)} left`
    : '';
  return `The run stopped at its budget (--max-cost ${formatUsd(maxCostUsd)}) having spent ${formatUsd(spentUsd)}${over}${next}; ${pending} instances not started. ` +
    'To continue, run the same command with a higher --max-cost (landed results are kept and not redone).';
}

/** What a finished instance of a run of this kind is: infer answers, annotate labels, the rest score. */
const FINISHED_AS: Record<RunRecord['kind'], string> = { review: 'scored', eval: 'scored', infer: 'answered', annotate: 'labelled' };

/** `saved`: what the calls answered from the call cache cost when they were made ("$1.23"). */
export function runSummary(p: Progress, cost?: string, kind: RunRecord['kind'] = 'review', saved?: string): string {
  return `${p.stopped ? `Stopped (${p.stopped})` : 'Finished'}: ${p.done} ${FINISHED_AS[kind]}, ${p.failed} failed of ${p.total} instances` +
    (p.resumed ? ` (${p.resumed} were already landed)` : '') +
    `; ${p.calls} calls, ${p.tokens} tokens` +
    (p.cached ? `, ${p.cached} calls served from the cache${saved !== undefined ? ` (saved ${saved})` : ''}` : '') +
    (p.rateLimited ? `, ${p.rateLimited} answered 429 (waited out)` : '') +
    (p.resent ? `, ${p.resent} lost in a worker crash and sent again` : '') +
    (cost !== undefined ? `; cost ${cost}` : '') + '.';
}
