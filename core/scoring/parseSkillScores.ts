/**
 * Reads the per-skill scores out of a FLASK judge's feedback. The review prompt asks the judge to
 * end with "a Python dictionary object that has skillset names as keys and the corresponding
 * scores as values"; FLASK's gpt4_eval.parse_score takes the last `{[^}]+}` match and evals it.
 * We do the same search, but parse with a small tokenizer (never eval judge output) and insist
 * on exactly the instance's skills, so a sloppy or truncated review is reported, never half-used.
 */
import { resolveSkill, type SkillName } from '../flask/skills.js';

export type SkillScore = number | 'N/A';
export type ParsedScores =
  /**
   * `warnings`: keys the judge added beyond the instance's skills (another rubric skill, or a
   * key such as "Overall"): they are left out of the scores and reported, not asked again.
   */
  | { ok: true; scores: Partial<Record<SkillName, SkillScore>>; warnings?: string[] }
  | { ok: false; reason: string };

type Scalar = { kind: 'text'; value: string } | { kind: 'number'; value: number };
type Token = Scalar | { kind: ':' | ',' };
type Entry = { key: string; value: Scalar };

// Straight and typographic quotes: judges copy-pasting from chat UIs produce the latter.
const QUOTES: Record<string, string> = { '"': '"', "'": "'", '\u201c': '\u201d', '\u2018': '\u2019' };
const NUMBER = /[+-]?\d+(?:\.\d*)?(?![\w.])/y; // Python allows `4.`
// Bare words: Python would reject them, but judges write {Factuality: 4} and None/null/N/A.
const BARE = /[A-Za-z_][\w \-/]*/y;
// Everything a judge writes for "this skill does not apply" (FLASK's rubric says "N/A").
const NOT_APPLICABLE = new Set(['n/a', 'na', 'none', 'null', 'not applicable']);
// Innermost braces, newlines allowed: FLASK's `{[^}]+}`, minus nesting we do not support.
const CANDIDATE = /\{[^{}]*\}/g;

/** Tokens of the inside of one `{...}` candidate, or undefined if it is not dict-like text. */
function tokenize(body: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  while (i < body.length) {
    const c = body[i];
    if (/\s/.test(c!)) { i++; continue; }
    if (c === ':' || c === ',') { tokens.push({ kind: c }); i++; continue; }
    const close = QUOTES[c!];
    if (close !== undefined) {
      let s = '';
      for (i++; i < body.length && body[i] !== close; i++) s += body[i] === '\\' ? (body[++i] ?? '') : body[i];
      if (i >= body.length) return undefined; // unterminated string
      tokens.push({ kind: 'text', value: s.trim() });
      i++;
      continue;
    }
    NUMBER.lastIndex = BARE.lastIndex = i;
    const num = NUMBER.exec(body);
    const bare = num ? null : BARE.exec(body);
    if (num) tokens.push({ kind: 'number', value: Number(num[0]) });
    else if (bare) tokens.push({ kind: 'text', value: bare[0].trim() });
    else return undefined; // a character no dictionary literal contains
    i += (num ?? bare)![0].length;
  }
  return tokens;
}

const isScalar = (t: Token | undefined): t is Scalar => t?.kind === 'text' || t?.kind === 'number';

/** `key: value (, key: value)* ,?` — or undefined when the candidate is prose like `{skills}`. */
function parseDict(body: string): Entry[] | undefined {
  const t = tokenize(body);
  if (!t) return undefined;
  const entries: Entry[] = [];
  for (let i = 0; i < t.length; ) {
    const [k, colon, v, sep] = [t[i], t[i + 1], t[i + 2], t[i + 3]];
    if (!isScalar(k) || colon?.kind !== ':' || !isScalar(v)) return undefined;
    if (sep && sep.kind !== ',') return undefined;
    entries.push({ key: String(k.value), value: v });
    i += 4; // a trailing comma simply ends the loop
  }
  // `{}` is never a score dictionary (e.g. a format placeholder), so it does not count as one.
  return entries.length > 0 ? entries : undefined;
}

/** A score in [1, 5] or 'N/A', else an error saying what the judge wrote instead. */
function toScore(v: Scalar, skill: SkillName): { score: SkillScore } | { error: string } {
  let n: number;
  if (v.kind === 'number') n = v.value;
  else if (NOT_APPLICABLE.has(v.value.toLowerCase().replace(/\s+/g, ' '))) return { score: 'N/A' };
  else if (/^[+-]?\d+(\.\d+)?$/.test(v.value)) n = Number(v.value); // quoted number, "4"
  else return { error: `score "${v.value}" for ${skill} is not a number 1-5 or N/A` };
  if (!(n >= 1 && n <= 5)) return { error: `score ${n} for ${skill} is out of range 1-5` };
  return { score: n }; // Number('4.0') is 4 already; 4.5 stays 4.5
}

export function parseSkillScores(judgeText: string, expected: readonly SkillName[]): ParsedScores {
  const want = [...new Set(expected)];
  const instance = `(instance skills: ${want.join(', ')})`;

  // The last candidate that is a dictionary wins, as in FLASK; earlier ones are drafts or prose.
  const candidates = [...judgeText.matchAll(CANDIDATE)].map((m) => m[0].slice(1, -1));
  let entries: Entry[] | undefined;
  for (let i = candidates.length - 1; i >= 0 && !entries; i--) entries = parseDict(candidates[i]!);
  if (!entries) {
    // An opening brace after the last closing one means the output was cut off mid-dictionary.
    const truncated = judgeText.lastIndexOf('{') > judgeText.lastIndexOf('}');
    if (truncated) return { ok: false, reason: 'score dictionary is truncated (no closing brace)' };
    const seen = candidates.length ? ` (${candidates.length} {...} block(s), none a key: value dictionary)` : '';
    return { ok: false, reason: `no score dictionary found${seen}` };
  }

  const scores: Partial<Record<SkillName, SkillScore>> = {};
  const extras: string[] = [];
  for (const { key, value } of entries) {
    const skill = resolveSkill(key);
    // A key outside the instance's skills does not make the instance's own scores wrong: keep
    // them, and record what else the judge scored (FLASK's parser would keep it as a fourth key).
    if (!skill || !want.includes(skill)) {
      extras.push(`${JSON.stringify(key)}: ${JSON.stringify(value.value)}`);
      continue;
    }
    const parsed = toScore(value, skill);
    if ('error' in parsed) return { ok: false, reason: parsed.error };
    const score = parsed.score;
    // "Correctness" and "logical_correctness" both name one skill; disagreeing copies are ambiguous.
    const prior = scores[skill];
    if (prior !== undefined && prior !== score) {
      return { ok: false, reason: `conflicting scores for ${skill}: ${prior} and ${score}` };
    }
    scores[skill] = score;
  }

  const missing = want.filter((s) => scores[s] === undefined);
  if (missing.length > 0) {
    const also = extras.length ? `; the dictionary has ${extras.length} other key(s): ${extras.join(', ')}` : '';
    return { ok: false, reason: `missing score for ${missing.join(', ')} ${instance}${also}` };
  }
  // Report in the instance's skill order, whatever order the judge used.
  const ordered = Object.fromEntries(want.map((s) => [s, scores[s]]));
  if (extras.length === 0) return { ok: true, scores: ordered };
  return { ok: true, scores: ordered, warnings: [`judge scored key(s) outside the instance's skills, ignored: ${extras.join(', ')} ${instance}`] };
}
