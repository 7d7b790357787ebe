/**
 * The FLASK judge role: feedback per skill, "Score: N" lines and a skill dictionary, in several
 * styles. The scores are SIMULATED: a hash centred on crude quality signals of the response.
 */
import type { SkillName } from '../core/flask/skills.js';
import type { Generated } from './generated.js';
import { Rng, unit } from './random.js';
import { clamp, findCI, instructionOf, overlap, section, SKILLS_LONGEST_FIRST, wordsOf } from './text.js';

interface ReviewSkill {
  name: SkillName;
  /** "Score k: ..." rubric texts found under the skill line, by score. */
  rubric: Record<number, string>;
}

/** The skills the prompt names: lines starting with "Skill Name:" before the [Instruction] section. */
export function findReviewSkills(user: string): ReviewSkill[] {
  const lines = user.split('\n');
  let end = lines.findIndex((l) => l.trim() === '[Instruction]');
  if (end < 0) end = lines.length;
  const out: ReviewSkill[] = [];
  for (let i = 0; i < end; i++) {
    const name = SKILLS_LONGEST_FIRST.find((n) => lines[i]!.startsWith(`${n}:`));
    if (!name || out.some((s) => s.name === name)) continue;
    const rubric: Record<number, string> = {};
    for (let j = i + 1; j < end; j++) {
      const m = /^Score ([1-5]):\s*(.*)$/.exec(lines[j]!);
      if (!m) break;
      rubric[Number(m[1])] = m[2]!.replace(/[{}]/g, '').trim();
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

/**
 * A SIMULATED judge's planted flaws, with known sizes, so that the reliability and bias probes can
 * be checked against what was planted. Off (all 0) by default: the judge is then deterministic.
 * The score before rounding is the judge's usual one plus these terms; it is then rounded and
 * clamped to 1..5 (which shrinks large effects near the ends of the scale).
 */
export interface SimulatedJudgeBias {
  /** SD of a normal draw per call and skill (a fresh draw each time the same request is sent): the judge's own noise */
  sampleSd?: number;
  /** score shift per 100 words of the response, counted from 150 words (a length-biased judge) */
  lengthPer100Words?: number;
  /** score shift of the skill listed 1st, 2nd, 3rd, ... in the prompt (an order-sensitive judge) */
  positionShift?: readonly number[];
}

/** Words the length bias is counted from. */
const LENGTH_BIAS_ORIGIN_WORDS = 150;

/** A standard normal draw from two hashed uniforms (Box-Muller). */
function normal(...parts: (string | number)[]): number {
  const u = Math.max(unit(...parts, 'n1'), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * unit(...parts, 'n2'));
}

/** 1..5: hash of (seed, response, skill), centred on the response's crude quality, plus any planted bias. */
function skillScore(seed: number, response: string, skill: SkillName, quality: Quality, bias: SimulatedJudgeBias = {}, position = 0, draw: (string | number)[] = []): number {
  if (quality.empty) return 1;
  const expected = 1.4 + 3.4 * quality.q + (SKILL_BIAS[skill] ?? 0);
  const noise = (unit(seed, 'score-a', response, skill) + unit(seed, 'score-b', response, skill) - 1) * 1.6;
  const planted = (bias.sampleSd ? bias.sampleSd * normal(seed, 'sample-noise', skill, ...draw) : 0)
    + (bias.lengthPer100Words ? (bias.lengthPer100Words * (quality.words - LENGTH_BIAS_ORIGIN_WORDS)) / 100 : 0)
    + (bias.positionShift?.[position] ?? 0);
  return clamp(Math.round(expected + noise + planted), 1, 5);
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

export function generateReview(seed: number, reqHash: string, user: string, malformed: boolean, malformedDraw: number, bias: SimulatedJudgeBias = {}, attempt = 1): Generated {
  const skills = findReviewSkills(user);
  const parts = reviewParts(user);
  const quality = responseQuality(parts);
  const rng = new Rng(seed, 'review-text', reqHash);

  const scores: [SkillName, number | 'N/A'][] = skills.map((s, i) => [s.name, skillScore(seed, parts.response, s.name, quality, bias, i, [reqHash, attempt])]);
  if (!quality.empty && skills.length > 0 && unit(seed, 'na', reqHash) < 0.03) {
    scores[Math.floor(unit(seed, 'na-skill', reqHash) * skills.length)]![1] = 'N/A';
  }
  const styleDraw = unit(seed, 'style', reqHash);
  const style: DictStyle = styleDraw < 0.5 ? 'python' : styleDraw < 0.75 ? 'json-fence' : 'snake';
  const layout = Math.floor(unit(seed, 'layout', reqHash) * 3);

  let text = unit(seed, 'intro', reqHash) < 0.4 ? "Here is my feedback on the assistant's response.\n\n" : '';
  skills.forEach((s, i) => {
    const score = scores[i]![1];
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
