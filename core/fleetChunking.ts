/**
 * How a batch cuts its work for the endpoint's fleet: chunk size and chunks in flight from the
 * live workers W (the pollers of the endpoint queues) and the concurrency C each one runs (the
 * run's --max-concurrency). No imports: workflows use it.
 *
 * One worker: chunks as given (big chunks, fewest round trips), enough in flight for C calls plus
 * one landing and one loading. Several: a chunk holds at most 1.5 C instances (the default chunk
 * of a worker capped at C, client/flags.ts), and each worker gets
 * enough chunks for its C calls plus two (one queued for the slot a finishing chunk frees, one
 * landing), so no worker waits for work while another holds it. Before this, 4 workers of C=8
 * got 3 chunks of 96 between them and two of them idled.
 */
export function fleetChunking(o: { chunkSize: number; concurrency: number; workers: number }): { chunkSize: number; inFlight: number } {
  const workers = Math.max(1, Math.floor(o.workers));
  const concurrency = Math.max(1, o.concurrency);
  if (workers === 1) return { chunkSize: o.chunkSize, inFlight: Math.ceil(concurrency / o.chunkSize) + 2 };
  const chunkSize = Math.max(1, Math.min(o.chunkSize, Math.ceil(1.5 * concurrency)));
  return { chunkSize, inFlight: workers * (Math.ceil(concurrency / chunkSize) + 2) };
}
