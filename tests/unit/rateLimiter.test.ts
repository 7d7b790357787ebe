import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createEndpointLimiter, fleetSizeFromPollers, headerRecord, parseResetDuration, formatResetDuration, readRateLimitHeaders,
  type CallObservation, type Clock, type EndpointLimiter, type Permit, type EndpointLimits, type LimiterTuning,
} from '../../core/rate/index.js';
import { livePollerCount, mergedPollers, taskQueuePartitionNames } from '../../core/rate/fleet.js';

// Everything here runs on a fake clock: simulated minutes take milliseconds, and the figures are exact.

class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve }));
  }
  random(): number {
    return 0.5;
  }
  /** Run every timer due up to t + ms, in time order, letting promise chains settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      let next = -1;
      for (let i = 0; i < this.timers.length; i++) {
        const x = this.timers[i];
        if (x!.at <= end && (next < 0 || x!.at < this.timers[next]!.at || (x!.at === this.timers[next]!.at && x!.seq < this.timers[next]!.seq))) next = i;
      }
      if (next < 0) break;
      const [timer] = this.timers.splice(next, 1);
      this.t = Math.max(this.t, timer!.at);
      timer!.resolve();
    }
    this.t = end;
    await flush();
  }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Requests admitted in the busiest `windowMs` (arrival times sorted). */
function busiestWindow(times: number[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

interface SimServer {
  /** answer one request arriving now: the observation the caller will release with (after latency) */
  answer(now: number, estimate: number): { status: 200 | 429; obs: Omit<CallObservation, 'latencyMs'> };
}

interface SimResult {
  arrivals: number[];
  admitted: number[];
  status429: number;
  completed: number;
}

/**
 * `workers` loops: acquire -> request arrives `delayMs` later -> answered after `latencyMs` ->
 * release. Runs `durationMs` of simulated time.
 */
async function simulate(o: {
  limiter: EndpointLimiter; clock: FakeClock; server: SimServer; workers: number; latencyMs: number; durationMs: number;
  estimate?: number; delayMs?: number;
}): Promise<SimResult> {
  const r: SimResult = { arrivals: [], admitted: [], status429: 0, completed: 0 };
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const permit = await o.limiter.acquire(o.estimate ?? 100);
      if (stop) {
        permit.release({ outcome: 'error', latencyMs: 0 });
        return;
      }
      if (o.delayMs) await o.clock.sleep(o.delayMs);
      const at = o.clock.now();
      r.arrivals.push(at);
      const { status, obs } = o.server.answer(at, o.estimate ?? 100);
      if (status === 200) r.admitted.push(at);
      else r.status429++;
      await o.clock.sleep(o.latencyMs);
      if (status === 200) r.completed++;
      permit.release({ ...obs, latencyMs: o.latencyMs });
    }
  };
  const all = Array.from({ length: o.workers }, worker);
  await o.clock.advance(o.durationMs);
  stop = true;
  await o.clock.advance(o.latencyMs + 120_000);
  await Promise.all(all);
  return r;
}

/** A provider with a sliding-window RPM limit, as simulator/server.ts counts it. */
function rpmServer(rpm: number, extra: (now: number, used: number) => Record<string, string> = () => ({})): SimServer {
  const window: number[] = [];
  return {
    answer(now) {
      while (window.length && window[0]! <= now - 60_000) window.shift();
      if (window.length >= rpm) {
        return { status: 429, obs: { outcome: 'rate_limited', retryAfterMs: Math.max(1000, window[0]! + 60_000 - now) } };
      }
      window.push(now);
      return { status: 200, obs: { outcome: 'ok', promptTokens: 50, completionTokens: 50, headers: extra(now, window.length) } };
    },
  };
}

/** n permits at once, advancing the fake clock while the limiter paces them. */
async function acquireN(limiter: EndpointLimiter, clock: FakeClock, n: number): Promise<Permit[]> {
  let done = false;
  const all = Promise.all(Array.from({ length: n }, () => limiter.acquire(1))).then((x) => {
    done = true;
    return x;
  });
  while (!done) await clock.advance(5);
  return all;
}

function make(limits: EndpointLimits, tuning: LimiterTuning = {}): { clock: FakeClock; limiter: EndpointLimiter } {
  const clock = new FakeClock();
  return { clock, limiter: createEndpointLimiter(limits, clock, tuning) };
}

test('RPM: paced at >= 0.95 of the limit, never more than the limit in any sliding 60 s, no bursts, no 429', async () => {
  const { clock, limiter } = make({ rpm: 300 });
  const r = await simulate({ limiter, clock, server: rpmServer(300), workers: 64, latencyMs: 1000, durationMs: 5 * 60_000, delayMs: 30 });
  assert.equal(r.status429, 0);
  assert.ok(busiestWindow(r.admitted, 60_000) <= 300, `busiest minute ${busiestWindow(r.admitted, 60_000)}`);
  const inRun = r.admitted.filter((t) => t < 5 * 60_000).length;
  assert.ok(inRun >= 0.95 * 1500, `${inRun} requests in 5 minutes at 300 rpm (>= ${0.95 * 1500})`);
  assert.ok(inRun <= 1500, `${inRun}`);
  // evenly spaced: at most 6 in any second at 5/s
  assert.ok(busiestWindow(r.admitted, 1000) <= 6, `busiest second ${busiestWindow(r.admitted, 1000)}`);
  const s = limiter.snapshot();
  assert.equal(s.mode, 'paced');
  assert.equal(s.rpm, 300);
  assert.equal(s.rateLimited, 0);
});

test('RPM: the first minute is paced too (a burst of 300 at t=0 would empty the window for a minute)', async () => {
  const { clock, limiter } = make({ rpm: 600 });
  const r = await simulate({ limiter, clock, server: rpmServer(600), workers: 600, latencyMs: 2000, durationMs: 10_000 });
  const first10s = r.admitted.filter((t) => t < 10_000).length;
  assert.ok(first10s >= 95 && first10s <= 101, `${first10s} requests in the first 10 s at 10/s`);
});

test('TPM: the estimate is reserved at acquire, pacing follows the usage expected (EMA ratio), corrected by the reported usage; the token window stays under the limit', async () => {
  // estimate 2,000 (prompt 1,000 + max_tokens 1,000), usage 1,200: pacing by the reservation would
  // stop at 30 requests a minute; by the usage, 50. With a 3 s latency the usage arrives long
  // after the reservation's slot has passed: it must still count.
  for (const latencyMs of [1000, 3000]) {
    const tpm = 60_000;
    const { clock, limiter } = make({ tpm });
    const entries: { at: number; tokens: number }[] = [];
    const server: SimServer = {
      answer(now) {
        entries.push({ at: now, tokens: 1200 });
        return { status: 200, obs: { outcome: 'ok', promptTokens: 1000, completionTokens: 200 } };
      },
    };
    const r = await simulate({ limiter, clock, server, workers: 32, latencyMs, durationMs: 4 * 60_000, estimate: 2000 });
    const inRun = entries.filter((e) => e.at < 4 * 60_000);
    const tokensPerMinute = (inRun.length * 1200) / 4;
    // the first calls are paced by the whole estimate until usage reports teach the ratio
    const steady = (entries.filter((e) => e.at >= 60_000 && e.at < 4 * 60_000).length * 1200) / 3;
    // Calls in flight hold their reservation (prompt + max_tokens) in the window until their usage
    // is reported, and a new reservation must fit beside them (as at an OpenAI-style endpoint): the
    // more calls in flight, the more headroom that takes (~3% at 1 s latency, ~5% at 3 s here).
    const floor = latencyMs === 1000 ? 0.96 : 0.94;
    assert.ok(tokensPerMinute >= (floor - 0.01) * tpm, `latency ${latencyMs}: ${tokensPerMinute} tokens/min of ${tpm} over 4 min`);
    assert.ok(steady >= floor * tpm, `latency ${latencyMs}: ${steady} tokens/min of ${tpm} after the first minute`);
    // no sliding minute above the limit, counting actual usage
    let j = 0;
    let sum = 0;
    let busiest = 0;
    for (let i = 0; i < entries.length; i++) {
      sum += entries[i]!.tokens;
      while (entries[i]!.at - entries[j]!.at >= 60_000) sum -= entries[j++]!.tokens;
      busiest = Math.max(busiest, sum);
    }
    assert.ok(busiest <= tpm, `latency ${latencyMs}: busiest minute ${busiest} tokens`);
    assert.equal(r.status429, 0);
    const s = limiter.snapshot();
    assert.ok(Math.abs(s.tokenEstimateRatio - 0.6) < 0.01, `ratio ${s.tokenEstimateRatio}`);
  }
});

test('TPM: estimates that are too low are scaled up by the observed ratio, so the limit holds', async () => {
  const tpm = 30_000;
  const { clock, limiter } = make({ tpm });
  const entries: number[] = [];
  const server: SimServer = {
    answer(now) {
      entries.push(now);
      return { status: 200, obs: { outcome: 'ok', promptTokens: 800, completionTokens: 200 } };
    },
  };
  // the caller says 500, the endpoint reports 1,000
  await simulate({ limiter, clock, server, workers: 16, latencyMs: 500, durationMs: 3 * 60_000, estimate: 500 });
  assert.ok(busiestWindow(entries, 60_000) <= 30, `busiest minute ${busiestWindow(entries, 60_000)} requests of 1,000 tokens`);
  assert.ok(entries.filter((t) => t < 180_000).length >= 0.95 * 90, `${entries.length}`);
  assert.ok(limiter.snapshot().tokenEstimateRatio > 1.9);
});

test('adaptive: grows +1 per window while latency holds, from initialConcurrency up to maxConcurrency', async () => {
  const { clock, limiter } = make({ initialConcurrency: 4, maxConcurrency: 40 });
  assert.equal(limiter.snapshot().concurrency, 4);
  assert.equal(limiter.snapshot().mode, 'adaptive');
  const ok: SimServer = { answer: () => ({ status: 200, obs: { outcome: 'ok' } }) };
  const samples: number[] = [];
  const sampler = (async () => {
    for (let i = 0; i < 30; i++) {
      await clock.sleep(1000);
      samples.push(limiter.snapshot().concurrency);
    }
  })();
  await simulate({ limiter, clock, server: ok, workers: 100, latencyMs: 200, durationMs: 30_000 });
  await sampler;
  // one window ~ one round trip (200 ms): 4 -> 5 -> ... ; monotone, reaches the cap, never past it
  for (let i = 1; i < samples.length; i++) assert.ok(samples[i]! >= samples[i - 1]!, `monotone: ${samples}`);
  assert.ok(samples[0]! > 4 && samples[0]! <= 10, `after 1 s: ${samples[0]}`);
  assert.equal(samples.at(-1), 40);
  assert.ok(Math.max(...samples) <= 40);
});

test('adaptive: does not grow when latency rises past ~1.5x its floor (the endpoint is queueing)', async () => {
  const { clock, limiter } = make({ initialConcurrency: 4 });
  // latency = 100 ms x calls in flight beyond 6: a server that saturates at 6
  let inFlight = 0;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const p = await limiter.acquire(10);
      inFlight++;
      const latency = 100 + 100 * Math.max(0, inFlight - 6);
      await clock.sleep(latency);
      inFlight--;
      p.release({ outcome: 'ok', latencyMs: latency });
    }
  };
  const ws = Array.from({ length: 50 }, worker);
  await clock.advance(60_000);
  const c = limiter.snapshot().concurrency;
  stop = true;
  await clock.advance(60_000);
  await Promise.all(ws);
  assert.ok(c >= 6 && c <= 8, `window settles near the knee: ${c}`);
});

test('adaptive: x0.5 on a 429 once per window, however many in-flight calls report it; never below 1', async () => {
  const { clock, limiter } = make({ initialConcurrency: 32 });
  const permits = await Promise.all(Array.from({ length: 32 }, () => limiter.acquire(1)));
  assert.equal(limiter.snapshot().inFlight, 32);
  for (const p of permits) p.release({ outcome: 'rate_limited', latencyMs: 50 }); // same event, 32 reports
  assert.equal(limiter.snapshot().concurrency, 16);
  assert.equal(limiter.snapshot().rateLimited, 32);
  // a new window: the next 429 halves again
  await clock.advance(1200); // the back-off hold (0.5 s + jitter) passes
  const p = await limiter.acquire(1);
  p.release({ outcome: 'rate_limited', latencyMs: 50 });
  assert.equal(limiter.snapshot().concurrency, 8);
  for (let i = 0; i < 10; i++) {
    await clock.advance(60_000);
    (await limiter.acquire(1)).release({ outcome: 'rate_limited', latencyMs: 50 });
  }
  assert.equal(limiter.snapshot().concurrency, 1);
});

test('adaptive vs a concurrency-limited endpoint: settles below the limit with few 429s', async () => {
  const { clock, limiter } = make({ initialConcurrency: 4 });
  let inFlight = 0;
  let total = 0;
  let limited = 0;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const p = await limiter.acquire(10);
      total++;
      if (inFlight >= 12) {
        limited++;
        await clock.sleep(5);
        p.release({ outcome: 'rate_limited', latencyMs: 5 });
        continue;
      }
      inFlight++;
      await clock.sleep(300);
      inFlight--;
      p.release({ outcome: 'ok', latencyMs: 300 });
    }
  };
  const ws = Array.from({ length: 64 }, worker);
  await clock.advance(5 * 60_000);
  stop = true;
  await clock.advance(120_000);
  await Promise.all(ws);
  assert.ok(limited / total < 0.02, `${limited} of ${total} answered 429`);
  // AIMD's sawtooth between 6 and 12 plus a short back-off per event: well over half the capacity
  const rate = (total - limited) / 300;
  assert.ok(rate >= 0.6 * (12 / 0.3), `${rate.toFixed(1)}/s of ${12 / 0.3}/s`);
});

test('Retry-After: every acquire waits until it has passed (+ jitter), once; 30 reports of the same 429 do not compound', async () => {
  const { clock, limiter } = make({ rpm: 6000 });
  const permits = await acquireN(limiter, clock, 30);
  await clock.advance(100);
  const t429 = clock.now();
  for (const p of permits) p.release({ outcome: 'rate_limited', latencyMs: 100, retryAfterMs: 2000 });
  let got = -1;
  void limiter.acquire(1).then(() => { got = clock.now(); });
  await clock.advance(1999);
  assert.equal(got, -1, 'held for the Retry-After');
  await clock.advance(1000);
  assert.ok(got >= t429 + 2000 && got <= t429 + 2000 + 250, `released at +${got - t429} ms`);
  assert.ok(limiter.snapshot().holdMs === 0);
  // the next 429 with the same Retry-After holds 2 s again, not more
  const [p] = await acquireN(limiter, clock, 1);
  const t2 = clock.now();
  p!.release({ outcome: 'rate_limited', latencyMs: 0, retryAfterMs: 2000 });
  assert.ok(limiter.snapshot().holdMs <= 2250 && limiter.snapshot().holdMs >= 2000);
  let got2 = -1;
  void limiter.acquire(1).then(() => { got2 = clock.now(); });
  await clock.advance(3000);
  assert.ok(got2 - t2 >= 2000 && got2 - t2 <= 2250, `second hold ${got2 - t2} ms`);
});

test('429 without Retry-After: back-off 0.5 s, 1 s, 2 s, ... raised once per event, reset by a success', async () => {
  const { clock, limiter } = make({ rpm: 6000 });
  const holdAfter = async (n: number): Promise<number> => {
    const ps = await acquireN(limiter, clock, n);
    for (const p of ps) p.release({ outcome: 'rate_limited', latencyMs: 10 });
    const h = limiter.snapshot().holdMs;
    await clock.advance(h + 1);
    return h;
  };
  const h1 = await holdAfter(20);
  const h2 = await holdAfter(20);
  const h3 = await holdAfter(1);
  assert.ok(h1 >= 500 && h1 < 600, `${h1}`);
  assert.ok(h2 >= 1000 && h2 < 1200, `${h2}`);
  assert.ok(h3 >= 2000 && h3 < 2300, `${h3}`);
  (await acquireN(limiter, clock, 1))[0]!.release({ outcome: 'ok', latencyMs: 10 });
  const h4 = await holdAfter(5);
  assert.ok(h4 >= 500 && h4 < 600, `after a success: ${h4}`);
});

test('fleet: setFleetSize(n) makes this process use limit / n (requests, tokens, max concurrency)', async () => {
  const { clock, limiter } = make({ rpm: 600, tpm: 900_000, maxConcurrency: 30 });
  limiter.setFleetSize(3);
  const s = limiter.snapshot();
  assert.equal(s.fleetSize, 3);
  assert.ok(Math.abs(s.share - 1 / 3) < 1e-9);
  assert.ok(Math.abs((s.rpm ?? 0) - 200) < 1e-9);
  assert.ok(Math.abs((s.tpm ?? 0) - 300_000) < 1e-6);
  assert.equal(s.concurrency, 10);
  const ok: SimServer = { answer: () => ({ status: 200, obs: { outcome: 'ok' } }) };
  const r = await simulate({ limiter, clock, server: ok, workers: 50, latencyMs: 100, durationMs: 3 * 60_000 });
  assert.ok(busiestWindow(r.admitted, 60_000) <= 200, `busiest minute ${busiestWindow(r.admitted, 60_000)}`);
  assert.ok(r.admitted.filter((t) => t < 180_000).length >= 0.95 * 600);
  // three such processes side by side never exceed the fleet limit
  const merged = [...r.admitted, ...r.admitted.map((t) => t + 7), ...r.admitted.map((t) => t + 13)].sort((a, b) => a - b);
  assert.ok(busiestWindow(merged, 60_000) <= 600);
  limiter.setFleetSize(1);
  assert.equal(limiter.snapshot().rpm, 600);
});

test('adaptive with x-ratelimit-* headers: learns the limit, paces, no window above it, >= 0.85 of it within the first minute', async () => {
  const { clock, limiter } = make({});
  const rpm = 120;
  const server = rpmServer(rpm, (_now, used) => ({
    'x-ratelimit-limit-requests': String(rpm), 'x-ratelimit-remaining-requests': String(rpm - used), 'x-ratelimit-reset-requests': '1s',
  }));
  const r = await simulate({ limiter, clock, server, workers: 64, latencyMs: 1000, durationMs: 3 * 60_000 });
  assert.ok(r.status429 <= 2, `${r.status429} x 429`);
  assert.ok(busiestWindow(r.admitted, 60_000) <= rpm);
  const firstMinute = r.admitted.filter((t) => t < 60_000).length;
  assert.ok(firstMinute >= 0.85 * rpm, `${firstMinute} in the first minute`);
  assert.equal(limiter.snapshot().mode, 'paced');
  assert.equal(limiter.snapshot().rpm, rpm);
});

test('adaptive with remaining-requests 0: holds until the reset instead of sending into a 429', async () => {
  const { clock, limiter } = make({});
  const p = await limiter.acquire(1);
  p.release({ outcome: 'ok', latencyMs: 10, headers: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1.5s' } });
  let got = -1;
  void limiter.acquire(1).then(() => { got = clock.now(); });
  await clock.advance(1400);
  assert.equal(got, -1);
  await clock.advance(300);
  assert.ok(got >= 1500 && got <= 1650, `${got}`);
});

test('a permit released twice counts once', async () => {
  const { limiter } = make({});
  const p = await limiter.acquire(1);
  p.release({ outcome: 'ok', latencyMs: 1 });
  p.release({ outcome: 'rate_limited', latencyMs: 1 });
  const s = limiter.snapshot();
  assert.equal(s.calls, 1);
  assert.equal(s.rateLimited, 0);
  assert.equal(s.inFlight, 0);
});

test('an aborted acquire leaves the queue (no slot is granted to it later) and rejects with the reason', async () => {
  const { clock, limiter } = make({ maxConcurrency: 1 });
  const first = await limiter.acquire(1);
  const ac = new AbortController();
  const waiting = limiter.acquire(1, ac.signal);
  let next = false;
  const third = limiter.acquire(1).then((p) => { next = true; return p; });
  assert.equal(limiter.snapshot().waiting, 2);
  ac.abort(new Error('activity cancelled'));
  await assert.rejects(waiting, /activity cancelled/);
  assert.equal(limiter.snapshot().waiting, 1);
  first.release({ outcome: 'ok', latencyMs: 1 });
  await clock.advance(1);
  assert.ok(next, 'the slot went to the next live waiter');
  (await third).release({ outcome: 'ok', latencyMs: 1 });
  assert.equal(limiter.snapshot().inFlight, 0);
  await assert.rejects(limiter.acquire(1, AbortSignal.abort(new Error('already'))), /already/);
});

test('headerRecord: fetch Headers or a plain object -> lower-case names', () => {
  assert.deepEqual(headerRecord(new Headers({ 'X-RateLimit-Remaining-Requests': '3' })), { 'x-ratelimit-remaining-requests': '3' });
  assert.deepEqual(headerRecord({ 'Retry-After': '2' }), { 'retry-after': '2' });
  assert.deepEqual(headerRecord(undefined), {});
});

test('bad limits are refused with the name of the option', () => {
  assert.throws(() => createEndpointLimiter({ rpm: 0 }), /rpm must be a number > 0/);
  assert.throws(() => createEndpointLimiter({ tpm: Number.NaN }), /tpm/);
});

test('fleetSizeFromPollers: distinct identities seen within 70 s; Long seconds; at least 1', () => {
  const now = 1_700_000_000_000;
  const ts = (msAgo: number) => ({ seconds: { toNumber: () => Math.floor((now - msAgo) / 1000) }, nanos: 0 });
  assert.equal(fleetSizeFromPollers({ pollers: [] }, now), 1);
  assert.equal(fleetSizeFromPollers({}, now), 1);
  assert.equal(
    fleetSizeFromPollers({
      pollers: [
        { identity: 'a@host1', lastAccessTime: ts(1_000) },
        { identity: 'a@host1', lastAccessTime: ts(2_000) },
        { identity: 'b@host2', lastAccessTime: { seconds: Math.floor((now - 30_000) / 1000), nanos: 5e8 } },
        { identity: 'c@host3', lastAccessTime: ts(69_000) },
        { identity: 'gone@host4', lastAccessTime: ts(71_000) },
        { identity: 'never', lastAccessTime: null },
      ],
    }, now),
    3,
  );
});

test('a queue\'s workers are counted over all its partitions: a worker seen only on a non-root partition counts, one seen on several counts once', () => {
  assert.deepEqual(taskQueuePartitionNames('flask-eval-ep-abc'), ['flask-eval-ep-abc', '/_sys/flask-eval-ep-abc/1', '/_sys/flask-eval-ep-abc/2', '/_sys/flask-eval-ep-abc/3']);
  assert.deepEqual(taskQueuePartitionNames('q', 1), ['q']);
  const now = 1_700_000_000_000;
  const at = { seconds: Math.floor((now - 1_000) / 1000), nanos: 0 };
  const byPartition = [
    { pollers: [{ identity: 'a@host1', lastAccessTime: at }] }, // root
    { pollers: [{ identity: 'a@host1', lastAccessTime: at }, { identity: 'b@host2', lastAccessTime: at }] },
    {},
    { pollers: [{ identity: 'c@host3', lastAccessTime: at }] },
  ];
  assert.equal(livePollerCount(byPartition[0]!, now), 1, 'the root partition alone sees one of the three');
  assert.equal(livePollerCount(mergedPollers(byPartition), now), 3);
  assert.equal(fleetSizeFromPollers(mergedPollers(byPartition), now), 3);
});

test('reset durations in OpenAI format', () => {
  assert.equal(parseResetDuration('120ms'), 120);
  assert.equal(parseResetDuration('1s'), 1000);
  assert.equal(parseResetDuration('0.5s'), 500);
  assert.equal(parseResetDuration('6m0s'), 360_000);
  assert.equal(parseResetDuration('1h2m3s'), 3_723_000);
  assert.equal(parseResetDuration('2'), 2000);
  assert.equal(parseResetDuration('soon'), undefined);
  for (const ms of [0, 120, 1000, 1500, 59_999, 90_000, 360_000]) assert.equal(parseResetDuration(formatResetDuration(ms)), ms, formatResetDuration(ms));
  assert.deepEqual(readRateLimitHeaders({ 'X-RateLimit-Limit-Tokens': '30000', 'x-ratelimit-remaining-tokens': '29000', 'x-ratelimit-reset-tokens': '2s' }), {
    limitTokens: 30000, remainingTokens: 29000, resetTokensMs: 2000,
  });
});

test('real HTTP: the limiter in front of the offline server (RPM window shortened to 3 s) gets no 429 and >= 0.9 of the limit; adaptive learns it from the headers', async () => {
  const { startOfflineServer, OFFLINE_MODEL_ID } = await import('../../simulator/server.js');
  const OpenAI = (await import('openai')).default;
  const { systemClock } = await import('../../core/rate/index.js');
  const windowMs = 3000;
  const limit = 30; // per 3 s window: 10/s
  for (const given of [true, false]) {
    const server = await startOfflineServer({ requestsPerMinute: limit, rateWindowMs: windowMs, latencyMs: 50 });
    try {
      const client = new OpenAI({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
      const limiter = createEndpointLimiter(given ? { rpm: limit } : {}, systemClock, { windowMs, marginMs: 300 });
      const t0 = Date.now();
      let ok = 0;
      let limited = 0;
      const worker = async (i: number) => {
        while (Date.now() - t0 < 7 * windowMs) {
          const p = await limiter.acquire(10);
          const started = Date.now();
          try {
            const { response } = await client.chat.completions.create({ model: OFFLINE_MODEL_ID, messages: [{ role: 'user', content: `hello ${i} ${ok}` }], max_tokens: 5 }).withResponse();
            ok++;
            p.release({ outcome: 'ok', latencyMs: Date.now() - started, headers: headerRecord(response.headers) });
          } catch (e) {
            const err = e as { status?: number; headers?: Headers };
            if (err.status !== 429) throw e;
            limited++;
            p.release({ outcome: 'rate_limited', latencyMs: Date.now() - started, retryAfterMs: Number(err.headers?.get('retry-after') ?? 1) * 1000, headers: headerRecord(err.headers) });
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i)));
      const elapsedWindows = (Date.now() - t0) / windowMs;
      assert.ok(limited <= (given ? 0 : 2), `${given ? 'limit given' : 'adaptive'}: ${limited} x 429`);
      // adaptive starts before it knows the limit: judge it from the second window on
      assert.ok(ok >= 0.9 * limit * (elapsedWindows - (given ? 1 : 2)), `${given ? 'limit given' : 'adaptive'}: ${ok} ok in ${elapsedWindows.toFixed(1)} windows of ${limit}`);
      if (!given) assert.equal(limiter.snapshot().rpm, limit);
    } finally {
      await server.close();
    }
  }
});

/**
 * A server with one slot and a 60 s service time: calls queue, so a call's latency is its wait
 * plus its service; past the request timeout the client gives up (and the server, which sees the
 * hang-up, drops it).
 */
async function serialServerRun(limits: EndpointLimits, timeoutMs: number, durationMs: number) {
  const { clock, limiter } = make(limits);
  let freeAt = 0;
  const latencies: number[] = [];
  let timeouts = 0;
  const inFlightSeen: number[] = [];
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const p = await limiter.acquire(10);
      const start = clock.now();
      const done = Math.max(freeAt, start) + 60_000;
      if (done - start > timeoutMs) {
        await clock.sleep(timeoutMs);
        timeouts++;
        p.release({ outcome: 'error', latencyMs: timeoutMs, timedOut: true });
        continue;
      }
      freeAt = done;
      await clock.sleep(done - start);
      latencies.push(done - start);
      p.release({ outcome: 'ok', latencyMs: done - start });
    }
  };
  const sampler = (async () => {
    while (!stop) {
      await clock.sleep(10_000);
      inFlightSeen.push(limiter.snapshot().inFlight);
    }
  })();
  const ws = Array.from({ length: 8 }, worker);
  await clock.advance(durationMs);
  const concurrency = limiter.snapshot().concurrency;
  stop = true;
  await clock.advance(10 * timeoutMs);
  await Promise.all([...ws, sampler]);
  return { concurrency, latencies, timeouts, inFlightSeen, snapshot: limiter.snapshot() };
}

test('adaptive vs a one-at-a-time server (60 s a call, 120 s timeout): 1 in flight from the start, no timeout', async () => {
  const r = await serialServerRun({ requestTimeoutMs: 120_000 }, 120_000, 30 * 60_000);
  assert.equal(r.timeouts, 0);
  assert.equal(r.concurrency, 1);
  assert.ok(Math.max(...r.inFlightSeen) <= 1, `in flight: ${r.inFlightSeen}`);
  assert.ok(r.latencies.length >= 29, `served ${r.latencies.length} calls in 30 min`);
  assert.equal(r.snapshot.latencyMeanMs, 60_000);
});

test('adaptive vs a one-at-a-time server started at 4 in flight with a longer timeout: converges to 1-2, latency stays under half the timeout', async () => {
  const r = await serialServerRun({ initialConcurrency: 4, requestTimeoutMs: 300_000 }, 300_000, 60 * 60_000);
  assert.equal(r.timeouts, 0);
  assert.ok(r.concurrency >= 1 && r.concurrency <= 2, `window ${r.concurrency}`);
  // After the first windows (which queued 4 deep), latencies stay at 1-2 service times.
  const late = r.latencies.slice(10);
  assert.ok(Math.max(...late) <= 150_000, `late latencies ${late}`);
});

test('adaptive: a timed-out call halves the window (once per window)', async () => {
  const { limiter } = make({ initialConcurrency: 8 });
  const permits = await Promise.all(Array.from({ length: 8 }, () => limiter.acquire(1)));
  for (const p of permits) p.release({ outcome: 'error', latencyMs: 120_000, timedOut: true });
  assert.equal(limiter.snapshot().concurrency, 4);
});
