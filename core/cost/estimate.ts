/**
 * What a run will cost before it starts (FLASK issue #4): the calls it makes, the prompt tokens
 * (every prompt rendered exactly as it will be sent and counted with the model's BPE, see
 * core/cost/tokens.ts), the completion tokens (max_tokens per call is the upper bound; a typical
 * figure only where one was measured) and the money per the price table (core/cost/pricing.ts).
 *
 * Not counted: re-asks after an unparseable judge output (at most parseAttempts - 1 more calls
 * for an instance, usually none), retries of failed calls, and instances already landed in a
 * resumed run. The offline server's usage counts ~4 characters a token; see docs/judges.md for
 * the measured gap.
 */
import type { ChatMessage } from '../prompts/chat.js';
import type { EvalInstance } from '../flask/dataset.js';
import type { JudgeProfile, JudgeProfileName } from '../judges/profile.js';
import { renderDifficultyPrompt, renderDomainPrompt, renderSkillsetPrompt, skillNumbering, type AnnotationStage } from '../prompts/annotation.js';
import { costOf, type PriceTable } from './pricing.js';
import { pricesAtEndpoint } from './endpointPrices.js';
import { countChat, tokenCounter, tokenizerFor, type TokenCounter, type TokenizerChoice } from './tokens.js';

export type EstimateStage = 'generate' | 'review' | AnnotationStage;

/** One call a run will make: its messages (as sent) and its max_tokens. */
export interface PlannedCall {
  messages: ChatMessage[];
  maxTokens: number;
  /**
   * Prompt tokens not in `messages` yet: in `eval` the answer a review quotes does not exist
   * before the run; its tokens are added here (upper: the answer's max_tokens; typical: measured).
   */
  pending?: { upper: number; typical: number | undefined };
}

interface Range {
  /** the bound: prompt tokens as rendered (+ pending upper), completion tokens at max_tokens */
  upper: number;
  /** what a run typically uses, when known; undefined = not measured */
  typical: number | undefined;
}

interface Money {
  upper: number | undefined;
  typical: number | undefined;
  batchUpper: number | undefined;
  batchTypical: number | undefined;
}

export interface StageEstimate {
  stage: EstimateStage;
  model: string;
  profile?: JudgeProfileName;
  instances: number;
  calls: number;
  tokenizer: TokenizerChoice;
  promptTokens: Range;
  completionTokens: Range;
  cost: Money;
  notes: string[];
  /** the endpoint's host when it is not OpenAI's API (priced only from --prices FILE) */
  endpointHost?: string;
}

export interface RunEstimate {
  stages: StageEstimate[];
  calls: number;
  promptTokens: Range;
  completionTokens: Range;
  cost: Money;
}

/** Typical completion lengths we could measure, in tokens per call, by stage (callers pass them). */
export interface Typical {
  completionTokensPerCall?: number;
  source?: string;
}

const sumOrUndefined = (xs: (number | undefined)[]): number | undefined => (xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((s, x) => s + x!, 0));

/** Count the planned calls of one stage and price them. */
export async function estimateStage(
  stage: EstimateStage,
  model: string,
  instances: number,
  calls: readonly PlannedCall[],
  prices: PriceTable,
  opts: { profile?: JudgeProfileName; typical?: Typical; counter?: TokenCounter; notes?: string[]; baseURL?: string } = {},
): Promise<StageEstimate> {
  const at = pricesAtEndpoint(model, opts.baseURL, prices);
  prices = at.table;
  const tokenizer = tokenizerFor(model);
  const counter = opts.counter ?? (await tokenCounter(tokenizer.encoding));
  let prompt = 0, pendingUpper = 0, maxCompletion = 0;
  let pendingTypical: number | undefined = 0;
  for (const c of calls) {
    prompt += countChat(counter, c.messages);
    maxCompletion += c.maxTokens;
    if (c.pending) {
      pendingUpper += c.pending.upper;
      pendingTypical = pendingTypical === undefined || c.pending.typical === undefined ? undefined : pendingTypical + c.pending.typical;
    }
  }
  const per = opts.typical?.completionTokensPerCall;
  const promptTokens: Range = { upper: prompt + pendingUpper, typical: pendingTypical === undefined ? undefined : prompt + pendingTypical };
  const completionTokens: Range = { upper: maxCompletion, typical: per === undefined ? undefined : Math.round(per * calls.length) };
  const notes = [...(opts.notes ?? [])];
  if (!tokenizer.exact) notes.push(`${model} is not an OpenAI model: tokens counted with ${tokenizer.encoding} (its own tokenizer may count 10-20% more or fewer)`);
  if (per !== undefined && opts.typical?.source) notes.push(`typical completion: ${opts.typical.source}`);
  if (at.note) notes.push(at.note);
  return { stage, model, ...(opts.profile ? { profile: opts.profile } : {}), ...(at.host ? { endpointHost: at.host } : {}), instances, calls: calls.length, tokenizer, promptTokens, completionTokens, cost: price(model, promptTokens, completionTokens, prices), notes };
}

function price(model: string, p: Range, c: Range, prices: PriceTable): Money {
  const at = (pt: number | undefined, ct: number | undefined, batch: boolean) => (pt === undefined || ct === undefined ? undefined : costOf(model, pt, ct, { table: prices, batch }));
  // typical cost: typical prompt (or the exact one) with the typical completion when known
  const pTyp = p.typical;
  return { upper: at(p.upper, c.upper, false), typical: at(pTyp, c.typical, false), batchUpper: at(p.upper, c.upper, true), batchTypical: at(pTyp, c.typical, true) };
}

/** The sum of the stages. */
export function totalEstimate(stages: StageEstimate[]): RunEstimate {
  const add = (f: (s: StageEstimate) => number | undefined) => sumOrUndefined(stages.map(f));
  return {
    stages,
    calls: stages.reduce((s, x) => s + x.calls, 0),
    promptTokens: { upper: add((s) => s.promptTokens.upper)!, typical: add((s) => s.promptTokens.typical) },
    completionTokens: { upper: add((s) => s.completionTokens.upper)!, typical: add((s) => s.completionTokens.typical) },
    cost: { upper: add((s) => s.cost.upper), typical: add((s) => s.cost.typical), batchUpper: add((s) => s.cost.batchUpper), batchTypical: add((s) => s.cost.batchTypical) },
  };
}

// ---------------------------------------------------------------------------------------------
// The calls of each kind of run, rendered as the pipeline renders them.

/** Review: every judge call of every instance with a response (the profile decides how many). */
export function planReview(instances: readonly EvalInstance[], responses: ReadonlyMap<number, string>, profile: JudgeProfile): PlannedCall[] {
  const calls: PlannedCall[] = [];
  for (const i of instances) {
    const text = responses.get(i.idx);
    if (text === undefined) continue;
    for (const skills of profile.callSkills(i.skills)) calls.push({ messages: profile.render(i, text, skills.length === 1 ? skills[0] : undefined), maxTokens: profile.sampling.maxTokens });
  }
  return calls;
}

/** Generation (infer / eval): the instruction as the user turn, after the optional system prompt. */
export function planGenerate(instances: readonly Pick<EvalInstance, 'instruction'>[], settings: { maxTokens: number; systemPrompt?: string }): PlannedCall[] {
  return instances.map((i) => ({
    messages: [...(settings.systemPrompt ? [{ role: 'system' as const, content: settings.systemPrompt }] : []), { role: 'user' as const, content: i.instruction }],
    maxTokens: settings.maxTokens,
  }));
}

/** Eval's reviews: rendered with an empty response; the answer's tokens are pending (upper: max_tokens). */
export function planEvalReview(instances: readonly EvalInstance[], profile: JudgeProfile, answerTokens: { upper: number; typical: number | undefined }): PlannedCall[] {
  return instances.flatMap((i) =>
    profile.callSkills(i.skills).map((skills) => ({ messages: profile.render(i, '', skills.length === 1 ? skills[0] : undefined), maxTokens: profile.sampling.maxTokens, pending: answerTokens })),
  );
}

/**
 * Annotation stages. Difficulty's template depends on the stage-1 domain label (math / coding /
 * general): with the input's own label when it has one, else the longest of the three (upper bound).
 */
export function planAnnotation(stage: AnnotationStage, items: readonly { idx: number; instruction: string; answer: string; domains?: readonly string[] }[], seed: number): PlannedCall[] {
  return items.map((i) => {
    if (stage === 'domain') {
      const p = renderDomainPrompt(i.instruction);
      return { messages: p.messages, maxTokens: p.maxTokens };
    }
    if (stage === 'skillset') {
      const p = renderSkillsetPrompt(i.instruction, i.answer || undefined, skillNumbering(seed, i.idx));
      return { messages: p.messages, maxTokens: p.maxTokens };
    }
    if (i.domains && i.domains.length > 0) {
      const p = renderDifficultyPrompt(i.instruction, i.domains);
      return { messages: p.messages, maxTokens: p.maxTokens };
    }
    const variants = [['Math'], ['Coding'], []].map((d) => renderDifficultyPrompt(i.instruction, d));
    const longest = variants.reduce((a, b) => (b.messages.reduce((s, m) => s + m.content.length, 0) > a.messages.reduce((s, m) => s + m.content.length, 0) ? b : a));
    return { messages: longest.messages, maxTokens: Math.max(...variants.map((v) => v.maxTokens)) };
  });
}


/**
 * Length of the answers FLASK published (data/flask/model_outputs, 15 models x 1,700 answers),
 * in cl100k_base tokens, measured with core/cost/tokens.ts on these files (2026-11-29): the typical
 * completion of the generation step in `estimate eval` (all models' mean), and the typical answer
 * a review then quotes. 6 of the 25,500 answers exceed 1,024 tokens.
 * FLASK's judge reviews are not published in data/flask, so no typical review length is known:
 * a review's completion is bounded by max_tokens only (or --typical-review-tokens N).
 */
export const PUBLISHED_ANSWER_TOKENS = {
  encoding: 'cl100k_base',
  answers: 25_500,
  mean: 159,
  median: 97,
  p90: 393,
  meanByModel: {
    alpaca_13b: 59, bard: 277, chatgpt: 132, claude_v1: 176, davinci_003: 84, gpt4: 160, llama2_chat_13b: 250, llama2_chat_70b: 242,
    tulu_13b: 114, tulu_30b: 111, tulu_65b: 125, tulu_7b: 111, vicuna_13b: 174, vicuna_33b: 209, wizardlm_13b: 155,
  } as Record<string, number>,
} as const;
