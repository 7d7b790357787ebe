import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { bootstrapMeanCi, quantile, resampleRatio, scoresAsClusters, DEFAULT_BOOTSTRAP } from '../../core/stats/bootstrap.js';
import { bootstrapMeanCis } from '../../core/stats/bootstrapBatch.js';
import { resampleBatch } from '../../core/stats/resampleBatch.js';
import { RESAMPLE_WASM_BASE64 } from '../../core/stats/resampleWasm.js';
import { pairedTest, signFlipP } from '../../core/stats/paired.js';
import { deriveSeed, mulberry32 } from '../../core/stats/random.js';
import { compareRuns } from '../../core/report/compareRuns.js';
import type { InstanceScores } from '../../core/report/instanceScores.js';

const opts = { resamples: 1000, seed: 7 };

test('quantile interpolates between order statistics (numpy default)', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([1, 2, 3, 4], 0), 1);
  assert.equal(quantile([1, 2, 3, 4], 1), 4);
  assert.ok(Math.abs(quantile([10, 20, 30, 40, 50], 0.025) - 11) < 1e-12); // (5-1)*0.025 = 0.1 -> 10 + 0.1*10
});

test('bootstrap CI: all scores equal -> a zero-width interval at that score', () => {
  const ci = bootstrapMeanCi(scoresAsClusters(Array(50).fill(4)), opts, 'x');
  assert.deepEqual([ci.mean, ci.low, ci.high, ci.n, ci.instances], [4, 4, 4, 50, 50]);
});

test('bootstrap CI: no scores -> no mean and no interval', () => {
  assert.deepEqual(bootstrapMeanCi([], opts), { mean: null, low: null, high: null, n: 0, instances: 0 });
});

test('bootstrap CI is deterministic given the seed, and the seed matters', () => {
  const xs = scoresAsClusters([1.1, 2.3, 2.9, 3.4, 3.05, 3.7, 4.2, 4.45, 5, 4.9, 1.6, 2.15]);
  assert.deepEqual(bootstrapMeanCi(xs, opts, 'a'), bootstrapMeanCi(xs, opts, 'a'));
  assert.notDeepEqual(bootstrapMeanCi(xs, opts, 'a'), bootstrapMeanCi(xs, { ...opts, seed: 8 }, 'a'));
});

test('bootstrap CI of 4 scores matches the exact bootstrap distribution (all 4^4 resamples enumerated)', () => {
  const xs = [1, 2, 4, 5];
  // Independent computation: every ordered resample of size 4 is equally likely.
  const exact: number[] = [];
  for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) for (let c = 0; c < 4; c++) for (let d = 0; d < 4; d++) exact.push((xs[a]! + xs[b]! + xs[c]! + xs[d]!) / 4);
  exact.sort((p, q) => p - q);
  const lo = exact[Math.floor(0.025 * 256)];
  const hi = exact[Math.ceil(0.975 * 256) - 1];
  const ci = bootstrapMeanCi(scoresAsClusters(xs), { resamples: 40000, seed: 1 }, 'exact');
  assert.equal(ci.mean, 3);
  // The Monte Carlo quantile lands on the exact atom or its neighbour (atoms are 0.25 apart).
  assert.ok(Math.abs(ci.low! - lo!) <= 0.25, `low ${ci.low} vs exact ${lo}`);
  assert.ok(Math.abs(ci.high! - hi!) <= 0.25, `high ${ci.high} vs exact ${hi}`);
});

test('bootstrap CI of 400 scores is close to the normal-theory interval mean ± 1.96 sd/sqrt(n)', () => {
  const rand = mulberry32(99);
  const xs = Array.from({ length: 400 }, () => 1 + Math.floor(rand() * 5));
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length);
  const half = 1.96 * sd / Math.sqrt(xs.length);
  const ci = bootstrapMeanCi(scoresAsClusters(xs), { resamples: 4000, seed: 3 }, 'normal');
  assert.ok(Math.abs(ci.low! - (mean - half)) < 0.02, `${ci.low} vs ${mean - half}`);
  assert.ok(Math.abs(ci.high! - (mean + half)) < 0.02, `${ci.high} vs ${mean + half}`);
});

test('clusters: an instance with several scores is one resampled unit; the mean is sum/count', () => {
  const ci = bootstrapMeanCi([{ sum: 12, count: 3 }, { sum: 2, count: 1 }], opts, 'c');
  assert.equal(ci.mean, 14 / 4);
  assert.equal(ci.n, 4);
  assert.equal(ci.instances, 2);
  // Resamples are {A,A}=4, {A,B}=3.5, {B,B}=2: the interval spans them.
  assert.equal(ci.low, 2);
  assert.equal(ci.high, 4);
});

test('sign-flip test: exact p-values on small fixtures', () => {
  // sum 10: only all-plus and all-minus reach |10| among 16 patterns.
  assert.deepEqual(signFlipP([1, 2, 3, 4], opts), { p: 2 / 16, method: 'exact' });
  // ten equal positive differences: 2 of 1024 patterns.
  assert.deepEqual(signFlipP(Array(10).fill(1), opts), { p: 2 / 1024, method: 'exact' });
  // symmetric differences: the observed sum 0 is matched by every pattern.
  assert.deepEqual(signFlipP([1, -1, 2, -2], opts), { p: 1, method: 'exact' });
  // [3, 1, 1]: |sum| >= 5 for +3+1+1 and its mirror only: 2/8.
  assert.deepEqual(signFlipP([3, 1, 1], opts), { p: 0.25, method: 'exact' });
});

test('sign-flip test: integer differences are exact at any size (the distribution of sums, not 2^k patterns)', () => {
  // 30 equal differences: only all-plus and all-minus reach |30|.
  assert.deepEqual(signFlipP(Array(30).fill(1), opts), { p: 2 / 2 ** 30, method: 'exact' });
  assert.deepEqual(signFlipP([...Array(15).fill(1), ...Array(15).fill(-1)], opts), { p: 1, method: 'exact' });
  // Against brute-force enumeration of every sign pattern, on seeded random small vectors.
  const rand = mulberry32(11);
  for (let trial = 0; trial < 40; trial++) {
    const k = 1 + Math.floor(rand() * 12);
    const d = Array.from({ length: k }, () => Math.floor(rand() * 9) - 4);
    const observed = Math.abs(d.reduce((a, x) => a + x, 0));
    let hits = 0;
    for (let mask = 0; mask < 2 ** k; mask++) {
      const s = d.reduce((a, x, i) => a + (mask & (1 << i) ? -x : x), 0);
      if (Math.abs(s) >= observed) hits++;
    }
    const r = signFlipP(d, opts);
    assert.equal(r.method, 'exact');
    assert.ok(Math.abs(r.p - hits / 2 ** k) < 1e-12, `${d}: ${r.p} vs ${hits / 2 ** k}`);
  }
  // 1,700 instances of FLASK-sized differences: still exact.
  const big = Array.from({ length: 1700 }, () => Math.floor(rand() * 25) - 12);
  assert.equal(signFlipP(big, opts).method, 'exact');
});

test('sign-flip test: non-integer differences fall back to Monte Carlo, with its standard error, until the decision at alpha is clear', () => {
  const r = signFlipP(Array(30).fill(0.5), { resamples: 999, seed: 5 });
  assert.equal(r.method, 'monte-carlo');
  assert.equal(r.draws, 10_000); // p is far below 0.05 after one round
  assert.equal(r.p, 1 / 10_001);
  assert.ok(r.se !== undefined && r.se > 0 && r.se < 1e-3);
  // A p near alpha (exact 0.0414: the same differences doubled are integers) keeps drawing until
  // 3 standard errors separate it from alpha, and lands within 4 of the exact value.
  const d = [...Array(15).fill(0.5), ...Array(5).fill(-0.5)];
  const near = signFlipP(d, { resamples: 999, seed: 5 });
  const exact = signFlipP(d.map((x) => 2 * x), opts);
  assert.equal(exact.method, 'exact');
  assert.ok(Math.abs(near.p - 0.05) > 3 * near.se! || near.draws === 2_000_000);
  assert.ok(Math.abs(near.p - exact.p) < 4 * near.se!, `${near.p} vs exact ${exact.p} (se ${near.se})`);
});

test('paired test: a constant difference has that mean, a zero-width CI and the smallest p', () => {
  const pairs = Array.from({ length: 12 }, (_, i) => ({ sumA: 1 + (i % 4), sumB: 1.5 + (i % 4), count: 1 }));
  const r = pairedTest(pairs, opts, 'k');
  assert.equal(r.diff, 0.5);
  assert.deepEqual([r.low, r.high], [0.5, 0.5]);
  assert.equal(r.p, 2 / 4096);
  assert.equal(r.pMethod, 'exact');
  assert.equal(r.instances, 12);
});

test('compareRuns pairs instances by idx, skips N/A and names the instances only one run scored', () => {
  const row = (idx: number, s: Record<string, number | null>): InstanceScores => ({ idx, scores: new Map(Object.entries(s)), level: 1, domains: [] });
  const A = [row(1, { readability: 3, correctness: 2 }), row(2, { readability: 4 }), row(3, { readability: 1 })];
  const B = [row(1, { readability: 4, correctness: null }), row(2, { readability: 5 }), row(4, { readability: 5 })];
  const c = compareRuns('A', 'B', A, B, DEFAULT_BOOTSTRAP);
  assert.equal(c.both, 2);
  assert.deepEqual([c.onlyA, c.onlyB], [[3], [4]]);
  const read = c.figures.find((f) => f.figure === 'readability')!;
  assert.deepEqual([read.n, read.meanA, read.meanB, read.diff, read.p], [2, 3.5, 4.5, 1, 0.5]);
  const corr = c.figures.find((f) => f.figure === 'correctness')!;
  assert.equal(corr.n, 0); // B marked it N/A
  assert.equal(corr.diff, null);
  const overall = c.figures.find((f) => f.figure === 'overall')!;
  assert.equal(overall.n, 2);
  assert.equal(overall.diff, 1);
});

/** Random clusters: k of them, counts 1..4 (or all 1), integer or fractional (non-dyadic) sums. */
function randomClusters(rand: () => number, k: number, withCounts: boolean, fractional: boolean) {
  const sums = new Float64Array(k);
  const counts = withCounts ? new Int32Array(k) : null;
  for (let i = 0; i < k; i++) {
    const c = withCounts ? 1 + Math.floor(rand() * 4) : 1;
    if (counts) counts[i] = c;
    let s = 0;
    for (let q = 0; q < c; q++) s += fractional ? 1 + Math.round(rand() * 40) / 10 : 1 + Math.floor(rand() * 5);
    sums[i] = s;
  }
  return { sums, counts };
}

test('resampleBatch gives resampleRatio\'s distribution exactly: WebAssembly and JS, one thread and several', async () => {
  const rand = mulberry32(11);
  const jobs = [
    randomClusters(rand, 1, false, false), randomClusters(rand, 2, true, true), randomClusters(rand, 9, false, true),
    randomClusters(rand, 333, true, true), randomClusters(rand, 2500, false, false), randomClusters(rand, 4001, true, false),
  ].map((c, i) => ({ ...c, seed: deriveSeed(20230720, `job|${i}`) }));
  for (const resamples of [1000, 37, 1]) {
    const want = jobs.map((j) => resampleRatio(Array.from(j.sums, (sum, i) => ({ sum, count: j.counts ? j.counts[i]! : 1 })), resamples, mulberry32(j.seed)));
    for (const opts of [{ wasm: true, threads: 1 }, { wasm: false, threads: 1 }, { wasm: true, threads: 3, minParallelDraws: 0 }, { wasm: false, threads: 2, minParallelDraws: 0 }]) {
      const got = await resampleBatch(jobs, resamples, opts);
      got.forEach((dist, j) => assert.deepStrictEqual(Array.from(dist), want[j], `job ${j}, B=${resamples}, ${JSON.stringify(opts)}`));
    }
  }
});

test('bootstrapMeanCis equals bootstrapMeanCi figure by figure', async () => {
  const rand = mulberry32(3);
  const figures = [randomClusters(rand, 0, false, false), randomClusters(rand, 40, true, true), randomClusters(rand, 700, false, false)]
    .map((c, i) => ({ ...c, label: `fig|${i}` }));
  for (const opts of [DEFAULT_BOOTSTRAP, { resamples: 203, seed: 9, level: 0.8 }]) {
    const got = await bootstrapMeanCis(figures, opts);
    figures.forEach((f, i) => {
      const clusters = Array.from(f.sums, (sum, q) => ({ sum, count: f.counts ? f.counts[q]! : 1 }));
      assert.deepStrictEqual(got[i], bootstrapMeanCi(clusters, opts, f.label));
    });
  }
});

test('the WebAssembly kernel runs here (SIMD and shared memory), so the tests above compared it', () => {
  assert.ok(WebAssembly.validate(Buffer.from(RESAMPLE_WASM_BASE64, 'base64')));
  assert.ok(new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }).buffer instanceof SharedArrayBuffer);
});

test('core/stats/resampleWasm.ts is compiled from the current resample.wat', () => {
  const r = spawnSync(process.execPath, ['scripts/build-wasm.mjs', '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('no scores at all (every instance failed): the batch bootstrap returns at once, with no interval', () => {
  // In a child process: the bug this guards against was a loop that never ended, which would
  // hang this test runner instead of failing it.
  const script = `
    const { bootstrapMeanCis } = await import('./core/stats/bootstrapBatch.ts');
    const { resampleBatch } = await import('./core/stats/resampleBatch.ts');
    const empty = await resampleBatch([], 1000);
    const cis = await bootstrapMeanCis([{ sums: new Float64Array(0), counts: null, label: 'skill:x' }], { resamples: 1000, seed: 7 });
    console.log(JSON.stringify({ empty: empty.length, cis }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, null, 'the bootstrap of nothing did not return within 20 s');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { empty: 0, cis: [{ mean: null, low: null, high: null, n: 0, instances: 0 }] });
});
