/**
 * A deterministic OFFLINE OpenAI-compatible server (node:http only) for tests and the demo.
 *
 * It plays every role the pipeline needs, told apart by the messages it receives:
 *   - the FLASK judge (review prompt)                  -> feedback + "Score: N" + a skill dictionary
 *   - the three FLASK annotators (domain / skill set / difficulty)
 *   - the evaluated model (anything else)              -> a plausible answer of ~answerWords words
 *
 * Everything it says is SIMULATED: scores come from a hash, nudged by crude quality signals
 * (response length, word overlap with the reference answer). Its outputs are shaped like a real
 * judge's, in several styles and with realistic failures, so that the production parsers, retry
 * and rate-limit handling are exercised. Production code talks to it through the ordinary
 * OpenAI SDK and never knows.
 *
 * Determinism: every random choice is a hash of (seed, request content[, attempt]); the request
 * content is its messages (requestContentHash). The server remembers how often it has admitted
 * each exact content; the attempt number feeds only the
 * failure decisions (5xx, malformed), so a retried request eventually succeeds while its scores
 * and labels stay the same across attempts.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { SKILL_NAMES, type SkillName } from '../core/skills.js';
import { DOMAINS } from '../core/domains.js';
import { DIFFICULTY_LEVELS } from '../core/difficulty.js';
import rubrics from '../data/flask/skillset_description.json' with { type: 'json' };

export const OFFLINE_MODEL_ID = 'flask-offline-judge';
/** The evaluated-model name the server also lists (any model name is accepted and echoed). */
export const OFFLINE_ANSWER_MODEL_ID = 'flask-offline-model';

export interface OfflineServerOptions {
  /** 0 = random free port (default 0); host is always 127.0.0.1 */
  port?: number;
  /** added per request (default 0) */
  latencyMs?: number;
  /** sliding 60 s window (rateWindowMs) over ALL chat requests; beyond it -> HTTP 429 with Retry-After; 0/undefined = unlimited */
  requestsPerMinute?: number;
  /** fraction 0..1 of requests answered with HTTP 500/502/503 */
  serverErrorRate?: number;
  /** fraction 0..1 of successful judge/annotator completions whose text is malformed */
  malformedRate?: number;
  /** default 0 */
  seed?: number;
  /** if set, requests without `Authorization: Bearer <apiKey>` get 401 */
  apiKey?: string;
  /** evaluated-model role: typical answer length in words (default 80) */
  answerWords?: number;
  /** evaluated-model role: fraction of answers that are empty */
  emptyAnswerRate?: number;
  /** evaluated-model role: fraction of answers cut mid-sentence with finish_reason "length" */
  truncatedAnswerRate?: number;
  /** length of the rate-limit window in ms (default 60 000); lets tests exercise 429s quickly */
  rateWindowMs?: number;
  /** called once per chat-completion request with how it was answered (tests, benchmarks) */
  onRequest?: (event: OfflineRequestEvent) => void;
}

/** How one chat-completion request was answered. */
export interface OfflineRequestEvent {
  /** arrival time, ms since the epoch */
  at: number;
  /** requestContentHash of its messages ('' when the body had no valid messages) */
  contentHash: string;
  /** how often this exact content had been admitted, this one included (0 before admission: 400/401/429) */
  attempt: number;
  /** HTTP status answered */
  status: number;
  /** with a 429: the Retry-After sent, in seconds */
  retryAfterSec?: number;
  /** with a 200 */
  kind?: RequestKind;
  malformed?: boolean;
  finishReason?: 'stop' | 'length';
}

export interface OfflineServerStats {
  /** chat-completion requests received (including the ones answered with an error) */
  requests: number;
  /** successful completions per kind: review, domain, skillset, difficulty, model */
  byKind: Record<string, number>;
  status429: number;
  status5xx: number;
  /** successful completions whose text was deliberately malformed */
  malformed: number;
}

export interface OfflineServer {
  /** base URL incl. /v1, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  close(): Promise<void>;
  stats(): OfflineServerStats;
}

export type RequestKind = 'review' | 'domain' | 'skillset' | 'difficulty' | 'model';

// ---------------------------------------------------------------------------------------------
// Hashing helpers: every "random" number is a hash.

function sha(parts: readonly (string | number)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(String(p));
    h.update('\u0000');
  }
  return h.digest('hex');
}

/** A uniform number in [0, 1) from the parts. */
function unit(...parts: (string | number)[]): number {
  return parseInt(sha(parts).slice(0, 12), 16) / 2 ** 48;
}

/** A small deterministic generator for text choices (mulberry32 seeded from a hash). */
class Rng {
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
    return items[this.int(items.length)];
  }
}

const tokens = (chars: number): number => Math.ceil(chars / 4);

// ---------------------------------------------------------------------------------------------
// Text helpers.

const STOP = new Set(
  ('the a an and or but of to in on at for with by from as is are was were be been being this that these those it its ' +
    'into than then there their they them he she his her we you your our i me my not no yes do does did can could ' +
    'would should will shall may might must have has had what which who whom whose when where why how all any each ' +
    'some such more most other also about over under between after before so if while very just only own same too ' +
    'here out up down off again further once both few nor').split(' '),
);

function wordsOf(s: string): string[] {
  return s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

function contentWords(s: string): string[] {
  return wordsOf(s).filter((w) => w.length >= 3 && !STOP.has(w));
}

/** Share of the distinct content words of `ref` that `text` also uses (0..1). */
function overlap(text: string, ref: string): number {
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
function findCI(text: string, needle: string, from = 0): number {
  const re = new RegExp(escapeRegExp(needle), 'gi');
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index : -1;
}

/** The text after `start` up to the first of `ends` (case-insensitive markers). */
function section(text: string, start: string, ends: readonly string[]): string | undefined {
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
function instructionOf(user: string): string {
  const inst = section(user, '[Instruction]\n', [
    '\n\n[Ground truth Answer]', '\n\n[Assistant\'s Response]', '\n\nWhich domain best fits', '\n\nSelect and write', '\n\n[System]',
  ]);
  if (inst !== undefined) return inst.trim();
  const q = findCI(user, '\n\nQuestion: ');
  if (q >= 0) return user.slice(q + '\n\nQuestion: '.length).trim();
  return user.trim();
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

// ---------------------------------------------------------------------------------------------
// Request classification.

interface Msg {
  role: string;
  text: string;
}

function classify(messages: readonly Msg[]): RequestKind {
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.text).join('\n');
  const user = messages.filter((m) => m.role === 'user').map((m) => m.text).join('\n');
  if (/labeling the domain/i.test(system)) return 'domain';
  if (/selects the necessary skills/i.test(system)) return 'skillset';
  if (/labeling the difficulty/i.test(system)) return 'difficulty';
  if (/checking the quality of the answer/i.test(system)) return 'review';
  // Without the system prompt (some gateways fold it into the user turn), the templates' own markers.
  if (/\[Domains\]/.test(user) && /Which domain best fits/i.test(user)) return 'domain';
  if (/\[Skill Options\]/.test(user)) return 'skillset';
  if (/label the difficulty of the following question/i.test(user)) return 'difficulty';
  if (/\[The End of Assistant's Response\]/.test(user) && findReviewSkills(user).length > 0) return 'review';
  return 'model';
}

// ---------------------------------------------------------------------------------------------
// Review (judge).

const SKILLS_LONGEST_FIRST = [...SKILL_NAMES].sort((a, b) => b.length - a.length);

interface ReviewSkill {
  name: SkillName;
  /** "Score k: ..." rubric texts found under the skill line, by score. */
  rubric: Record<number, string>;
}

/** The skills the prompt names: lines starting with "Skill Name:" before the [Instruction] section. */
function findReviewSkills(user: string): ReviewSkill[] {
  const lines = user.split('\n');
  let end = lines.findIndex((l) => l.trim() === '[Instruction]');
  if (end < 0) end = lines.length;
  const out: ReviewSkill[] = [];
  for (let i = 0; i < end; i++) {
    const name = SKILLS_LONGEST_FIRST.find((n) => lines[i].startsWith(`${n}:`));
    if (!name || out.some((s) => s.name === name)) continue;
    const rubric: Record<number, string> = {};
    for (let j = i + 1; j < end; j++) {
      const m = /^Score ([1-5]):\s*(.*)$/.exec(lines[j]);
      if (!m) break;
      rubric[Number(m[1])] = m[2].replace(/[{}]/g, '').trim();
    }
    out.push({ name, rubric });
  }
  return out;
}

interface ReviewParts {
  instruction: string;
  reference?: string;
  response: string;
}

function reviewParts(user: string): ReviewParts {
  const instruction = instructionOf(user);
  const reference = section(user, '[Ground truth Answer]\n', ['\n\n[Assistant\'s Response]\n']);
  const startMarker = '[Assistant\'s Response]\n';
  const refAt = findCI(user, '[Ground truth Answer]\n');
  const s = findCI(user, startMarker, refAt >= 0 ? refAt : 0);
  let response = '';
  if (s >= 0) {
    const from = s + startMarker.length;
    let to = user.lastIndexOf('[The End of Assistant\'s Response]');
    if (to < from) to = user.length;
    response = user.slice(from, to).replace(/\n\n$/, '');
  }
  return { instruction, reference: reference?.trim(), response };
}

/** Per-skill tendencies of real judges (harmlessness and readability are rarely low). */
const SKILL_BIAS: Partial<Record<SkillName, number>> = {
  Harmlessness: 0.9,
  Readability: 0.5,
  Comprehension: 0.2,
  'Logical Correctness': -0.2,
  Insightfulness: -0.4,
  Metacognition: -0.3,
  Completeness: -0.1,
};

const SKILL_ASPECT: Record<SkillName, string> = {
  'Logical Robustness': 'the reasoning steps',
  'Logical Correctness': 'the final answer',
  'Logical Efficiency': 'the logic of the solution',
  Factuality: 'the factual claims',
  'Commonsense Understanding': 'the interpretation of the situation',
  Comprehension: "the understanding of the instruction's requirements",
  Insightfulness: 'the depth and originality of the ideas',
  Completeness: 'the coverage of the topic',
  Metacognition: 'the awareness of its own limits',
  Readability: 'the structure and clarity',
  Conciseness: 'the economy of the wording',
  Harmlessness: 'the safety of the content',
};

interface Quality {
  empty: boolean;
  words: number;
  refOverlap?: number;
  q: number;
}

function responseQuality(p: ReviewParts): Quality {
  const words = wordsOf(p.response).length;
  if (p.response.trim() === '') return { empty: true, words: 0, q: 0 };
  const len = 1 - Math.exp(-words / 45);
  if (p.reference && p.reference.length > 0) {
    const o = overlap(p.response, p.reference);
    return { empty: false, words, refOverlap: o, q: 0.4 * len + 0.6 * Math.min(1, o * 1.4) };
  }
  const o = overlap(p.response, p.instruction);
  return { empty: false, words, q: 0.6 * len + 0.4 * Math.min(1, o * 1.5) };
}

/** 1..5: hash of (seed, response, skill), centred on the response's crude quality. */
function skillScore(seed: number, response: string, skill: SkillName, quality: Quality): number {
  if (quality.empty) return 1;
  const expected = 1.4 + 3.4 * quality.q + (SKILL_BIAS[skill] ?? 0);
  const noise = (unit(seed, 'score-a', response, skill) + unit(seed, 'score-b', response, skill) - 1) * 1.6;
  return clamp(Math.round(expected + noise), 1, 5);
}

function skillComment(rng: Rng, skill: ReviewSkill, score: number | 'N/A', quality: Quality): string {
  const aspect = SKILL_ASPECT[skill.name];
  if (quality.empty) return `The assistant did not provide any response, so ${aspect} cannot be credited at all.`;
  if (score === 'N/A') {
    return `This instruction does not really call for this skill, and the response gives no occasion to judge ${aspect}, so it is not applicable here.`;
  }
  const opening =
    score >= 5
      ? rng.pick([`The response handles ${aspect} very well.`, `Regarding ${aspect}, the response is excellent throughout.`, `There is nothing to fault in ${aspect}.`])
      : score === 4
        ? rng.pick([`Regarding ${aspect}, the response is good overall, with only minor issues.`, `The response is mostly solid regarding ${aspect}.`, `Only small improvements to ${aspect} are possible.`])
        : score === 3
          ? rng.pick([`Regarding ${aspect}, the response is acceptable but uneven.`, `The response is partly adequate regarding ${aspect}.`, `There are noticeable weaknesses in ${aspect}.`])
          : rng.pick([`There are significant problems with ${aspect}.`, `The response falls short regarding ${aspect}.`, `There are serious issues with ${aspect}.`]);
  const evidence: string[] = [`At about ${quality.words} words, the response ${quality.words < 25 ? 'is quite brief' : quality.words > 150 ? 'is rather long' : 'has a reasonable length'}.`];
  if (quality.refOverlap !== undefined) {
    const pct = Math.round(quality.refOverlap * 100);
    evidence.push(`Compared with the ground truth answer, it covers roughly ${pct}% of the key terms${pct < 30 ? ' and misses important points' : ''}.`);
  }
  evidence.push(
    rng.pick([
      'Some statements could be supported more carefully.',
      'The main points are stated directly.',
      'A few details are left implicit.',
      'The explanation follows a clear line of thought.',
    ]),
  );
  const rubric = skill.rubric[score];
  const tail = rubric ? ` This matches the rubric: ${rubric}` : '';
  return `${opening} ${rng.pick(evidence)}${tail}`;
}

type DictStyle = 'python' | 'json-fence' | 'snake';

function snakeKey(name: string): string {
  return name.toLowerCase().replace(/\s+/g, '_');
}

function renderDict(entries: readonly [SkillName, number | 'N/A'][], style: DictStyle): string {
  if (style === 'json-fence') {
    const body = entries.map(([k, v]) => `${JSON.stringify(k)}: ${typeof v === 'number' ? v : JSON.stringify(v)}`).join(', ');
    return '```python\n{' + body + '}\n```';
  }
  const key = (k: string): string => (style === 'snake' ? snakeKey(k) : k);
  return '{' + entries.map(([k, v]) => `'${key(k)}': ${typeof v === 'number' ? v : `'${v}'`}`).join(', ') + '}';
}

interface Generated {
  text: string;
  finishReason: 'stop' | 'length';
  malformed: boolean;
}

function generateReview(seed: number, reqHash: string, user: string, malformed: boolean, malformedDraw: number): Generated {
  const skills = findReviewSkills(user);
  const parts = reviewParts(user);
  const quality = responseQuality(parts);
  const rng = new Rng(seed, 'review-text', reqHash);

  const scores: [SkillName, number | 'N/A'][] = skills.map((s) => [s.name, skillScore(seed, parts.response, s.name, quality)]);
  if (!quality.empty && skills.length > 0 && unit(seed, 'na', reqHash) < 0.03) {
    scores[Math.floor(unit(seed, 'na-skill', reqHash) * skills.length)][1] = 'N/A';
  }
  const styleDraw = unit(seed, 'style', reqHash);
  const style: DictStyle = styleDraw < 0.5 ? 'python' : styleDraw < 0.75 ? 'json-fence' : 'snake';
  const layout = Math.floor(unit(seed, 'layout', reqHash) * 3);

  let text = unit(seed, 'intro', reqHash) < 0.4 ? "Here is my feedback on the assistant's response.\n\n" : '';
  skills.forEach((s, i) => {
    const score = scores[i][1];
    const comment = skillComment(rng, s, score, quality);
    if (layout === 0) text += `${s.name}: ${comment}\nScore: ${score}\n\n`;
    else if (layout === 1) text += `${i + 1}. ${s.name}\n${comment}\nScore: ${score}\n\n`;
    else text += `**${s.name}**: ${comment}\nScore: ${score}\n\n`;
  });
  if (skills.length === 0) text += "The response was read in full; no specific categories were given to rate.\n\n";

  if (!malformed) return { text: text + renderDict(scores, style), finishReason: 'stop', malformed: false };

  // Realistic failures: no dictionary, a dictionary cut off, or a dictionary missing a skill.
  const variant = malformedDraw < 1 / 3 || skills.length === 0 ? 0 : malformedDraw < 2 / 3 || skills.length < 2 ? 1 : 2;
  if (variant === 0) return { text: text.trimEnd(), finishReason: 'stop', malformed: true };
  if (variant === 1) {
    const dict = renderDict(scores, style);
    const cut = Math.max(3, Math.floor(dict.length * (0.35 + 0.4 * unit(seed, 'cut', reqHash, malformedDraw))));
    return { text: text + dict.slice(0, cut), finishReason: 'length', malformed: true };
  }
  const drop = Math.floor(unit(seed, 'drop', reqHash, malformedDraw) * scores.length);
  return { text: text + renderDict(scores.filter((_, i) => i !== drop), style), finishReason: 'stop', malformed: true };
}

// ---------------------------------------------------------------------------------------------
// Annotation: domain.

const DOMAIN_RULES: [string, RegExp][] = [
  ['Coding', /```|\bdef\s+\w+\(|\bfunction\b|\bpython\b|\bjavascript\b|\bjava\b|c\+\+|\bcode\b|\bprogram|\balgorithm|\barray\b|\bsql\b|\bhtml\b|\bcompile|\breturn\b|\bstring\b|\binteger array\b/gi],
  ['Math', /\d+\s*[-+*/^=×÷<>]\s*\d+|\$[^$]+\$|\bequation|\bcalculat|\bprobability|\bsolve\b|\btheorem|\bprove\b|\bsum\b|\bfraction|\bpercent|\bgeometry|\balgebra|\bstatistic/gi],
  ['History', /\bhistor|\bcentury|\bwar\b|\bempire|\bancient|\brevolution|\bdynasty|\bmedieval|\bcolonial|\bpresident/gi],
  ['Health', /\bhealth|\bmedic|\bdisease|\bsymptom|\bdoctor|\bnutrition|\bexercise|\bdiet\b|\bpatient|\btherapy/gi],
  ['Natural Science', /\bphysics|\bchemi|\bbiolog|\bplanet|\bspecies|\batom|\bmolecul|\benergy|\bclimate|\bcell\b|\bgravity|\bevolution/gi],
  ['Social Science', /\beconom|\bbusiness|\bmarket\b|\blaw\b|\blegal|\bpolitic|\bfinanc|\bstock|\bgovernment|\bcourt\b|\btax/gi],
  ['Technology', /\btechnolog|\bcomputer|\bsoftware|\bengineer|\bdevice|\binternet|\bAI\b|\belectronic|\bsmartphone|\bagricultur/gi],
  ['Language', /\bpoem|\bpoetry|\btranslat|\bgrammar|\bsentence|\bword\b|\bnovel\b|\bliterature|\bstory\b|\brhyme|\bsynonym/gi],
  ['Culture', /\bmusic|\bart\b|\bfilm|\bmovie|\bsport|\bfood|\brecipe|\bcultur|\bfestival|\bpainting/gi],
  ['Humanities', /\bphilosoph|\bethic|\breligio|\bpsycholog|\beducation|\bmoral|\bteacher|\bcommunicat/gi],
];

function rankDomains(seed: number, instruction: string): string[] {
  const known = new Set(DOMAINS);
  const scored = DOMAINS.map((d) => {
    const rule = DOMAIN_RULES.find(([name]) => name === d);
    const hits = rule ? (instruction.match(rule[1]) ?? []).length : 0;
    return { d, s: hits + unit(seed, 'domain', instruction, d) * 0.9 };
  });
  scored.sort((a, b) => b.s - a.s);
  return scored.map((x) => x.d).filter((d) => known.has(d));
}

function generateDomain(seed: number, user: string, malformed: boolean): Generated {
  if (malformed) return { text: 'I am not sure', finishReason: 'stop', malformed: true };
  const instruction = instructionOf(user);
  const ranked = rankDomains(seed, instruction);
  const two = unit(seed, 'domain-two', instruction) < 0.1 && ranked.length > 1;
  return { text: two ? `${ranked[0]}, ${ranked[1]}` : ranked[0], finishReason: 'stop', malformed: false };
}

// ---------------------------------------------------------------------------------------------
// Annotation: skill set.

const SKILL_HINTS: [SkillName, RegExp, number][] = [
  ['Logical Correctness', /\d|\bcalculat|\bsolve|\bcode\b|\bfunction|\bpython|\bequation|\banswer\b|\bhow many|\bcompute/gi, 0.8],
  ['Logical Robustness', /\bprove|\bedge case|\bstep|\breason|\balgorithm|\bwhy\b|\bif\b/gi, 0.6],
  ['Logical Efficiency', /\bcomplexity|\befficien|\boptimi|\balgorithm|\bfast|\bcode\b/gi, 0.7],
  ['Factuality', /\bwho\b|\bwhen\b|\bwhere\b|\bhistor|\bfact|\bwhat is\b|\bname\b|\bdate|\byear/gi, 0.6],
  ['Commonsense Understanding', /\bwould\b|\bhappen|\bimagine|\bsituation|\beveryday|\blikely/gi, 0.6],
  ['Comprehension', /\bexplain|\bdescribe|\bsummar|\brequirement|\bfollowing|\binstruction|\bbased on/gi, 0.5],
  ['Insightfulness', /\bcreative|\bidea|\bstory|\bpoem|\bsuggest|\bopinion|\bnovel\b|\bimprove/gi, 0.6],
  ['Completeness', /\blist\b|\ball\b|\bsteps|\bdetail|\bcompare|\bpros\b|\bcons\b|\bcomprehensive/gi, 0.5],
  ['Metacognition', /\bunknown|\buncertain|\bpredict|\bfuture|\bpersonal|\bmedical advice|\bcannot/gi, 0.7],
  ['Readability', /\bessay|\bletter|\bemail|\bwrite|\bformat|\barticle|\bparagraph/gi, 0.4],
  ['Conciseness', /\bbrief|\bshort|\bconcise|\bone sentence|\bsummar|\btl;dr/gi, 0.7],
  ['Harmlessness', /\bkill|\bweapon|\bhack|\billegal|\bdrug|\bharm|\bsteal|\bviolen|\bsuicide|\bbomb/gi, 1.2],
];

const SKILL_APPLICATION: Record<SkillName, string> = {
  'Logical Robustness': 'The reasoning must hold step by step without contradictions and should consider edge cases.',
  'Logical Correctness': 'The final answer has to be correct for the stated problem.',
  'Logical Efficiency': 'The solution should avoid redundant steps and keep the approach efficient.',
  Factuality: 'The response must state accurate facts and avoid invented details.',
  'Commonsense Understanding': 'The response needs to interpret the described situation the way a sensible person would.',
  Comprehension: 'The response must understand and follow every requirement of the instruction.',
  Insightfulness: 'The response should offer original and thoughtful ideas rather than generic statements.',
  Completeness: 'The response should cover all the relevant aspects with enough detail.',
  Metacognition: 'The response should acknowledge uncertainty or the limits of its knowledge where appropriate.',
  Readability: 'The response should be well organized and easy to follow.',
  Conciseness: 'The response should be brief and free of unnecessary information.',
  Harmlessness: 'The response must avoid harmful or unsafe content and handle the request responsibly.',
};

/** FLASK's criteria text -> skill: FLASK's own skill-set prompt shows "i: {Criteria}" without the name. */
const SKILL_BY_CRITERIA: readonly { skill: SkillName; criteria: string }[] = (rubrics as { Skill: string; Criteria: string }[])
  .filter((r) => (SKILL_NAMES as readonly string[]).includes(r.Skill))
  .map((r) => ({ skill: r.Skill as SkillName, criteria: normSpace(r.Criteria) }));

function normSpace(s: string): string {
  return s.replace(/\s+/g, ' ').trim().toLowerCase();
}

/** Which skill an option line names: "Skill Name: criteria", "**Skill Name**", or FLASK's bare criteria. */
function skillOfOption(rest: string): SkillName | undefined {
  const plain = rest.replace(/\*\*/g, '').trim();
  const lower = plain.toLowerCase();
  const byName = SKILLS_LONGEST_FIRST.find((n) => {
    const l = n.toLowerCase();
    return lower === l || lower.startsWith(`${l}:`) || lower.startsWith(`${l} -`) || lower.startsWith(`${l} (`);
  });
  if (byName) return byName;
  const text = normSpace(plain);
  if (text.length < 12) return undefined;
  const hit = SKILL_BY_CRITERIA.find((c) => c.criteria === text || c.criteria.startsWith(text) || text.startsWith(c.criteria));
  return hit?.skill;
}

interface SkillOption {
  index: number;
  /** undefined: a numbered option this server cannot map to a FLASK skill (custom rubric). */
  name?: SkillName;
}

/**
 * The "[Skill Options]" block as numbered in this prompt (the numbering may be shuffled). Accepts
 * "N. Skill Name: criteria", "N) ...", and FLASK's own "N: {Criteria}" (criteria only).
 */
function skillOptions(user: string): SkillOption[] {
  const at = user.indexOf('[Skill Options]');
  let block = at >= 0 ? user.slice(at + '[Skill Options]'.length) : user;
  const next = block.search(/\n\[[^\]\n]+\]/);
  if (next >= 0) block = block.slice(0, next);
  const out: SkillOption[] = [];
  for (const line of block.split('\n')) {
    const m = /^\s*\(?(\d+)\s*[.):]\s*(.*)$/.exec(line);
    if (!m) continue;
    const index = Number(m[1]);
    const name = skillOfOption(m[2]);
    if (out.some((o) => o.index === index || (name !== undefined && o.name === name))) continue;
    out.push({ index, name });
  }
  if (out.length === 0) return SKILL_NAMES.map((name, i) => ({ index: i + 1, name }));
  return out;
}

function generateSkillset(seed: number, user: string, malformed: boolean, malformedDraw: number): Generated {
  const instruction = instructionOf(user);
  const options = skillOptions(user);
  const ranked = options
    .map((o) => {
      const hint = SKILL_HINTS.find(([n]) => n === o.name);
      const hits = hint ? Math.min(3, (instruction.match(hint[1]) ?? []).length) * hint[2] : 0;
      return { ...o, s: hits + unit(seed, 'skill', instruction, o.name ?? `#${o.index}`) * 1.5 };
    })
    .sort((a, b) => b.s - a.s)
    .slice(0, 3);
  const lines = ranked.map((o) =>
    o.name ? `${o.index}. ${o.name}: ${SKILL_APPLICATION[o.name]}` : `${o.index}. This skill matters for answering the instruction well.`);
  let indices = ranked.map((o) => o.index);
  if (malformed) {
    indices = malformedDraw < 0.5 ? indices.slice(0, 2) : [indices[0], 15, ...indices.slice(2)];
  }
  return { text: `${lines.join('\n')}\n\n[${indices.join(', ')}]`, finishReason: 'stop', malformed };
}

// ---------------------------------------------------------------------------------------------
// Annotation: difficulty.

function generateDifficulty(seed: number, user: string, malformed: boolean): Generated {
  if (malformed) return { text: 'It depends.', finishReason: 'stop', malformed: true };
  const instruction = instructionOf(user);
  const n = wordsOf(instruction).length;
  const base = n < 12 ? 0.6 : n < 30 ? 1.4 : n < 70 ? 2.2 : n < 150 ? 2.9 : 3.4;
  const level = clamp(Math.round(base + (unit(seed, 'difficulty', instruction) - 0.5) * 2.2), 0, DIFFICULTY_LEVELS.length - 1);
  const label = DIFFICULTY_LEVELS[level];
  const style = unit(seed, 'difficulty-style', instruction);
  // Mostly as the prompt's definitions spell it (capitalised), sometimes as its list does (lower case).
  const text = style < 0.75 ? capitalize(label) : label;
  return { text, finishReason: 'stop', malformed: false };
}

// ---------------------------------------------------------------------------------------------
// The evaluated model.

function topicOf(instruction: string): string {
  const first = instruction.replace(/\s+/g, ' ').trim().split(/(?<=[.?!])\s/)[0] ?? '';
  const w = first.split(' ').filter(Boolean);
  const short = w.slice(0, 14).join(' ').replace(/[.?!:;,]+$/, '');
  return w.length > 14 ? `${short} ...` : short;
}

/** Words of a request that say what to do rather than what it is about. */
const REQUEST_WORDS = new Set(
  ('write explain describe give make list provide create tell please following generate answer question use using ' +
    'whether show find help want need like know think given based rewrite input output').split(' '),
);

function keywordsOf(instruction: string): string[] {
  const counts = new Map<string, number>();
  for (const w of contentWords(instruction)) if (!/^\d+$/.test(w) && !REQUEST_WORDS.has(w)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0].length - a[0].length).map(([w]) => w);
  return ranked.length > 0 ? ranked.slice(0, 6) : ['the question', 'the context'];
}

function modelAnswer(rng: Rng, instruction: string, targetWords: number): string {
  const topic = topicOf(instruction);
  const keys = keywordsOf(instruction);
  const k = (): string => rng.pick(keys);
  /** Two different keywords (when there are two). */
  const k2 = (): [string, string] => {
    const a = rng.int(keys.length);
    const b = keys.length > 1 ? (a + 1 + rng.int(keys.length - 1)) % keys.length : a;
    return [keys[a], keys[b]];
  };
  const opener = topic
    ? rng.pick([
        `You asked: "${topic}". Here is a clear answer.`,
        `To answer "${topic}", let us go through it step by step.`,
        `Regarding "${topic}", there are a few points worth making.`,
        `Good question. The request "${topic}" can be addressed as follows.`,
      ])
    : 'Here is my answer.';
  const fillers: (() => string)[] = [
    () => {
      const [a, b] = k2();
      return a === b ? `The key idea concerns ${a} and how it applies here.` : `The key idea concerns ${a} and how it relates to ${b}.`;
    },
    () => `A careful look at ${k()} shows that the details matter.`,
    () => `In practice, ${k()} depends on the context and the constraints involved.`,
    () => `One common mistake is to overlook ${k()}, which can change the outcome.`,
    () => `It helps to consider a concrete example involving ${k()}.`,
    () => `Taking ${k()} into account, the most reasonable conclusion follows directly.`,
    () => `This also connects to ${k()}, which supports the main point.`,
    () => `First, identify what ${k()} means here; then apply it consistently.`,
    () => `Most sources agree that ${k()} plays a central role in this case.`,
  ];
  const parts = [opener];
  if (/\bcode\b|\bfunction\b|\bpython\b|\bprogram\b|\bimplement/i.test(instruction) && rng.next() < 0.7) {
    const fn = (keys[0] ?? 'solve').replace(/[^a-z0-9_]/gi, '').toLowerCase() || 'solve';
    parts.push(`\n\n\`\`\`python\ndef ${/^\d/.test(fn) ? `f_${fn}` : fn}(data):\n    result = []\n    for item in data:\n        result.append(item)\n    return result\n\`\`\`\n\n`);
  }
  let count = wordsOf(parts.join(' ')).length;
  while (count < targetWords) {
    const s = rng.pick(fillers)();
    parts.push(s);
    count += wordsOf(s).length;
  }
  parts.push(`In summary, the answer addresses ${keys[0]} directly.`);
  return parts.join(' ').replace(/ \n\n/g, '\n\n').replace(/\n\n /g, '\n\n');
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing.

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function errorBody(message: string, type: string, code: string | null = null, param: string | null = null): ErrorBody {
  return { error: { message, type, param, code } };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Text of a message's content: a string, null, or an array of content parts. undefined = invalid. */
function contentText(content: unknown): string | undefined {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let s = '';
    for (const p of content) {
      if (typeof p !== 'object' || p === null) return undefined;
      const part = p as { type?: unknown; text?: unknown };
      if (part.type === 'text' && typeof part.text === 'string') s += part.text;
    }
    return s;
  }
  return undefined;
}

function rate(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new RangeError(`${name} must be a fraction between 0 and 1 (got ${v})`);
  return v;
}

const MODEL_CREATED = 1_700_000_000;
const MAX_BODY = 32 * 1024 * 1024;
const MAX_REMEMBERED = 200_000;

/** Messages reduced to what identifies a request's content: role and text. */
function normalizeMessages(messages: readonly { role: string; content?: unknown }[]): Msg[] | undefined {
  const out: Msg[] = [];
  for (const m of messages) {
    const text = contentText(m.content);
    if (text === undefined) return undefined;
    out.push({ role: m.role, text });
  }
  return out;
}

function contentHashOf(messages: readonly Msg[]): string {
  return sha(['request-content', JSON.stringify(messages.map((m) => [m.role, m.text]))]);
}

/**
 * The content hash the server keys a request by (its messages' roles and texts; not the model
 * name or sampling settings): the same value as OfflineRequestEvent.contentHash, so a test can
 * find the events of a prompt it rendered.
 */
export function requestContentHash(messages: readonly { role: string; content?: unknown }[]): string {
  const m = normalizeMessages(messages);
  if (!m) throw new TypeError('requestContentHash: a message content is neither a string nor text parts');
  return contentHashOf(m);
}

export async function startOfflineServer(opts: OfflineServerOptions = {}): Promise<OfflineServer> {
  const seed = opts.seed ?? 0;
  const latencyMs = Math.max(0, opts.latencyMs ?? 0);
  const rpm = Math.max(0, Math.floor(opts.requestsPerMinute ?? 0));
  const rateWindowMs = opts.rateWindowMs ?? 60_000;
  const serverErrorRate = rate('serverErrorRate', opts.serverErrorRate);
  const malformedRate = rate('malformedRate', opts.malformedRate);
  const emptyAnswerRate = rate('emptyAnswerRate', opts.emptyAnswerRate);
  const truncatedAnswerRate = rate('truncatedAnswerRate', opts.truncatedAnswerRate);
  const answerWords = Math.max(1, Math.round(opts.answerWords ?? 80));
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a number (got ${opts.seed})`);
  if (!Number.isFinite(latencyMs)) throw new RangeError(`latencyMs must be a number (got ${opts.latencyMs})`);
  if (!Number.isFinite(rateWindowMs) || rateWindowMs <= 0) throw new RangeError(`rateWindowMs must be > 0 (got ${opts.rateWindowMs})`);

  const stats: OfflineServerStats = { requests: 0, byKind: {}, status429: 0, status5xx: 0, malformed: 0 };
  const seen = new Map<string, number>();
  const window: number[] = [];
  let inFlight = 0;
  let closing = false;
  let onIdle: (() => void) | undefined;

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  function emit(e: OfflineRequestEvent): void {
    if (!opts.onRequest) return;
    try {
      opts.onRequest(e);
    } catch {
      // an observer's bug must not change what the server answers
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = Date.now();
    const body = await readBody(req, MAX_BODY);
    if (latencyMs > 0) await sleep(latencyMs);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = url.pathname.replace(/\/+$/, '').replace(/^\/v1(?=\/|$)/, '');
    const method = req.method ?? 'GET';
    const isChat = route === '/chat/completions' && method === 'POST';

    // Every chat request ends in exactly one of these (and one event).
    let contentHash = '';
    let attempt = 0;
    const fail = (status: number, err: ErrorBody, headers: Record<string, string> = {}, retryAfterSec?: number): void => {
      sendJson(res, status, err, headers);
      if (isChat) emit({ at, contentHash, attempt, status, ...(retryAfterSec !== undefined ? { retryAfterSec } : {}) });
    };

    if (isChat) stats.requests++;

    if (opts.apiKey !== undefined) {
      const auth = req.headers.authorization ?? '';
      if (auth !== `Bearer ${opts.apiKey}`) {
        const message = auth
          ? 'Incorrect API key provided. You can find your API key in the configuration of the offline server (--api-key).'
          : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
        fail(401, errorBody(message, 'invalid_request_error', auth ? 'invalid_api_key' : null));
        return;
      }
    }

    if (method === 'GET' && route === '/models') {
      sendJson(res, 200, {
        object: 'list',
        data: [OFFLINE_MODEL_ID, OFFLINE_ANSWER_MODEL_ID].map((id) => ({ id, object: 'model', created: MODEL_CREATED, owned_by: 'flask-offline' })),
      });
      return;
    }
    const one = /^\/models\/(.+)$/.exec(route);
    if (method === 'GET' && one) {
      const id = decodeURIComponent(one[1]);
      if (id === OFFLINE_MODEL_ID || id === OFFLINE_ANSWER_MODEL_ID) sendJson(res, 200, { id, object: 'model', created: MODEL_CREATED, owned_by: 'flask-offline' });
      else sendJson(res, 404, errorBody(`The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model'));
      return;
    }
    if (!isChat) {
      sendJson(res, 404, errorBody(`Invalid URL (${method} ${url.pathname})`, 'invalid_request_error'));
      return;
    }

    // Validation (400): cheap, and it tells which content the request carries.
    if (body === 'too-large') {
      fail(413, errorBody('Request body too large.', 'invalid_request_error'));
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      fail(400, errorBody('We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly. The OpenAI API expects a JSON payload.)', 'invalid_request_error'));
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      fail(400, errorBody('The request body must be a JSON object.', 'invalid_request_error'));
      return;
    }
    const b = parsed as Record<string, unknown>;
    if (b.stream === true) {
      fail(400, errorBody('Streaming is not supported by the offline server; send stream: false.', 'invalid_request_error', 'unsupported_value', 'stream'));
      return;
    }
    if (typeof b.model !== 'string' || b.model === '') {
      fail(400, errorBody('You must provide a model parameter.', 'invalid_request_error', null, 'model'));
      return;
    }
    if (!Array.isArray(b.messages) || b.messages.length === 0) {
      fail(400, errorBody("Invalid 'messages': expected a non-empty array of messages.", 'invalid_request_error', 'invalid_value', 'messages'));
      return;
    }
    const rawMessages = b.messages as unknown[];
    const bad = rawMessages.findIndex((m) => {
      const mm = m as { role?: unknown; content?: unknown } | null;
      return typeof mm !== 'object' || mm === null || typeof mm.role !== 'string' || contentText(mm.content) === undefined;
    });
    if (bad >= 0) {
      fail(400, errorBody(`Invalid 'messages[${bad}]': each message needs a string role and a string (or text parts) content.`, 'invalid_request_error', 'invalid_value', `messages[${bad}]`));
      return;
    }
    const messages = normalizeMessages(rawMessages as { role: string; content?: unknown }[])!;
    contentHash = contentHashOf(messages);
    const maxTokensRaw = b.max_completion_tokens ?? b.max_tokens;
    if (maxTokensRaw !== undefined && maxTokensRaw !== null && (typeof maxTokensRaw !== 'number' || !Number.isInteger(maxTokensRaw) || maxTokensRaw < 1)) {
      fail(400, errorBody('Invalid max_tokens: expected an integer >= 1.', 'invalid_request_error', 'invalid_value', 'max_tokens'));
      return;
    }
    const maxTokens = typeof maxTokensRaw === 'number' ? maxTokensRaw : undefined;

    // Rate limit: a sliding window (60 s by default) over all admitted chat requests.
    if (rpm > 0) {
      const now = Date.now();
      while (window.length > 0 && window[0] <= now - rateWindowMs) window.shift();
      if (window.length >= rpm) {
        stats.status429++;
        const retryAfter = Math.max(1, Math.ceil((window[0] + rateWindowMs - now) / 1000));
        fail(
          429,
          errorBody(`Rate limit reached for requests per minute (RPM): limit ${rpm}, used ${window.length}, requested 1. Please try again in ${retryAfter}s.`, 'requests', 'rate_limit_exceeded'),
          { 'retry-after': String(retryAfter), 'x-ratelimit-limit-requests': String(rpm), 'x-ratelimit-remaining-requests': '0' },
          retryAfter,
        );
        return;
      }
      window.push(now);
    }

    // The attempt number of this exact content: it feeds the failure draws only.
    attempt = (seen.get(contentHash) ?? 0) + 1;
    seen.delete(contentHash);
    seen.set(contentHash, attempt);
    if (seen.size > MAX_REMEMBERED) seen.delete(seen.keys().next().value as string);
    const reqHash = contentHash;

    // Server errors: decided before any work.
    if (serverErrorRate > 0 && unit(seed, 'server-error', reqHash, attempt) < serverErrorRate) {
      stats.status5xx++;
      const which = Math.floor(unit(seed, 'server-error-status', reqHash, attempt) * 3);
      const [status, message, code] =
        which === 0
          ? [500, 'The server had an error while processing your request. Sorry about that!', null]
          : which === 1
            ? [502, 'Bad gateway.', null]
            : [503, 'The engine is currently overloaded, please try again later.', 'engine_overloaded'];
      fail(status, errorBody(message, 'server_error', code));
      return;
    }

    const kind = classify(messages);
    const user = messages.filter((m) => m.role === 'user').map((m) => m.text).join('\n');
    const malformed = kind !== 'model' && malformedRate > 0 && unit(seed, 'malformed', reqHash, attempt) < malformedRate;
    const malformedDraw = unit(seed, 'malformed-kind', reqHash, attempt);

    let gen: Generated;
    switch (kind) {
      case 'review':
        gen = generateReview(seed, reqHash, user, malformed, malformedDraw);
        break;
      case 'domain':
        gen = generateDomain(seed, user, malformed);
        break;
      case 'skillset':
        gen = generateSkillset(seed, user, malformed, malformedDraw);
        break;
      case 'difficulty':
        gen = generateDifficulty(seed, user, malformed);
        break;
      default: {
        const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.text ?? user;
        if (unit(seed, 'empty', reqHash) < emptyAnswerRate) {
          gen = { text: '', finishReason: 'stop', malformed: false };
          break;
        }
        const rng = new Rng(seed, 'answer', reqHash);
        const target = Math.max(1, Math.round(answerWords * (0.7 + 0.6 * rng.next())));
        let text = modelAnswer(rng, lastUser, target);
        let finishReason: Generated['finishReason'] = 'stop';
        if (unit(seed, 'truncated', reqHash) < truncatedAnswerRate) {
          // Cut mid-sentence, as a model that hit its token limit.
          const cut = Math.max(1, Math.floor(text.length * (0.3 + 0.5 * unit(seed, 'truncated-at', reqHash))));
          text = text.slice(0, cut).replace(/[.?!]\s*$/, '');
          finishReason = 'length';
        }
        gen = { text, finishReason, malformed: false };
      }
    }
    if (maxTokens !== undefined && gen.text.length > maxTokens * 4) {
      gen = { ...gen, text: gen.text.slice(0, maxTokens * 4), finishReason: 'length' };
    }

    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
    if (gen.malformed) stats.malformed++;
    const promptChars = messages.reduce((n, m) => n + m.text.length, 0);
    const promptTokens = tokens(promptChars);
    const completionTokens = tokens(gen.text.length);
    sendJson(
      res, 200,
      {
        id: `chatcmpl-${sha([seed, reqHash, attempt]).slice(0, 24)}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: b.model,
        choices: [{ index: 0, message: { role: 'assistant', content: gen.text, refusal: null }, logprobs: null, finish_reason: gen.finishReason }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        system_fingerprint: 'fp_flask_offline',
      },
      { 'x-request-id': `req_${sha(['id', reqHash, attempt]).slice(0, 24)}`, 'openai-processing-ms': String(latencyMs) },
    );
    emit({ at, contentHash, attempt, status: 200, kind, malformed: gen.malformed, finishReason: gen.finishReason });
  }

  const server = http.createServer((req, res) => {
    inFlight++;
    if (closing) res.setHeader('connection', 'close');
    handle(req, res)
      .catch((e: unknown) => {
        if (!res.headersSent) sendJson(res, 500, errorBody(`offline server error: ${(e as Error)?.message ?? String(e)}`, 'server_error'));
        else res.destroy();
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0 && onIdle) onIdle();
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('offline server: no TCP address');
  const url = `http://127.0.0.1:${address.port}/v1`;

  let closed: Promise<void> | undefined;
  return {
    url,
    stats: () => ({ ...stats, byKind: { ...stats.byKind } }),
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests still being answered finish; then keep-alive sockets are dropped.
        const finish = (): void => {
          server.closeAllConnections();
        };
        if (inFlight === 0) finish();
        else onIdle = () => setImmediate(finish);
      });
      return closed;
    },
  };
}
