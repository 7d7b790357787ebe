/**
 * A judge profile: how one judge model is asked to score an instance's skills, as data plus pure
 * functions (no I/O per call), so that the pipeline can render, call and parse without knowing
 * which judge it talks to. The profile's name is recorded with every score.
 */
import type { ChatMessage } from '../prompts/chat.js';
import type { EvalInstance } from '../flask/dataset.js';
import type { SkillName } from '../flask/skills.js';
import type { SkillScore } from '../scoring/parseSkillScores.js';

export const JUDGE_PROFILE_NAMES = ['flask', 'prometheus'] as const;
export type JudgeProfileName = (typeof JUDGE_PROFILE_NAMES)[number];

/** What a judge needs of an instance: the instruction, the reference answer and the skills to score. */
export type JudgedInstance = Pick<EvalInstance, 'instruction' | 'answer' | 'skills'>;

/** Parsed judge output: the scores of the call's skills (and the feedback text), or why not. */
export type JudgeParse =
  | { ok: true; scores: Partial<Record<SkillName, SkillScore>>; feedback?: string }
  | { ok: false; reason: string };

/** Sampling settings a profile sends. Extra fields are non-OpenAI extensions (vLLM), sent only if the endpoint takes them. */
interface JudgeSampling {
  temperature: number;
  maxTokens: number;
  topP?: number;
  /** vLLM's repetition_penalty; OpenAI rejects unknown body fields, so it is opt-in. */
  repetitionPenalty?: number;
}

export interface JudgeProfile {
  name: JudgeProfileName;
  /** sha256 of the prompt texts and rubrics the profile renders with: recorded with a run. */
  hash: string;
  sampling: JudgeSampling;
  /** How many judge calls one instance needs (flask: 1; prometheus: one per skill). */
  callsPerInstance(skills: readonly SkillName[]): number;
  /** The skills each call scores, in call order (flask: [skills]; prometheus: [[s1], [s2], [s3]]). */
  callSkills(skills: readonly SkillName[]): SkillName[][];
  /**
   * The messages of one call. `skill` picks the call of a per-skill profile (required by
   * prometheus, ignored by flask, whose single call scores all the instance's skills).
   */
  render(instance: JudgedInstance, responseText: string, skill?: SkillName): ChatMessage[];
  /** The template an instance is judged with, as recorded per review (flask: with or without the reference). */
  templateName(instance: Pick<EvalInstance, 'answer'>): string;
  /** The scores of one call's output: `skills` (flask) or the one `skill` (prometheus). */
  parse(text: string, skills: readonly SkillName[] | SkillName): JudgeParse;
}

/**
 * One instance's verdict from its calls' parses, in call order: all the scores when every call
 * parsed (feedback joined, one paragraph a call), else the first failure (its reason names the
 * skill for per-skill profiles). For flask, the single parse as it is.
 */
export function combineParses(parses: readonly JudgeParse[]): JudgeParse {
  if (parses.length === 0) return { ok: false, reason: 'no judge call was made' };
  if (parses.length === 1) return parses[0]!;
  const failed = parses.find((p): p is Extract<JudgeParse, { ok: false }> => !p.ok);
  if (failed) return failed;
  const ok = parses as Extract<JudgeParse, { ok: true }>[];
  const feedback = ok.map((p) => p.feedback ?? '').filter((f) => f !== '').join('\n\n');
  return { ok: true, scores: Object.assign({}, ...ok.map((p) => p.scores)), ...(feedback ? { feedback } : {}) };
}
