import type { CacheMode, CallChunkInput, CallChunkResult, CallRecord, ChunkItem, RunPlan, Step, StepOutcome, StepSettings } from './pipeline.js';
import type { EndpointRef } from './provider/endpoint.js';
import type { PromptSet } from './flask/promptSet.js';
import type { PromptKind } from './flask/promptKind.js';

/** The store's activities: the only code that touches the results file, run by its one owner. */
export interface StoreActivities {
  countWorkItems(runId: string): Promise<number>;
  /** Unfinished instances of ords [fromOrd, toOrd) with the index of their first unfinished step. */
  listWorkItems(input: { runId: string; steps: Step[]; fromOrd: number; toOrd: number; judgeIds?: string[] }): Promise<{
    pending: Array<[idx: number, firstStep: number]>;
    done: number;
    failed: number;
  }>;
  /** The texts the calls need, with what earlier steps already landed (responses, domain labels). */
  loadChunk(input: { runId: string; idxs: number[] }): Promise<ChunkItem[]>;
  /**
   * Idempotent: an outcome already landed for (run, idx, step) is ignored. Given `prices` (USD
   * per 1M tokens of the run's models), it also answers the run's landed cost.
   */
  /** The most live workers polling any of these endpoint queues (at least 1): a batch cuts its chunks for them (core/fleetChunking.ts). */
  liveWorkers(input: { queues: string[] }): Promise<number>;
  /**
   * The live workers of the busiest of these endpoint queues, each with the concurrency it declared
   * (`flask-eval worker --max-concurrency N`; null: adaptive). Replaces liveWorkers for new batches.
   */
  liveFleet(input: { queues: string[] }): Promise<{ concurrencies: Array<number | null> }>;
  /** The texts a step's prompts are rendered from, read from data/ by the store: they travel to the endpoint workers in each chunk's input. */
  promptSet(input: { kind: PromptKind }): Promise<PromptSet>;
  landResults(input: {
    runId: string; step: Step; endpoint: EndpointRef; results: StepOutcome[]; judgeProfile?: string; judgeId?: string; prices?: Record<string, { input: number; output: number }>;
    /** --batch went direct (no Batch API at the endpoint): why, recorded on the run (runs.batch_fallback) */
    batchFallback?: string;
    /** --cache refresh: the answers the outcomes carry replace stored ones. */
    cache?: CacheMode;
  }): Promise<{ landed: number; duplicates: number; runCostUsd?: number }>;
  /**
   * The call cache (activities/cacheLookup.ts): the chunk's instances whose every call has a
   * stored answer that the current parser reads, as outcomes of `cached` calls; the rest are
   * left to the endpoint. One query for the whole chunk, so a worker on another host costs one
   * round trip per chunk, not per call.
   */
  answerFromCache(input: CallChunkInput): Promise<CallChunkResult>;
  /**
   * A budgeted batch (--max-cost, activities/worstCase.ts): the worst case of every remaining
   * step of its pending instances, and the run's landed cost, before any call is sent.
   */
  worstCaseCosts(input: WorstCaseInput): Promise<WorstCases>;
}

export interface WorstCaseInput {
  plan: RunPlan;
  /** The batch's unfinished instances: [idx, index of the first step it still needs]. */
  pending: Array<[number, number]>;
}

export interface WorstCases {
  /** The run's landed cost so far (USD, at the plan's prices). */
  spentUsd: number;
  /** Per pending instance, in order: the worst case (USD) of each of the plan's steps (0 for steps done). */
  worst: number[][];
}

/** An endpoint worker's activities: a chunk of instances through one step, or through the Batch API (--batch). No file I/O. */
export interface EndpointActivities extends BatchActivities {
  callChunk(input: CallChunkInput): Promise<CallChunkResult>;
}

/** Batch mode (`--batch`, activities/batchCalls.ts): submit, poll, collect on the endpoint's queue. */
export interface BatchChunkInput {
  runId: string;
  step: Step;
  endpoint: EndpointRef;
  settings: StepSettings;
  shuffleSeed: number;
  items: ChunkItem[];
  /** As CallChunkInput.prompts. */
  prompts?: PromptSet;
  /** Deterministic per (workflow, step, judge, instances): the metadata a resubmission is recognised by. */
  key: string;
  /** --cache: whether the collected answers are stored in the call cache. */
  cache?: CacheMode;
}

interface BatchState {
  batchId: string;
  status: string;
  total: number;
  completed: number;
  failed: number;
}

export interface BatchCollected {
  /** Instances whose every line came back and parsed. */
  results: StepOutcome[];
  /** Instances to ask directly (a line failed, expired or did not parse), with the batch lines they cost. */
  fallback: Array<{ idx: number; calls: CallRecord[]; reason: string }>;
  linesOk: number;
  linesFailed: number;
}

export interface BatchActivities {
  submitBatch(input: BatchChunkInput): Promise<{ batchId: string; lines: number; reused: boolean }>;
  pollBatch(input: { endpoint: EndpointRef; batchId: string }): Promise<BatchState>;
  collectBatch(input: BatchChunkInput & { batchId: string }): Promise<BatchCollected>;
}
