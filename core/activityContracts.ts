import type { CallChunkInput, CallChunkResult, ChunkItem, Step, StepOutcome } from './pipeline.js';
import type { EndpointRef } from './provider/endpoint.js';
import type { BatchActivities } from '../activities/batchCalls.js';

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
  landResults(input: {
    runId: string; step: Step; endpoint: EndpointRef; results: StepOutcome[]; judgeProfile?: string; judgeId?: string; prices?: Record<string, { input: number; output: number }>;
  }): Promise<{ landed: number; duplicates: number; runCostUsd?: number }>;
}

/** An endpoint worker's activities: a chunk of instances through one step, or through the Batch API (--batch). No file I/O. */
export interface EndpointActivities extends BatchActivities {
  callChunk(input: CallChunkInput): Promise<CallChunkResult>;
}
