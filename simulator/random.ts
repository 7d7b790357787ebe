/**
 * Hashing helpers of the offline server: every "random" number is a hash of its parts (seed,
 * request content, purpose), so the same request always gets the same answer.
 */
import { createHash } from 'node:crypto';

export function sha(parts: readonly (string | number)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(String(p));
    h.update('\u0000');
  }
  return h.digest('hex');
}

/** A uniform number in [0, 1) from the parts. */
export function unit(...parts: (string | number)[]): number {
  return parseInt(sha(parts).slice(0, 12), 16) / 2 ** 48;
}

/** A small deterministic generator for text choices (mulberry32 seeded from a hash). */
export class Rng {
  private state: number;
  constructor(...parts: (string | number)[]) {
    this.state = parseInt(sha(parts).slice(0, 8), 16) >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** Rough token count of a text (OpenAI's ~4 characters a token), for `usage`. */
export const tokens = (chars: number): number => Math.ceil(chars / 4);
