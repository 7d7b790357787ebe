/**
 * The Prometheus judge role of the offline server: answers Prometheus 2's absolute-grading prompt
 * (core/judges/prometheusTemplates.ts) with "(feedback) [RESULT] n" for the one skill whose FLASK
 * rubric it carries. SIMULATED: the score is a hash centred on the same crude quality signals as
 * the offline FLASK judge (length, overlap with the reference answer), with its own noise, so the
 * two offline judges agree often but not always (their agreement shows the pipeline, not a judge).
 * Malformed outputs (malformedRate) are the failures a real Prometheus produces: no marker, a
 * "Score: n" instead, the template echoed, an out-of-range score, or feedback cut at max_tokens.
 */
import { loadRubrics } from '../core/flask/rubrics.js';
import { DATA_FILES } from '../core/paths.js';
import type { SkillName } from '../core/flask/skills.js';
import type { Generated } from './generated.js';
import type { Msg } from './message.js';
import { Rng, unit } from './random.js';
import { clamp, overlap, wordsOf } from './text.js';

const SYSTEM_MARK = 'fair judge assistant tasked with providing clear, objective feedback';
const INSTRUCTION = '###The instruction to evaluate:\n';
const RESPONSE = '\n\n###Response to evaluate:\n';
const REFERENCE = '\n\n###Reference Answer (Score 5):\n';
const RUBRIC = '\n\n###Score Rubrics:\n';
const FEEDBACK = '\n\n###Feedback:';

/** A Prometheus absolute-grading request (system prompt, or the template's markers in the user turn). */
export function isPrometheusRequest(messages: readonly Msg[]): boolean {
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.text).join('\n');
  const user = messages.filter((m) => m.role === 'user').map((m) => m.text).join('\n');
  return system.includes(SYSTEM_MARK) || (user.includes('###Task Description:') && user.includes('###Score Rubrics:') && user.includes('[RESULT]'));
}

interface GradeParts {
  instruction: string;
  response: string;
  reference?: string;
  criteria: string;
  skill?: SkillName;
}

let criteriaIndex: Map<string, SkillName> | undefined;
function skillOfCriteria(criteria: string): SkillName | undefined {
  criteriaIndex ??= new Map(loadRubrics(DATA_FILES.rubrics).map((r) => [r.Criteria.trim(), r.Skill as SkillName]));
  return criteriaIndex.get(criteria.trim());
}

function between(text: string, start: string, end: string): string | undefined {
  const i = text.indexOf(start);
  if (i < 0) return undefined;
  const from = i + start.length;
  const j = text.lastIndexOf(end);
  return j >= from ? text.slice(from, j) : text.slice(from);
}

export function gradeParts(user: string): GradeParts {
  const instruction = between(user, INSTRUCTION, RESPONSE) ?? '';
  const hasRef = user.includes(REFERENCE);
  const response = between(user, RESPONSE, hasRef ? REFERENCE : RUBRIC) ?? '';
  const reference = hasRef ? between(user, REFERENCE, RUBRIC) : undefined;
  const rubric = between(user, RUBRIC, FEEDBACK) ?? '';
  const criteria = /^\[([\s\S]*?)\]\s*\nScore 1:/.exec(rubric)?.[1] ?? '';
  return { instruction, response, ...(reference !== undefined ? { reference } : {}), criteria, skill: skillOfCriteria(criteria) };
}

function quality(p: GradeParts): { q: number; words: number; refOverlap?: number } {
  const words = wordsOf(p.response).length;
  if (words === 0) return { q: 0, words };
  const len = 1 - Math.exp(-words / 45);
  if (p.reference) {
    const o = overlap(p.response, p.reference);
    return { q: 0.4 * len + 0.6 * Math.min(1, o * 1.4), words, refOverlap: o };
  }
  return { q: 0.6 * len + 0.4 * Math.min(1, overlap(p.response, p.instruction) * 1.5), words };
}

/** 1..5 for (response, criteria): own noise keys, so it differs from the offline FLASK judge now and then. */
function prometheusScore(seed: number, p: GradeParts): number {
  const { q, words } = quality(p);
  if (words === 0) return 1;
  const noise = (unit(seed, 'prometheus-a', p.response, p.criteria) + unit(seed, 'prometheus-b', p.response, p.criteria) - 1) * 1.8;
  return clamp(Math.round(1.4 + 3.4 * q + noise), 1, 5);
}

export function generatePrometheusGrade(seed: number, reqHash: string, user: string, malformed: boolean, malformedDraw: number): Generated {
  const p = gradeParts(user);
  const score = prometheusScore(seed, p);
  const { words, refOverlap } = quality(p);
  const rng = new Rng(seed, 'prometheus-text', reqHash);
  const what = p.skill ? p.skill.toLowerCase() : 'the given criteria';
  const lines = [
    words === 0
      ? 'The response is empty, so it cannot satisfy any part of the score rubric.'
      : rng.pick([`The response addresses the instruction with respect to ${what}.`, `Judged strictly on ${what}, the response has clear strengths and weaknesses.`, `Regarding ${what}, the response is ${score >= 4 ? 'strong' : score === 3 ? 'adequate' : 'weak'}.`]),
    refOverlap !== undefined ? `Compared with the reference answer, it covers about ${Math.round(refOverlap * 100)}% of its key terms${refOverlap < 0.3 ? ', missing important points' : ''}.` : '',
    `At about ${words} words, it ${words < 25 ? 'is brief' : words > 150 ? 'is long' : 'has a reasonable length'}.`,
    `Therefore, according to the rubric, it deserves a score of ${score}.`,
  ].filter(Boolean);
  const feedback = lines.join(' ');
  if (!malformed) return { text: `${feedback} [RESULT] ${score}`, finishReason: 'stop', malformed: false };
  const variant = Math.floor(malformedDraw * 5);
  if (variant === 0) return { text: feedback, finishReason: 'stop', malformed: true }; // no marker at all
  if (variant === 1) return { text: `${feedback}\nScore: ${score}`, finishReason: 'stop', malformed: true };
  if (variant === 2) return { text: `${feedback} [RESULT] (an integer number between 1 and 5)`, finishReason: 'stop', malformed: true };
  if (variant === 3) return { text: `${feedback} [RESULT] ${score + 5}`, finishReason: 'stop', malformed: true };
  return { text: feedback.slice(0, Math.max(10, Math.floor(feedback.length * 0.6))), finishReason: 'length', malformed: true };
}
