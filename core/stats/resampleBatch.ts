import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RESAMPLE_WASM_BASE64 } from './resampleWasm.js';
import { JOB_FIELDS, runResampleUnits, type ResampleBuffers } from './resampleUnits.js';

/** One bootstrap of a batch: clusters as typed arrays (counts null: every count is 1) and its seed. */
export interface ResampleJob {
  sums: Float64Array;
  counts: Int32Array | null;
  /** the mulberry32 seed of the job's stream (deriveSeed of the run-wide seed and the figure) */
  seed: number;
}

/** Below this many draws in all, worker threads cost more to start (~25 ms each) than they save. */
const PARALLEL_MIN_DRAWS = 30_000_000;
/** Resamples per unit of work: small enough to balance threads, large enough that claiming is free. */
const UNIT_RESAMPLES = 8;
/** The WebAssembly kernel's cluster index is exact up to this k (see core/stats/resample.wat). */
const WASM_MAX_K = 2 ** 21;
/** More threads than this would only add start-up and memory. */
const MAX_THREADS = 8;

export interface ResampleBatchOptions {
  /** threads in all, the main thread included (default: the machine's available parallelism) */
  threads?: number;
  /** false: the plain JS loop only (tests compare the two) */
  wasm?: boolean;
  /** fewer draws than this in all run on the main thread alone (default PARALLEL_MIN_DRAWS) */
  minParallelDraws?: number;
}

/**
 * resampleRatio (core/stats/bootstrap.ts) for many clusterings at once: for each job, the sorted
 * bootstrap distribution of sum/count, the same numbers resampleRatio gives for the same clusters
 * and seed. The resamples run in WebAssembly SIMD (4 streams at a time) on the main thread and on
 * worker threads that share the work; jobs the kernel cannot do exactly fall back to a JS loop.
 */
export async function resampleBatch(jobs: readonly ResampleJob[], resamples: number, opts: ResampleBatchOptions = {}): Promise<Float64Array[]> {
  if (jobs.some((j) => j.sums.length === 0)) throw new Error('resampleBatch: every job needs at least one cluster');
  // Nothing to draw (a run with no scores): the job table would be a 4-byte placeholder, not a table.
  if (jobs.length === 0) return [];
  const draws = jobs.reduce((a, j) => a + j.sums.length, 0) * resamples;
  const threads = draws < (opts.minParallelDraws ?? PARALLEL_MIN_DRAWS) ? 1 : Math.max(1, Math.min(opts.threads ?? availableParallelism(), MAX_THREADS));
  const buf = shareJobs(jobs, resamples, threads, opts.wasm !== false);
  const wasm = opts.wasm === false ? null : RESAMPLE_WASM_BASE64;
  const workers = Array.from({ length: threads - 1 }, (_, i) => startWorker(buf, wasm, i + 1));
  runResampleUnits(buf, wasm, 0);
  await Promise.all(workers);
  const out = new Float64Array(buf.out);
  return jobs.map((_, j) => out.slice(j * resamples, (j + 1) * resamples).sort());
}

/**
 * The jobs' clusters copied into memory every thread shares (the kernel's WebAssembly memory, or a
 * SharedArrayBuffer when there is no kernel), and the job table (see JOB_FIELDS).
 */
function shareJobs(jobs: readonly ResampleJob[], resamples: number, threads: number, wasm: boolean): ResampleBuffers {
  let bytes = 0;
  const offsets = jobs.map((j) => {
    const sums = bytes;
    bytes += j.sums.length * 8;
    const counts = j.counts ? bytes : -1;
    if (j.counts) bytes += Math.ceil((j.counts.length * 4) / 8) * 8;
    return { sums, counts };
  });
  const size = bytes + threads * 32;
  const memory = wasm ? sharedWasmMemory(size) : null;
  const data = memory ? (memory.buffer as unknown as SharedArrayBuffer) : new SharedArrayBuffer(size);
  const table = new Int32Array(new SharedArrayBuffer(Math.max(jobs.length * JOB_FIELDS * 4, 4)));
  const unitsPerJob = Math.ceil(resamples / UNIT_RESAMPLES);
  jobs.forEach((j, i) => {
    new Float64Array(data, offsets[i]!.sums, j.sums.length).set(j.sums);
    let countTotal = j.sums.length;
    if (j.counts) {
      new Int32Array(data, offsets[i]!.counts, j.counts.length).set(j.counts);
      countTotal = j.counts.reduce((a, c) => a + c, 0);
    }
    // The kernel adds counts in 32 bits: exact while every resample's total (at most k times the
    // largest count) stays below 2^31.
    const maxCount = j.counts ? j.counts.reduce((a, c) => Math.max(a, c), 0) : 1;
    const exact = j.sums.length <= WASM_MAX_K && j.sums.length * maxCount < 2 ** 31 && countTotal < 2 ** 31;
    table.set([j.sums.length, offsets[i]!.sums, offsets[i]!.counts, j.seed | 0, i * unitsPerJob, memory && exact ? 1 : 0], i * JOB_FIELDS);
  });
  return {
    memory, data, scratch: bytes, jobs: table.buffer as SharedArrayBuffer, next: new SharedArrayBuffer(4),
    out: new SharedArrayBuffer(Math.max(jobs.length * resamples * 8, 8)), resamples, unitResamples: UNIT_RESAMPLES,
  };
}

/** A shared WebAssembly memory of at least `bytes` (null where there is none: the JS loop then). */
function sharedWasmMemory(bytes: number): WebAssembly.Memory | null {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  if (pages > 65536) return null;
  try {
    return new WebAssembly.Memory({ initial: pages, maximum: 65536, shared: true });
  } catch {
    return null;
  }
}

/**
 * A worker thread running runResampleUnits on the shared buffers. Its code is that function's
 * source: a worker cannot import the TypeScript modules when the CLI runs from source (tsx), and
 * tsx's output may call `__name` (keepNames), defined here as a no-op.
 */
function startWorker(buf: ResampleBuffers, wasm: string | null, thread: number): Promise<void> {
  const source = `const { workerData } = require('node:worker_threads');
const __name = (f) => f;
(${runResampleUnits.toString()})(workerData.buf, workerData.wasm, workerData.thread);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: { buf, wasm, thread } });
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bootstrap worker exited with code ${code}`))));
  });
}
