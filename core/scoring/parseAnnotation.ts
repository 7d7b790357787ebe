/**
 * Reads the labels out of the answers to FLASK's 3 annotation prompts (core/prompts/annotation.ts).
 *
 * FLASK's own parsers (metadata_annotation/STAGE/*_annotation.py) are stricter in some places and
 * wrong in others: the domain answer is split on ", " and any piece that is not exactly a domain
 * name becomes "-1"; the skill-set answer is `re.search(r'\[.*\]')` + literal_eval with no check
 * of the count; the difficulty check is reversed (`answer.lower() in 'major level knowledge'`), so
 * "Major level knowledge." is labelled -1. We accept what a judge plausibly writes as a label
 * (casing, markdown, numbering, a "Domain:" prefix) and report everything else as ok:false with a
 * reason, never a half-parsed label: a domain or level named inside a sentence is prose, not an
 * answer, and is not picked out of it (README: "a label is never guessed").
 */
import { DOMAINS, resolveDomain } from '../flask/domains.js';
import { DIFFICULTY_LEVELS, type Difficulty } from '../flask/difficulty.js';
import type { SkillName } from '../flask/skills.js';

export type ParsedAnnotation<T> = { ok: true; value: T } | { ok: false; reason: string };

function snippet(text: string, max = 80): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max)}...` : flat);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// Longest names first, so "Natural Science" wins over any shorter name it might contain; words of
// a name may be joined by spaces, underscores or hyphens; a name must not be part of a longer word
// ("Healthcare" is not "Health", "Mathematics" is not "Math"). Underscores around a name are
// markdown, so only letters count as "part of a word".
const DOMAIN_PATTERN = new RegExp(
  `(?<![A-Za-z])(${[...DOMAINS]
    .sort((a, b) => b.length - a.length)
    .map((d) => d.split(/\s+/).map(escapeRegExp).join('[\\s_-]+'))
    .join('|')})(?![A-Za-z])`,
  'gi',
);

// Words an answer may carry around its labels ("Domain: Math", "Math and Coding", "Answer - 6. Math").
// Anything else left once the labels are cut out makes the answer prose.
const DOMAIN_FILLER = new Set(['domain', 'domains', 'answer', 'and', 'or']);
const DIFFICULTY_FILLER = new Set(['difficulty', 'level', 'class', 'answer']);

/** The words of `text` outside the spans `pattern` matches that are not in `filler`. */
function strayWords(text: string, pattern: RegExp, filler: ReadonlySet<string>): string[] {
  return text
    .replace(pattern, ' ')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w !== '' && !filler.has(w));
}

function proseReason(what: string, text: string, stray: readonly string[], example: string): string {
  return (
    `the ${what} answer is prose, not a label: ${snippet(text)} has words besides the label ` +
    `(${stray.slice(0, 5).map((w) => JSON.stringify(w)).join(', ')}); no label is guessed from a sentence ` +
    `(the annotator must answer with the label alone, e.g. ${example})`
  );
}

/**
 * The domain answer: one domain, or two in ambiguous cases ("Math, Coding", "6. Math",
 * "**Natural Science** and Health", "natural_science / technology"). Order of appearance is kept:
 * FLASK picks the difficulty template by the first domain.
 */
export function parseDomainAnswer(text: string): ParsedAnnotation<string[]> {
  const found: string[] = [];
  for (const m of text.matchAll(DOMAIN_PATTERN)) {
    const d = resolveDomain(m[1]!);
    if (d !== undefined && !found.includes(d)) found.push(d);
  }
  if (found.length === 0) return { ok: false, reason: `no known domain in the answer ${snippet(text)}` };
  if (found.length > 2) {
    return { ok: false, reason: `expected one or two domains, got ${found.length}: ${found.join(', ')}` };
  }
  const stray = strayWords(text, DOMAIN_PATTERN, DOMAIN_FILLER);
  if (stray.length > 0) return { ok: false, reason: proseReason('domain', text, stray, '"Math" or "Math, Coding"') };
  return { ok: true, value: found };
}

// A bracketed list whose items are all integers, optionally quoted ("[3, 7, 1]", "['3','7','1']", "[]").
const LIST = /\[([^[\]]*)\]/g;
const INT_ITEM = /^(['"]?)\s*([+-]?\d+)\s*\1$/;

function integerList(body: string): number[] | undefined {
  const trimmed = body.trim().replace(/,\s*$/, '');
  if (trimmed === '') return [];
  const out: number[] = [];
  for (const item of trimmed.split(',')) {
    const m = INT_ITEM.exec(item.trim());
    if (!m) return undefined;
    out.push(Number(m[2]));
  }
  return out;
}

/**
 * The skill-set answer: feedback, then a Python list of 3 indices, most important first. The last
 * list of integers in the text is the answer; index i means numbering[i - 1], the numbering that
 * was shown in the prompt (FLASK shuffles the skills for every instance).
 */
export function parseSkillsetAnswer(
  text: string,
  numbering: readonly SkillName[],
): ParsedAnnotation<{ skills: SkillName[]; indices: number[] }> {
  let last: number[] | undefined;
  for (const m of text.matchAll(LIST)) {
    const list = integerList(m[1]!);
    if (list) last = list;
  }
  if (!last) return { ok: false, reason: `no list of skill indices in the answer ${snippet(text.slice(-200))}` };
  const n = numbering.length;
  const valid = last.length === 3 && new Set(last).size === 3 && last.every((i) => Number.isInteger(i) && i >= 1 && i <= n);
  if (!valid) return { ok: false, reason: `expected 3 distinct indices in 1..${n}, got [${last.join(', ')}]` };
  return { ok: true, value: { skills: last.map((i) => numbering[i - 1]!), indices: last } };
}

// Each level's words with "knowledge" optional ("Major level." is as clear as "Major level knowledge").
const LEVEL_PATTERNS: readonly { level: Difficulty; re: RegExp }[] = DIFFICULTY_LEVELS.map((level) => {
  const [a, b] = level.split(' ');
  return { level, re: new RegExp(`(?:^| )${a} ${b}(?: knowledge)?(?= |$)`, 'g') };
});

/**
 * The difficulty answer: one of the 5 levels, in any casing, with hyphens, markdown or extra
 * words around it ("Difficulty: Major-level knowledge."). Zero or several levels -> ok:false.
 */
export function parseDifficultyAnswer(text: string): ParsedAnnotation<Difficulty> {
  const words = text.toLowerCase().replace(/[^a-z]+/g, ' ').trim();
  const levels = LEVEL_PATTERNS.filter((p) => words.search(p.re) >= 0).map((p) => p.level);
  if (levels.length === 0) return { ok: false, reason: `no difficulty level in the answer ${snippet(text)}` };
  if (levels.length > 1) return { ok: false, reason: `several difficulty levels in the answer: ${levels.join(', ')}` };
  const stray = strayWords(words, LEVEL_PATTERNS.find((p) => p.level === levels[0])!.re, DIFFICULTY_FILLER);
  if (stray.length > 0) {
    return { ok: false, reason: proseReason('difficulty', text, stray, '"Major level knowledge"') };
  }
  return { ok: true, value: levels[0]! };
}
