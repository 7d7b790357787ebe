/**
 * The work loop of a batch of bootstraps (core/stats/resampleBatch.ts), run by the main thread and
 * by each worker thread on the same shared memory. Work is cut into units (a few resamples of one
 * figure); every thread claims the next unit with an atomic counter until none is left, so threads
 * that start late or run slower simply do fewer units.
 *
 * `runResampleUnits` is sent to the worker threads as source text (Function.prototype.toString), so
 * it must not use anything from outside its own body but its arguments and globals (no imports, no
 * module constants).
 */

/** Shared buffers of a batch; see JOB_FIELDS for the job table. */
/** An exported WebAssembly kernel function (numbers in, nothing out: results land in memory). */
type WasmKernelFn = (...args: number[]) => void;

export interface ResampleBuffers {
  /**
   * Every job's cluster sums (f64) and counts (i32), at the byte offsets of the job table, then 32
   * bytes per thread for the kernel's 4 results. The WebAssembly kernel's own memory when there is
   * one (a shared WebAssembly.Memory: every thread reads the clusters where they were written).
   */
  memory: WebAssembly.Memory | null;
  data: SharedArrayBuffer;
  /** byte offset of thread 0's 32 result bytes */
  scratch: number;
  /** Int32 job table, JOB_FIELDS per job */
  jobs: SharedArrayBuffer;
  /** Int32[1]: the next unit to claim */
  next: SharedArrayBuffer;
  /** Float64: `resamples` ratios per job, in resample order (unsorted) */
  out: SharedArrayBuffer;
  resamples: number;
  /** resamples per unit (a multiple of 4: the WebAssembly kernel does 4 at a time) */
  unitResamples: number;
}

/**
 * Job table fields: k (clusters, >= 1), byte offset of the sums, byte offset of the counts (-1:
 * every count is 1), the job's mulberry32 seed, its first unit, 1 if the WebAssembly kernel is exact
 * for it (k <= 2^21 and total count < 2^31) else 0.
 */
export const JOB_FIELDS = 6;

/**
 * Claims and computes units until none is left. Each resample b of a job is resampleRatio's
 * (core/stats/bootstrap.ts): k draws of mulberry32 starting at the state after b * k draws, the
 * drawn clusters' sums and counts added in draw order, out = sum / count.
 */
export function runResampleUnits(buf: ResampleBuffers, wasmBase64: string | null, thread: number): void {
  const STEP = 0x6d2b79f5; // mulberry32's counter step (core/stats/random.ts)
  const jobs = new Int32Array(buf.jobs);
  const next = new Int32Array(buf.next);
  const out = new Float64Array(buf.out);
  const B = buf.resamples;
  // 6 = JOB_FIELDS (this body cannot use module constants). Floored: an empty table is one
  // placeholder word, and a fractional J made totalUnits NaN, a loop that never ended.
  const J = Math.floor(jobs.length / 6);
  const totalUnits = J === 0 ? 0 : jobs[(J - 1) * 6 + 4]! + Math.ceil(B / buf.unitResamples);

  // The kernel, when this engine has WebAssembly SIMD (validate() is false otherwise: then the
  // plain loop below does every job).
  let kernel: { ratios4: WasmKernelFn; ratios4Counts: WasmKernelFn; results: Float64Array; scratch: number } | null = null;
  const bytes = wasmBase64 === null ? null : Buffer.from(wasmBase64, 'base64');
  if (bytes !== null && buf.memory !== null && WebAssembly.validate(bytes)) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: buf.memory } });
    const scratch = buf.scratch + thread * 32;
    kernel = {
      ratios4: instance.exports.ratios4 as WasmKernelFn, ratios4Counts: instance.exports.ratios4Counts as WasmKernelFn,
      results: new Float64Array(buf.data, scratch, 4), scratch,
    };
  }
  const sumsOf = (j: number) => new Float64Array(buf.data, jobs[j * 6 + 1], jobs[j * 6]);
  const countsOf = (j: number) => (jobs[j * 6 + 2]! < 0 ? null : new Int32Array(buf.data, jobs[j * 6 + 2], jobs[j * 6]));

  let j = 0;
  for (;;) {
    const unit = Atomics.add(next, 0, 1);
    if (unit >= totalUnits) return;
    // Units are numbered job by job: the job is the last one whose first unit is <= unit.
    while (j + 1 < J && jobs[(j + 1) * 6 + 4]! <= unit) j++;
    while (jobs[j * 6 + 4]! > unit) j--;
    const k = jobs[j * 6];
    const seed = jobs[j * 6 + 3];
    const b0 = (unit - jobs[j * 6 + 4]!) * buf.unitResamples;
    const b1 = Math.min(B, b0 + buf.unitResamples);
    // The state before resample b's first draw: mulberry32's state is a counter, so after b * k
    // draws it is seed + b * k * STEP (mod 2^32), without drawing them.
    const stateAt = (b: number) => (seed! + Math.imul((b * k!) % 4294967296, STEP)) | 0;
    if (kernel !== null && jobs[j * 6 + 5] === 1) {
      for (let b = b0; b < b1; b += 4) {
        if (jobs[j * 6 + 2]! < 0) kernel.ratios4(jobs[j * 6 + 1]!, k!, stateAt(b), stateAt(b + 1), stateAt(b + 2), stateAt(b + 3), kernel.scratch);
        else kernel.ratios4Counts(jobs[j * 6 + 1]!, jobs[j * 6 + 2]!, k!, stateAt(b), stateAt(b + 1), stateAt(b + 2), stateAt(b + 3), kernel.scratch);
        for (let l = 0; l < 4 && b + l < b1; l++) out[j * B + b + l] = kernel.results[l]!;
      }
      continue;
    }
    // resampleRatio's loop, on typed arrays.
    const sums = sumsOf(j);
    const counts = countsOf(j);
    for (let b = b0; b < b1; b++) {
      let a = stateAt(b);
      let s = 0;
      let c = 0;
      for (let i = 0; i < k!; i++) {
        a = (a + STEP) | 0;
        let t = Math.imul(a ^ (a >>> 15), a | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        const x = Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * k!);
        s += sums[x]!;
        c += counts === null ? 1 : counts[x]!;
      }
      out[j * B + b] = s / c;
    }
  }
}
