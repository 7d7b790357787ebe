/**
 * A sliding window of admitted amounts (requests: 1 each; tokens: the request's charge), as the
 * offline server enforces its RPM and TPM limits. An entry lives `windowMs` from its admission.
 */
export interface WindowEntry {
  at: number;
  amount: number;
}

export class RateWindow {
  private entries: WindowEntry[] = [];
  private head = 0;
  private total = 0;

  constructor(readonly limit: number, readonly windowMs: number) {}

  private expire(now: number): void {
    while (this.head < this.entries.length && this.entries[this.head]!.at <= now - this.windowMs) {
      this.total -= this.entries[this.head]!.amount;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.entries.length) this.total = 0;
  }

  used(now: number): number {
    this.expire(now);
    return this.total;
  }

  /** Entries in the window (requests admitted, for a window of requests). */
  count(now: number): number {
    this.expire(now);
    return this.entries.length - this.head;
  }

  /** Does `amount` fit now? A single amount above the whole limit fits an empty window (it could never fit otherwise). */
  fits(now: number, amount: number): boolean {
    const used = this.used(now);
    return used + amount <= this.limit || used === 0;
  }

  /** ms until `amount` would fit (the oldest entries leaving first); 0 if it fits now. */
  waitFor(now: number, amount: number): number {
    this.expire(now);
    let over = this.total + amount - this.limit;
    if (over <= 0) return 0;
    for (let i = this.head; i < this.entries.length; i++) {
      over -= this.entries[i]!.amount;
      if (over <= 0) return this.entries[i]!.at + this.windowMs - now;
    }
    return this.entries.length > this.head ? this.entries[this.entries.length - 1]!.at + this.windowMs - now : 0;
  }

  /** ms until the oldest entry leaves (remaining grows again); 0 when empty. */
  resetMs(now: number): number {
    this.expire(now);
    return this.head < this.entries.length ? this.entries[this.head]!.at + this.windowMs - now : 0;
  }

  add(now: number, amount: number): WindowEntry {
    this.expire(now);
    const e = { at: now, amount };
    this.entries.push(e);
    this.total += amount;
    return e;
  }

  /** Replace an admitted entry's amount (reserved max_tokens -> the completion really generated). */
  correct(entry: WindowEntry, amount: number, now: number): void {
    this.expire(now);
    if (entry.at > now - this.windowMs) this.total += amount - entry.amount;
    entry.amount = amount;
  }
}
