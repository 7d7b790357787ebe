/**
 * Types shared by workflows, activities and the client. Kept free of Node imports because
 * the workflow bundle (Temporal's deterministic sandbox) includes this file.
 */
import type { EndpointRef } from './provider/endpoint.js';
import type { PromptSet } from './flask/promptSet.js';

/** One unit of work on one instance. A run's pipeline is a list of steps done in order per instance. */
export type Step = 'generate' | 'review' | 'domain' | 'skillset' | 'difficulty';

/** Which endpoint a step calls. */
export function roleOf(step: Step): 'model' | 'judge' {
  return step === 'generate' ? 'model' : 'judge';
}

/** Sampling settings sent with every call of one role (mirrors core/store/runs.ts SamplingSettings). */
export interface StepSettings {
  temperature: number;
  maxTokens: number;
  /** nucleus sampling (top_p), as the judge profile defines it or --judge-top-p */
  topP?: number;
  seed?: number;
  systemPrompt?: string;
  /** Annotation runs: the user's temperature / max tokens replace each stage's FLASK settings. */
  override?: boolean;
  maxParseAttempts?: number;
  /** Review step: the judge profile (core/judges: 'flask' | 'prometheus'); default flask. */
  judgeProfile?: string;
  /** Review step: --judge-samples K, each instance judged K times (default 1); reviews land the per-instance mean */
  samples?: number;
  /** Review step, the skill-order probe (--skill-order reversed): the instance's skills listed in reverse order */
  skillOrder?: 'given' | 'reversed';
}

/** What a step needs to know about one instance: travels in activity payloads (a few KB). */
export interface ChunkItem {
  idx: number;
  instruction: string;
  /** Reference answer ('' when none). */
  answer: string;
  skills: string[];
  /** The evaluated model's answer (review step). */
  response?: string;
  /** Labels of the domain stage (difficulty step). */
  domains?: string[];
  /** Judge ids with a landed review of this instance (a panel judge skips those it has). */
  judged?: string[];
}

/**
 * `lost`: in flight when its worker died (sent, answer lost). `possibly_sent`: a retried chunk's
 * instance that was neither finished nor in flight at the dead worker's last heartbeat: it may
 * have been sent after it (the heartbeat reaches the server at most once a second), so it is
 * recorded as possibly sent, an upper bound (see README, "Durability and what a crash costs").
 * `cached`: answered from the call cache (core/cache), no request sent, cost 0.
 */
export type CallOutcome = 'ok' | 'rate_limited' | 'server_error' | 'timeout' | 'connection' | 'bad_request' | 'lost' | 'possibly_sent' | 'cached';

/** Records of calls a dead worker made or may have made, whose answers never arrived. */
export function unansweredByCrash(outcome: CallOutcome): boolean {
  return outcome === 'lost' || outcome === 'possibly_sent';
}

/** --cache: on (read and write), off, read (use stored answers, store none), refresh (store fresh answers, use none); default: temperature-0 calls only. */
export type CacheMode = 'on' | 'off' | 'read' | 'refresh';
export const CACHE_MODES: readonly CacheMode[] = ['on', 'off', 'read', 'refresh'];

/** One answer for the call cache: stored when its outcome lands (core/store/callCache.ts). */
export interface CacheEntry {
  key: string;
  text: string;
  finishReason?: string;
  promptTokens: number;
  completionTokens: number;
  servedModel?: string;
  simulated: boolean;
}

/** One HTTP attempt of a model call: every one is recorded, so re-sent calls are visible and counted. */
export interface CallRecord {
  /** 1, 2, ... per (instance, step), across activity retries. */
  callNo: number;
  outcome: CallOutcome;
  httpStatus?: number;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  /** This call repeats one whose result was lost when a worker died. */
  resent: boolean;
  startedAt: string;
  /** A Batch API line (billed at the batch discount). */
  batch?: boolean;
  /** Asked for --batch but sent directly: why (the endpoint has no Batch API). */
  batchFallback?: string;
  /** The call cache's key of this call (ok and cached calls whose answer is or was stored). */
  cacheKey?: string;
  /** A cached call: the run whose call produced the answer. */
  cachedFrom?: string;
}

/** The result of one step on one instance, as the endpoint worker hands it to the store. */
export interface StepOutcome {
  idx: number;
  status: 'done' | 'failed';
  /** generate: the answer; other steps: the judge's last answer, verbatim. */
  text?: string;
  finishReason?: string;
  /** review: {skill: 1..5 | 'N/A'}; domain: string[]; skillset: skill names; difficulty: level. */
  value?: unknown;
  error?: string;
  /** skillset: the skill order the annotator was shown. */
  numbering?: string[];
  /** review: the judge template used (reviews.review_template) */
  template?: string;
  /** review with K > 1 samples: each sample's scores (review_sample_scores); `value` is their mean */
  samples?: Array<Record<string, number | 'N/A'>>;
  /** Calls that returned text. */
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  servedModel?: string;
  simulated: boolean;
  startedAt: string;
  finishedAt: string;
  calls: CallRecord[];
  /** Answers for the call cache, stored as this outcome lands. */
  cacheEntries?: CacheEntry[];
}

export interface CallChunkInput {
  runId: string;
  step: Step;
  endpoint: EndpointRef;
  settings: StepSettings;
  /** Attempts per instance for transient errors (5xx, timeouts, connection); 429s spend none. */
  maxAttempts: number;
  /** skillset: the seed of the per-instance skill shuffle. */
  shuffleSeed: number;
  items: ChunkItem[];
  /** The texts the step's prompts are rendered from (the worker has no data/); none for generate. */
  prompts?: PromptSet;
  /** --cache (undefined: temperature-0 calls only). */
  cache?: CacheMode;
  /**
   * --max-cost: the endpoint model's price (USD per 1M tokens). Each instance's first calls are
   * reserved by the workflow; a re-ask is made only if it fits what the instance's reservation has left.
   */
  budgetPrice?: { input: number; output: number };
}

export interface ChunkStats {
  calls: number;
  /** Calls answered from the call cache (not in `calls`: no request was sent). */
  cached?: number;
  rateLimited: number;
  errors: number;
  tokens: number;
  /** Calls of a dead worker recorded on resume: lost (certainly sent) plus possibly sent. */
  lost: number;
}

export interface CallChunkResult {
  results: StepOutcome[];
  stats: ChunkStats;
  /** --batch, and the endpoint has no Batch API: why these were asked directly (recorded on the run). */
  batchFallback?: string;
}

export interface Progress {
  total: number;
  /** Instances whose every step landed (including ones finished before this execution). */
  done: number;
  failed: number;
  pending: number;
  tokens: number;
  /** HTTP calls made (all outcomes). */
  calls: number;
  /** Calls answered 429. */
  rateLimited: number;
  /** Calls lost in a worker crash and sent again. */
  resent: number;
  /** Instances found already finished when a batch started: work not redone on resume. */
  resumed: number;
  /** Calls answered from the call cache (no request sent). */
  cached?: number;
  /** The run's landed cost (USD), known when the run has a budget. */
  costUsd?: number;
  /** Why the run ended before its last instance (e.g. "budget reached"). */
  stopped?: string;
  /** Budget reached: the worst case of the instance that did not fit what was left (USD). */
  nextWorstUsd?: number;
  /** --batch against an endpoint without the Batch API: why its judge requests went direct. */
  batchFallback?: string;
}

export function emptyProgress(total = 0): Progress {
  return { total, done: 0, failed: 0, pending: total, tokens: 0, calls: 0, rateLimited: 0, resent: 0, resumed: 0 };
}

export function addProgress(a: Progress, b: Progress): Progress {
  return {
    total: a.total,
    done: a.done + b.done,
    failed: a.failed + b.failed,
    pending: a.pending,
    tokens: a.tokens + b.tokens,
    calls: a.calls + b.calls,
    rateLimited: a.rateLimited + b.rateLimited,
    resent: a.resent + b.resent,
    resumed: a.resumed + b.resumed,
    ...(a.cached !== undefined || b.cached !== undefined ? { cached: (a.cached ?? 0) + (b.cached ?? 0) } : {}),
    // The run's cost is cumulative: the later figure is the larger one.
    ...(a.costUsd !== undefined || b.costUsd !== undefined ? { costUsd: Math.max(a.costUsd ?? 0, b.costUsd ?? 0) } : {}),
    ...(a.stopped ?? b.stopped ? { stopped: a.stopped ?? b.stopped } : {}),
    ...((a.nextWorstUsd ?? b.nextWorstUsd) !== undefined ? { nextWorstUsd: a.nextWorstUsd ?? b.nextWorstUsd } : {}),
    ...(a.batchFallback ?? b.batchFallback ? { batchFallback: a.batchFallback ?? b.batchFallback } : {}),
  };
}

/** One judge of a run's panel: its endpoint, how it is asked, its sampling. */
export interface JudgeSpec {
  /** "<endpoint id>:<profile>", recorded with each of its reviews (reviews.judge_id). */
  id: string;
  endpoint: EndpointRef;
  profile: string;
  settings: StepSettings;
}

/** The judge id of a review (reviews.judge_id): its endpoint's id and the profile it was asked with. */
export function judgeIdOf(endpointId: string, profile: string | null | undefined): string {
  return `${endpointId}:${profile ?? 'flask'}`;
}

/** The run's judges: its panel, or its one judge. */
export function planJudges(plan: RunPlan): JudgeSpec[] {
  if (plan.judges && plan.judges.length > 0) return plan.judges;
  if (!plan.judge || !plan.judgeSettings) return [];
  const profile = plan.judgeProfile ?? 'flask';
  return [{ id: judgeIdOf(plan.judge.id, profile), endpoint: plan.judge, profile, settings: plan.judgeSettings }];
}

/** The endpoint a step is sent to: a panel judge's, else the run's judge or model. */
export function endpointOf(plan: RunPlan, step: Step, judge?: JudgeSpec): EndpointRef | undefined {
  return judge ? judge.endpoint : plan[roleOf(step)];
}

/** How a step is asked: a panel judge's own settings, else the run's judge or model settings. */
export function stepSettingsOf(plan: RunPlan, step: Step, judge?: JudgeSpec): StepSettings | undefined {
  if (judge) return { ...judge.settings, judgeProfile: judge.profile };
  if (roleOf(step) === 'model') return plan.modelSettings;
  return { ...plan.judgeSettings!, ...(plan.judgeProfile ? { judgeProfile: plan.judgeProfile } : {}) };
}

/** Everything a run's workflows need: ids, endpoints and settings; never a dataset, never a key. */
export interface RunPlan {
  runId: string;
  steps: Step[];
  /** Workflows and store activities. */
  controlQueue: string;
  judge?: EndpointRef;
  model?: EndpointRef;
  judgeSettings?: StepSettings;
  modelSettings?: StepSettings;
  /** How the judge is asked (core/judges): 'flask' (default) or 'prometheus' (one call per skill). */
  judgeProfile?: string;
  /** A panel: each instance is reviewed by each judge (replaces judge/judgeSettings/judgeProfile for the review step). */
  judges?: JudgeSpec[];
  /** Instances per endpoint activity. */
  chunkSize: number;
  /** Instances in flight per batch (the endpoint's limiter caps the calls really in flight). */
  concurrency: number;
  maxAttempts: number;
  shuffleSeed: number;
  /** An endpoint activity silent this long is presumed dead (its worker crashed) and retried. */
  heartbeatTimeoutMs?: number;
  /** Stop starting chunks once the run's landed cost reaches this (USD); needs `prices`. */
  maxCostUsd?: number;
  /** --batch: judge requests go through the endpoint's Batch API (submit, durable timers, collect). */
  batch?: { pollMs: number; maxFallback?: number };
  /** USD per 1M tokens of the run's models (only those), for the budget. */
  prices?: Record<string, { input: number; output: number }>;
  /** --cache (undefined: temperature-0 calls only). */
  cache?: CacheMode;
}

export interface RunWorkflowInput extends RunPlan {
  /** Instances per child workflow: bounds each child's history. */
  batchSize: number;
  /** Continue-as-new once the parent's history passes this many events (default 4,000). */
  maxHistoryEvents?: number;
  /** Carried over continue-as-new. */
  nextOrd?: number;
  carried?: Progress;
}

export interface BatchWorkflowInput extends RunPlan {
  fromOrd: number;
  toOrd: number;
}

/**
 * Query names, here rather than as defineQuery objects so the CLI can ask without loading the
 * workflow library (it starts faster).
 */
export const RUN_STATUS_QUERY = 'runStatus';
export const BATCH_PROGRESS_QUERY = 'batchProgress';

export interface RunStatus {
  /** Totals of finished batches. */
  progress: Progress;
  /** Workflow ids of batches still running: query them for their share. */
  runningBatches: string[];
}

export function runWorkflowId(runId: string): string {
  return `flask-run-${runId}`;
}

/** Failure types that stop a run: every instance would fail the same way. */
/** Batch API states after which a batch changes no more. */
export const TERMINAL_BATCH_STATES = ['completed', 'failed', 'expired', 'cancelled'];

/** Progress.stopped of a run that reached its --max-cost. */
export const BUDGET_REACHED = 'budget reached';

export const RUN_STOPPING_ERRORS = ['ProviderError.auth', 'ProviderError.not_found', 'EndpointMismatch', 'WorkerCannotWork'];
