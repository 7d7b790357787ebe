/**
 * AIMD concurrency window for an endpoint with no known limit.
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
}

export class AimdWindow {
  private current: number;
  private max: number;
  private readonly tolerance: number;
  private readonly slackMs: number;
  private floor: number | undefined;
  private successes = 0;
  private latencySum = 0;
  private saturated = false;
  private decreases = 0;

  constructor(o: AimdOptions) {
    this.max = Math.max(1, Math.floor(o.max));
    this.current = Math.min(this.max, Math.max(1, Math.floor(o.initial)));
    this.tolerance = o.latencyTolerance ?? 1.5;
    this.slackMs = o.latencySlackMs ?? 20;
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
    }
    this.successes++;
    if (this.successes < this.current) return;
    const mean = this.latencySum / this.successes;
    const holds = this.floor === undefined || mean <= this.floor * this.tolerance + this.slackMs;
    if (this.saturated && holds) this.current = Math.min(this.max, this.current + 1);
    this.resetWindow();
  }

  /** Which decrease a call was acquired after: pass it back with its 429. */
  get epoch(): number {
    return this.decreases;
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
    this.saturated = false;
  }
}
