/**
 * How a batch cuts its work for the endpoint's fleet: chunk size and chunks in flight from the
 * live workers W (the pollers of the endpoint queues) and the concurrency C each one runs (what
 * the workers declared, see fleetOf; the run's --max-concurrency otherwise). No imports: workflows use it.
 *
 * One worker: chunks as given (big chunks, fewest round trips), enough in flight for C calls plus
 * one landing and one loading. Several: a chunk holds at most 1.5 C instances (the default chunk
 * of a worker capped at C, client/flags.ts), and each worker gets
 * enough chunks for its C calls plus two (one queued for the slot a finishing chunk frees, one
 * landing), so no worker waits for work while another holds it. Before this, 4 workers of C=8
 * got 3 chunks of 96 between them and two of them idled.
 */
/**
 * The fleet a batch plans for, from its live workers' declared concurrencies (null: an adaptive
 * worker, or one that did not say: the run's --max-concurrency stands for it). No worker seen: one
 * worker at the run's concurrency.
 */
export function fleetOf(concurrencies: ReadonlyArray<number | null>, runConcurrency: number): { workers: number; concurrency: number } {
  if (concurrencies.length === 0) return { workers: 1, concurrency: runConcurrency };
  const each = concurrencies.map((c) => c ?? runConcurrency);
  return { workers: each.length, concurrency: Math.max(1, Math.round(each.reduce((a, b) => a + b, 0) / each.length)) };
}

export function fleetChunking(o: { chunkSize: number; concurrency: number; workers: number }): { chunkSize: number; inFlight: number } {
  const workers = Math.max(1, Math.floor(o.workers));
  const concurrency = Math.max(1, o.concurrency);
  if (workers === 1) return { chunkSize: o.chunkSize, inFlight: Math.ceil(concurrency / o.chunkSize) + 2 };
  const chunkSize = Math.max(1, Math.min(o.chunkSize, Math.ceil(1.5 * concurrency)));
  return { chunkSize, inFlight: workers * (Math.ceil(concurrency / chunkSize) + 2) };
}
