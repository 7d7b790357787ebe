import type { EvalInstance } from './dataset.js';

const norm = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * FLASK-Hard renumbers its 89 instances 1..89, while FLASK's published answers are keyed by the
 * full evaluation set's idx. Map each hard instance to its full-set idx by instruction text; one
 * full-set instruction (1723) carries its answer appended, so a prefix with an equal reference
 * answer also matches.
 */
export function hardToMainIdx(hard: readonly EvalInstance[], main: readonly EvalInstance[]): Map<number, number> {
  const byText = new Map(main.map((m) => [norm(m.instruction), m.idx]));
  const out = new Map<number, number>();
  for (const h of hard) {
    const text = norm(h.instruction);
    const idx = byText.get(text) ?? main.find((m) => norm(m.instruction).startsWith(text) && m.answer === h.answer)?.idx;
    if (idx !== undefined) out.set(h.idx, idx);
  }
  return out;
}
