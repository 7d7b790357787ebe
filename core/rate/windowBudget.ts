/**
 * A per-minute budget (requests or tokens) enforced two ways at once:
 *
 *  - pacing (GCRA): a grant of `amount` moves the earliest next start `amount / rate` later, so
 *    calls leave evenly spaced instead of in a burst at the start of each minute;
 *  - a sliding log: the amounts granted in the last `windowMs + marginMs` never exceed the limit.
 *
 * The provider counts a sliding window from the moment each request ARRIVES; a request arrives a
 * little after it is granted here (event loop, connection, body upload), so the log looks back
 * `marginMs` further than the provider's window. That margin is also why the pacing rate is
 * limit / (windowMs + marginMs): ~98% of the limit with the default 1 s margin.
 *
 * A grant has two amounts: what the log counts until the usage is known (the reservation: prompt
 * estimate + max_tokens, what an OpenAI-style endpoint checks at admission) and what the pacing
 * clock advances by (the EXPECTED usage: the estimate scaled by the usage/estimate ratio seen so
 * far). Pacing by the reservation would leave a gap after every call whose correction arrives
 * after its slot has passed (with max_tokens 1,024 and ~300 used, ~10-40% of the limit unused).
 * At release both are corrected to the reported usage; the pacing clock never moves back further
 * than `catchUpMs` into the past (credit not used while idle is not banked into a burst).
 */

export interface BudgetEntry {
  at: number;
  /** what the sliding log counts (the reservation, then the reported usage) */
  amount: number;
  /** what the pacing clock was advanced by (the expected usage) */
  paced: number;
}

export class WindowBudget {
  private log: BudgetEntry[] = [];
  private head = 0;
  private sum = 0;
  /** theoretical arrival time: the earliest the next grant may start (GCRA) */
  private tat = Number.NEGATIVE_INFINITY;

  constructor(
    private limitPerWindow: number,
    readonly windowMs = 60_000,
    readonly marginMs = 1_000,
    /** how late a grant may be and still keep the pacing schedule (default 250 ms) */
    readonly catchUpMs = 250,
  ) {
    if (!(limitPerWindow > 0)) throw new RangeError(`a rate limit must be > 0 (got ${limitPerWindow})`);
  }

  get limit(): number {
    return this.limitPerWindow;
  }

  /** A new limit (fleet share changed, or a limit learned from headers); pacing continues from here. */
  setLimit(limit: number): void {
    if (!(limit > 0)) throw new RangeError(`a rate limit must be > 0 (got ${limit})`);
    this.limitPerWindow = limit;
  }

  /** amount per ms */
  private get rate(): number {
    return this.limitPerWindow / (this.windowMs + this.marginMs);
  }

  private expire(now: number): void {
    const horizon = now - this.windowMs - this.marginMs;
    while (this.head < this.log.length && this.log[this.head]!.at <= horizon) {
      this.sum -= this.log[this.head]!.amount;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.log.length) {
      this.log = this.log.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.log.length) this.sum = 0; // no float drift when empty
  }

  /** Sum of the amounts in the look-back window (what the provider would count, plus the margin). */
  used(now: number): number {
    this.expire(now);
    return Math.max(0, this.sum);
  }

  /** The earliest time >= now at which `amount` may be granted. */
  readyAt(now: number, amount: number): number {
    this.expire(now);
    let t = Math.max(now, this.tat);
    // Sliding log: wait until enough old entries have left the window. A single request larger
    // than the whole limit goes alone once the window is empty (otherwise it would wait forever).
    const need = Math.min(amount, this.limitPerWindow);
    let over = this.sum + need - this.limitPerWindow;
    if (over > 1e-9) {
      for (let i = this.head; i < this.log.length; i++) {
        over -= this.log[i]!.amount;
        if (over <= 1e-9) {
          t = Math.max(t, this.log[i]!.at + this.windowMs + this.marginMs);
          break;
        }
      }
    }
    return t;
  }

  /** Record a grant at `now` (call only when readyAt(now, amount) <= now). */
  take(now: number, amount: number, paced = amount): BudgetEntry {
    const entry: BudgetEntry = { at: now, amount, paced };
    this.log.push(entry);
    this.sum += amount;
    // A grant that comes a little after its time (a timer fired late, the event loop was busy)
    // keeps the schedule instead of pushing every later one back; after a real pause the
    // schedule restarts from now (idle time is not banked into a burst).
    const start = this.tat >= now || now - this.tat <= this.catchUpMs ? this.tat : now;
    this.tat = Math.max(start, now - this.catchUpMs) + paced / this.rate;
    return entry;
  }

  /** Replace an entry's amount (estimate -> reported usage). */
  correct(entry: BudgetEntry, actual: number, now: number): void {
    this.expire(now);
    if (entry.at > now - this.windowMs - this.marginMs) this.sum += actual - entry.amount;
    entry.amount = actual;
    const pace = actual - entry.paced;
    entry.paced = actual;
    if (pace < 0) this.tat = Math.max(Math.min(this.tat, now - this.catchUpMs), this.tat + pace / this.rate);
    else this.tat += pace / this.rate;
  }

  /** Pretend `amount` was granted at `now` (seeded from a provider's remaining count). */
  seed(now: number, amount: number): void {
    if (amount <= 0) return;
    this.expire(now);
    this.log.push({ at: now, amount, paced: amount });
    this.sum += amount;
  }
}
