/** Text helpers of the offline server: words, overlap, and the sections of the FLASK prompts. */
import { SKILL_NAMES } from '../core/flask/skills.js';

const STOP = new Set(
  ('the a an and or but of to in on at for with by from as is are was were be been being this that these those it its ' +
    'into than then there their they them he she his her we you your our i me my not no yes do does did can could ' +
    'would should will shall may might must have has had what which who whom whose when where why how all any each ' +
    'some such more most other also about over under between after before so if while very just only own same too ' +
    'here out up down off again further once both few nor').split(' '),
);

export function wordsOf(s: string): string[] {
  return s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export function contentWords(s: string): string[] {
  return wordsOf(s).filter((w) => w.length >= 3 && !STOP.has(w));
}

/** Share of the distinct content words of `ref` that `text` also uses (0..1). */
export function overlap(text: string, ref: string): number {
  const r = new Set(contentWords(ref));
  if (r.size === 0) return 0;
  const t = new Set(contentWords(text));
  let n = 0;
  for (const w of r) if (t.has(w)) n++;
  return n / r.size;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Case-insensitive indexOf that keeps the original string's indices. */
export function findCI(text: string, needle: string, from = 0): number {
  const re = new RegExp(escapeRegExp(needle), 'gi');
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index : -1;
}

/** The text after `start` up to the first of `ends` (case-insensitive markers). */
export function section(text: string, start: string, ends: readonly string[]): string | undefined {
  const i = findCI(text, start);
  if (i < 0) return undefined;
  const from = i + start.length;
  let to = text.length;
  for (const e of ends) {
    const j = findCI(text, e, from);
    if (j >= 0 && j < to) to = j;
  }
  return text.slice(from, to);
}

/** The instruction inside an annotation or review prompt (falls back to the whole text). */
export function instructionOf(user: string): string {
  const inst = section(user, '[Instruction]\n', [
    '\n\n[Ground truth Answer]', '\n\n[Assistant\'s Response]', '\n\nWhich domain best fits', '\n\nSelect and write', '\n\n[System]',
  ]);
  if (inst !== undefined) return inst.trim();
  const q = findCI(user, '\n\nQuestion: ');
  if (q >= 0) return user.slice(q + '\n\nQuestion: '.length).trim();
  return user.trim();
}

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** Skill names, longest first: the order in which prompt lines are matched against them. */
export const SKILLS_LONGEST_FIRST = [...SKILL_NAMES].sort((a, b) => b.length - a.length);
