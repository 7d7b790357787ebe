import { parseArgs } from 'node:util';
import type { Experiment } from '../core/experiment/schema.js';
import type { CellJudge, ExperimentCell } from '../core/experiment/cells.js';
import { totalEstimate, type RunEstimate } from '../core/cost/estimate.js';
import type { PriceTable } from '../core/cost/pricing.js';
import { InputError } from '../core/errors.js';
import type { RunRequest } from './execute.js';
import { REVIEW_OPTIONS, reviewRequest } from './commands/review.js';
import { MODEL_FLAGS, generationRequest } from './commands/infer.js';
import { RUN_FLAGS } from './flags.js';
import { estimateEval, estimateReview } from './commands/estimate.js';

type Values = Record<string, string | boolean | string[] | undefined>;

/** A cell's judge as `--judge model=M,base-url=U,profile=P,key-env=VAR` (no key: key-env names the variable). */
function judgeSpec(j: CellJudge): string {
  for (const [k, x] of Object.entries(j)) if (typeof x === 'string' && x.includes(',')) throw new InputError(`judge ${k} "${x}" holds a comma, which a judge spec cannot carry`);
  return [`model=${j.model}`, `base-url=${j.baseUrl ?? 'offline'}`, `profile=${j.profile ?? 'flask'}`, ...(j.keyEnv ? [`key-env=${j.keyEnv}`] : [])].join(',');
}

/** The cell as a run command's flags: what `review` (or `eval`, for a model behind an endpoint) would be given. */
function cellFlags(cell: ExperimentCell, exp: Experiment, db: string | undefined, env = process.env): { kind: 'review' | 'eval'; v: Values } {
  const s = exp.settings;
  const v: Values = {
    run: cell.runId,
    judge: cell.judge.judges.map(judgeSpec),
    ...(cell.evalSet.hard ? { hard: true } : cell.evalSet.name === 'flask' ? {} : { 'eval-set': cell.evalSet.file }),
    ...(s.limit !== undefined ? { limit: String(s.limit) } : {}),
    ...(s['max-concurrency'] !== undefined ? { 'max-concurrency': String(s['max-concurrency']) } : {}),
    ...(s['judge-samples'] !== undefined ? { 'judge-samples': String(s['judge-samples']) } : {}),
    ...(s['parse-attempts'] !== undefined ? { 'parse-attempts': String(s['parse-attempts']) } : {}),
    ...(s.prices !== undefined ? { prices: s.prices } : {}),
    ...(exp.budgets['max-cost-per-cell'] !== undefined ? { 'max-cost': String(exp.budgets['max-cost-per-cell']) } : {}),
    ...(db ? { db } : {}),
  };
  const m = cell.model.entry;
  if ('published' in m) return { kind: 'review', v: { ...v, model: m.published } };
  if ('answers' in m) return { kind: 'review', v: { ...v, answers: m.answers, 'model-id': cell.model.name } };
  const e = m.endpoint;
  const key = e['key-env'] ? env[e['key-env']] : undefined;
  if (e['key-env'] && !key) throw new InputError(`model ${cell.model.name}: the environment variable ${e['key-env']} (its key-env) is not set`);
  return {
    kind: 'eval',
    v: {
      ...v, 'model-name': e.model,
      ...(e['base-url'] && e['base-url'] !== 'offline' ? { 'model-base-url': e['base-url'] } : {}),
      // The key stays in this process's memory, as --model-api-key-file's would.
      ...(key ? { 'model-api-key': key } : {}),
      ...(e.temperature !== undefined ? { temperature: String(e.temperature) } : {}),
      ...(e['max-tokens'] !== undefined ? { 'max-tokens': String(e['max-tokens']) } : {}),
      ...(e['system-prompt'] !== undefined ? { 'system-prompt': e['system-prompt'] } : {}),
      ...(e.seed !== undefined ? { seed: String(e.seed) } : {}),
    },
  };
}

/** The cell's run, exactly as its command's flags would describe it (the same checks, the same record). */
export function cellRequest(cell: ExperimentCell, exp: Experiment, db: string | undefined, log: (s: string) => void): RunRequest {
  const { kind, v } = cellFlags(cell, exp, db);
  // Through the command's own parser: a value it would refuse is refused here too.
  const args = Object.entries(v).flatMap(([k, x]) => (x === true ? [`--${k}`] : Array.isArray(x) ? x.flatMap((y) => [`--${k}`, y]) : [`--${k}`, String(x)]));
  if (kind === 'review') return reviewRequest(parseArgs({ args, options: REVIEW_OPTIONS }).values as Values, log);
  return generationRequest('eval', parseArgs({ args, options: { ...RUN_FLAGS, ...MODEL_FLAGS } }).values, log);
}

/** The cell's calls, tokens and cost before it runs (`estimate review|eval`, once per judge of a panel). */
export async function cellEstimate(cell: ExperimentCell, exp: Experiment, prices: PriceTable): Promise<RunEstimate> {
  const { kind, v } = cellFlags(cell, exp, undefined);
  const base: Record<string, string | boolean | undefined> = Object.fromEntries(Object.entries(v).filter(([k]) => ['model', 'answers', 'hard', 'eval-set', 'limit', 'model-name', 'max-tokens', 'system-prompt'].includes(k))) as Record<string, string | boolean | undefined>;
  const stages = [];
  for (const [i, j] of cell.judge.judges.entries()) {
    const e = await (kind === 'review' ? estimateReview : estimateEval)({ ...base, 'judge-model': j.model, 'judge-profile': j.profile ?? 'flask' }, prices);
    // A panel answers once and is judged by each judge: the generate stage counts once.
    stages.push(...e.stages.filter((s) => i === 0 || s.stage !== 'generate'));
  }
  return totalEstimate(stages);
}
