import type { Progress } from '../../core/pipeline.js';

/**
 * --batch against an endpoint without the Batch API (a local server): the run goes on with direct
 * calls at the full price. Said once on the console as soon as the run's progress carries it
 * (the workflow records it on the run and on each such call as well).
 */
export function batchFallbackTeller(log: (s: string) => void): (p: Progress) => Progress {
  let told = false;
  return (p) => {
    if (p.batchFallback && !told) {
      told = true;
      log(`\n--batch: ${p.batchFallback}. Recorded on the run (runs.batch_fallback) and on its calls (calls.batch_fallback).`);
    }
    return p;
  };
}
