import type { Sql } from '../core/store/sql.js';
import { loadChunkItems } from '../core/store/workItems.js';
import { runCost } from '../core/cost/runCost.js';
import { requestWorstUsd } from '../core/cost/tokens.js';
import { readPromptSet, type PromptSet } from '../core/flask/promptSet.js';
import { promptKindOf, type PromptKind } from '../core/flask/promptKind.js';
import { endpointOf, planJudges, stepSettingsOf, type ChunkItem, type JudgeSpec, type RunPlan, type Step } from '../core/pipeline.js';
import type { EndpointRef } from '../core/provider/endpoint.js';
import { stepRequest } from './stepRequests.js';
import type { WorstCaseInput, WorstCases } from '../core/activityContracts.js';

/** The difficulty templates a domain label picks between (core/prompts/annotation.ts): the worst before stage 1 has answered. */
const DIFFICULTY_TEMPLATE_DOMAINS = [['Math'], ['Coding'], ['General']];

/**
 * What a budgeted batch's calls may cost at most, worked out by the store before any is sent
 * (core/cost/budgetReservations.ts reserves it): every call of every remaining step rendered as
 * the endpoint worker renders it (activities/stepRequests.ts), its prompt counted with the
 * model's BPE, plus max_tokens, at the run's prices. A review that quotes an answer the run
 * has not generated yet counts that answer at the model's max_tokens; a difficulty call whose
 * domain label is not known yet counts the longest of its templates. Models without a price
 * count 0 (a budgeted run is refused before it starts when one has none).
 */
export async function worstCaseCosts(sql: Sql, { plan, pending }: WorstCaseInput): Promise<WorstCases> {
  const items = new Map((await loadChunkItems(sql, plan.runId, pending.map(([idx]) => idx))).map((it) => [it.idx, it]));
  const sets = new Map<PromptKind, PromptSet>();
  const promptsOf = (step: Step) => {
    const kind = promptKindOf(step);
    if (!kind) return undefined;
    if (!sets.has(kind)) sets.set(kind, readPromptSet(kind));
    return sets.get(kind);
  };
  const judges = planJudges(plan);
  const worst: number[][] = [];
  for (const [idx, first] of pending) {
    const item = items.get(idx);
    const perStep: number[] = [];
    for (const [k, step] of plan.steps.entries()) {
      perStep.push(item && k >= first ? await stepWorst(plan, step, item, judges, promptsOf(step)) : 0);
    }
    worst.push(perStep);
  }
  return { spentUsd: (await runCost(sql, plan.runId, plan.prices ?? {})).pricedUsd, worst };
}

async function stepWorst(plan: RunPlan, step: Step, item: ChunkItem, judges: JudgeSpec[], prompts: PromptSet | undefined): Promise<number> {
  if (step === 'review') {
    // An answer this run generates first is not there yet: review an empty one, and count the answer at its max_tokens.
    const unanswered = item.response === undefined && plan.steps.includes('generate');
    const quoted = unanswered ? { ...item, response: '' } : item;
    const answerTokens = unanswered ? (plan.modelSettings?.maxTokens ?? 0) : 0;
    let usd = 0;
    for (const j of judges.filter((j) => !(item.judged ?? []).includes(j.id))) usd += await callsWorst(plan, step, quoted, prompts, j, answerTokens);
    return usd;
  }
  if (step === 'difficulty' && !(item.domains && item.domains.length > 0)) {
    const each = await Promise.all(DIFFICULTY_TEMPLATE_DOMAINS.map((domains) => callsWorst(plan, step, { ...item, domains }, prompts)));
    return Math.max(...each);
  }
  return callsWorst(plan, step, item, prompts);
}

/** Every call of one instance's step at its worst: prompt (+ a quoted answer not generated yet) and max_tokens, priced. */
async function callsWorst(plan: RunPlan, step: Step, item: ChunkItem, prompts: PromptSet | undefined, judge?: JudgeSpec, extraPromptTokens = 0): Promise<number> {
  const endpoint: EndpointRef | undefined = endpointOf(plan, step, judge);
  const settings = stepSettingsOf(plan, step, judge);
  if (!endpoint || !settings) return 0;
  const asked = stepRequest(step, item, settings, plan.shuffleSeed, prompts);
  if ('cannot' in asked) return 0;
  const price = plan.prices?.[endpoint.model];
  if (!price) return 0;
  let usd = 0;
  for (const { request } of asked.calls) usd += await requestWorstUsd(endpoint.model, request, price, extraPromptTokens);
  return usd;
}
