/**
 * What an experiment's workflow takes and reports. Free of Node imports: the workflow bundle
 * (Temporal's deterministic sandbox) includes this file.
 */
import type { Progress, RunWorkflowInput } from '../pipeline.js';

export interface ExperimentWorkflowInput {
  experiment: string;
  /** Each cell's run, as `review`/`eval` would start it: ids, endpoint identities, settings (never a key or a dataset). */
  cells: RunWorkflowInput[];
  /** Cells running at once. */
  parallel: number;
  /** Continue-as-new once the history passes this many events (default 2,000). */
  maxHistoryEvents?: number;
  /** Carried over continue-as-new: the next cell to start and the cells that ended. */
  next?: number;
  ended?: CellOutcome[];
}

/** A cell that ended: its run's final counts, or why its workflow failed (the other cells go on). */
export interface CellOutcome {
  runId: string;
  progress?: Progress;
  error?: string;
}

export interface ExperimentStatus {
  ended: CellOutcome[];
  /** Run ids of the cells running now (query their run workflows for their share). */
  running: string[];
}

export const EXPERIMENT_STATUS_QUERY = 'experimentStatus';

export function experimentWorkflowId(name: string): string {
  return `flask-experiment-${name}`;
}
