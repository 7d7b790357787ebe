/**
 * A small seeded PRNG (mulberry32) so every bootstrap and permutation result is reproducible
 * from the seed printed next to it. Not cryptographic; uniform enough for resampling.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A stream's seed from the run-wide seed and the figure it is for (e.g. "run-a|skill|correctness"),
 * so a figure's CI does not depend on which other figures were computed before it (FNV-1a).
 */
export function deriveSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
