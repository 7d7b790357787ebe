/**
 * AIMD concurrency window for an endpoint with no known limit.
 *
 * Latency is a signal as well as 429s: a local server that answers one request at a time sends
 * no 429, it queues, so each call's latency grows with the calls in flight. Hence:
 *  - a window whose mean latency has risen past tolerance x floor, in proportion to the calls in
 *    flight (the mark of queueing, not of longer answers), shrinks to what the server really does
 *    at once: current x floor / mean (at least 1);
 *  - a call that timed out halves the window (once per window, like a 429);
 *  - with a latency ceiling (half the request timeout), the window grows only while the latency
 *    one more call in flight would bring (slowest x (n+1)/n, if it queues) stays under it: a
 *    60-second-a-call serial server with a 120 s timeout stays at 1 in flight, never timing out.
 *
 *  - additive increase: +1 after a window of successes (as many as the window allows, i.e. about
 *    one round trip) during which the window was actually full and the mean latency stayed within
 *    `latencyTolerance` x the lowest latency seen (+ a small absolute slack: at a few ms, timer
 *    noise alone is more than 1.5x);
 *  - multiplicative decrease: x0.5 on a 429, at most once per window: a 429 on a call that was
 *    acquired before the last decrease says nothing new (it was sent under the old window).
 */
export interface AimdOptions {
  initial: number;
  max: number;
  /** grow only while mean latency <= tolerance x floor + slack (default 1.5) */
  latencyTolerance?: number;
  /** absolute slack on the latency test, ms (default 20) */
  latencySlackMs?: number;
  /** grow only while the window's slowest call x (n+1)/n stays at or under this (default: no ceiling) */
  latencyCeilingMs?: number;
}

export class AimdWindow {
  private current: number;
  private max: number;
  private readonly tolerance: number;
  private readonly slackMs: number;
  private readonly ceilingMs: number;
  private lastMeanMs: number | undefined;
  private floor: number | undefined;
  private successes = 0;
  private latencySum = 0;
  private latencyMax = 0;
  private saturated = false;
  private decreases = 0;

  constructor(o: AimdOptions) {
    this.max = Math.max(1, Math.floor(o.max));
    this.current = Math.min(this.max, Math.max(1, Math.floor(o.initial)));
    this.tolerance = o.latencyTolerance ?? 1.5;
    this.slackMs = o.latencySlackMs ?? 20;
    this.ceilingMs = o.latencyCeilingMs ?? Infinity;
  }

  /** The mean latency of the last full window (what the progress line shows). */
  get meanLatencyMs(): number | undefined {
    return this.lastMeanMs;
  }

  get limit(): number {
    return this.current;
  }

  get latencyFloorMs(): number | undefined {
    return this.floor;
  }

  setMax(max: number): void {
    this.max = Math.max(1, Math.floor(max));
    this.current = Math.min(this.current, this.max);
  }

  /** The window was full at some point (calls waited for it): growth can pay off. */
  noteSaturated(): void {
    this.saturated = true;
  }

  onSuccess(latencyMs: number): void {
    if (Number.isFinite(latencyMs) && latencyMs >= 0) {
      this.floor = this.floor === undefined ? latencyMs : Math.min(this.floor, latencyMs);
      this.latencySum += latencyMs;
      this.latencyMax = Math.max(this.latencyMax, latencyMs);
    }
    this.successes++;
    if (this.successes < this.current) return;
    const mean = this.latencySum / this.successes;
    this.lastMeanMs = mean;
    const holds = this.floor === undefined || mean <= this.floor * this.tolerance + this.slackMs;
    // The window's slowest call, not its mean: right after a growth a window mixes calls that ran
    // alone with calls that queued, and its mean understates what the new window brings.
    const underCeiling = (this.latencyMax * (this.current + 1)) / this.current <= this.ceilingMs;
    if (this.saturated && holds && underCeiling) this.current = Math.min(this.max, this.current + 1);
    else if (!holds && this.floor !== undefined && this.current > 1 && mean >= 0.6 * this.current * this.floor) {
      // Queueing: n calls in flight each waiting ~n service times.
      this.current = Math.max(1, Math.round((this.current * this.floor) / mean));
      this.decreases++;
    }
    this.resetWindow();
  }

  /** Which decrease a call was acquired after: pass it back with its 429. */
  get epoch(): number {
    return this.decreases;
  }

  /** A timed-out call acquired in `epochAtAcquire`: too many in flight for the request timeout. */
  onTimeout(epochAtAcquire: number): boolean {
    return this.onRateLimited(epochAtAcquire);
  }

  /** A 429 on a call acquired in `epochAtAcquire`; true when it halved the window. */
  onRateLimited(epochAtAcquire: number): boolean {
    if (epochAtAcquire !== this.decreases) return false;
    this.current = Math.max(1, Math.floor(this.current / 2));
    this.decreases++;
    this.resetWindow();
    return true;
  }

  private resetWindow(): void {
    this.successes = 0;
    this.latencySum = 0;
    this.latencyMax = 0;
    this.saturated = false;
  }
}
