import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { loadEvalSet, type EvalInstance } from '../../core/flask/dataset.js';
import { loadInstructions } from '../../core/flask/instructions.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DEFAULT_JUDGE_MODEL } from '../../core/config.js';
import { judgeProfile } from '../../core/judges/index.js';
import type { JudgeProfile } from '../../core/judges/profile.js';
import { ANNOTATION_STAGES } from '../../core/prompts/annotation.js';
import { formatUsd, loadPriceTable, priceOf, type PriceTable } from '../../core/cost/pricing.js';
import { userPrices } from '../../core/cost/endpointPrices.js';
import { judgeFromFlags, modelFromFlags } from '../flags.js';
import {
  PUBLISHED_ANSWER_TOKENS, estimateStage, planAnnotation, planEvalReview, planGenerate, planReview, totalEstimate,
  type RunEstimate, type StageEstimate,
} from '../../core/cost/estimate.js';

export const ESTIMATE_HELP = `flask-eval estimate review|eval|annotate ... [--prices FILE] [--format table|json]
  The calls, tokens and cost of a run before it starts; nothing is called.
  estimate review --model NAME | --answers FILE [--hard | --eval-set FILE] [--limit N]
                  [--judge-model M] [--judge-profile flask|prometheus] [--judge-max-tokens N] [--typical-review-tokens N]
  estimate eval   --model-name M [--max-tokens N (1024)] [--system-prompt S] [--hard | --input FILE] [--limit N] + the judge flags
  estimate annotate FILE [--judge-model M] [--seed N] [--limit N]
  Endpoints: --judge-base-url U (OPENAI_BASE_URL), --model-base-url U (FLASK_MODEL_BASE_URL) and their key
  flags, as for review / eval / annotate. data/prices.json holds OpenAI's API rates: a model served anywhere
  else (a local server) is priced only from --prices FILE, else its cost is n/a.
  Prompt tokens: every prompt rendered as it will be sent, counted with the model's BPE (cl100k_base /
  o200k_base; other models approximately with cl100k_base). Completion tokens: max_tokens per call
  (the bound) and a typical figure where one was measured. Cost: data/prices.json (dated, sourced;
  --prices FILE overrides), direct and Batch API (half price); a model without a price shows n/a.
  Not counted: re-asks after unparseable judge outputs, retries, instances a resumed run already has.`;

type Values = Record<string, string | boolean | undefined>;

const OPTIONS = {
  model: { type: 'string' }, answers: { type: 'string' }, 'eval-set': { type: 'string' }, hard: { type: 'boolean' }, input: { type: 'string' },
  limit: { type: 'string' }, 'judge-model': { type: 'string' }, 'judge-profile': { type: 'string' }, 'judge-max-tokens': { type: 'string' },
  'typical-review-tokens': { type: 'string' }, 'model-name': { type: 'string' }, 'max-tokens': { type: 'string' }, 'system-prompt': { type: 'string' },
  seed: { type: 'string' }, prices: { type: 'string' }, format: { type: 'string', default: 'table' },
  // The endpoint flags of review / eval / annotate, so the same command line can be estimated (keys are read, not used).
  'judge-base-url': { type: 'string' }, 'judge-api-key': { type: 'string' }, 'judge-api-key-file': { type: 'string' },
  'model-base-url': { type: 'string' }, 'model-api-key': { type: 'string' }, 'model-api-key-file': { type: 'string' },
} as const;

function intOpt(v: Values, name: string, min = 1): number | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new InputError(`--${name} must be an integer >= ${min} (got "${raw}")`);
  return n;
}
const strOpt = (v: Values, name: string): string | undefined => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
const evalSetOf = (v: Values): string => (v.hard ? DATA_FILES.hardSet : strOpt(v, 'eval-set') ?? DATA_FILES.evalSet);
const judgeModelOf = (v: Values): string => strOpt(v, 'judge-model') ?? (process.env.FLASK_JUDGE_MODEL || DEFAULT_JUDGE_MODEL);
// Where the calls would go (--judge-base-url / OPENAI_BASE_URL, --model-base-url / FLASK_MODEL_BASE_URL): undefined is OpenAI's API.
const judgeUrlOf = (v: Values): string | undefined => judgeFromFlags(v).baseURL;
const modelUrlOf = (v: Values): string | undefined => modelFromFlags(v).baseURL;

/** The judge profile with the --judge-max-tokens override applied. */
function profileOf(v: Values): JudgeProfile {
  const p = judgeProfile(strOpt(v, 'judge-profile') ?? 'flask');
  const maxTokens = intOpt(v, 'judge-max-tokens');
  return maxTokens === undefined ? p : { ...p, sampling: { ...p.sampling, maxTokens } };
}

function reviewTypical(v: Values) {
  const n = intOpt(v, 'typical-review-tokens', 0);
  return n === undefined ? undefined : { completionTokensPerCall: n, source: `--typical-review-tokens ${n}` };
}

export async function estimateReview(v: Values, prices: PriceTable): Promise<RunEstimate> {
  const answers = strOpt(v, 'answers') ?? (v.model ? publishedAnswersFile(v.model as string) : undefined);
  if (!answers) throw new InputError('estimate review needs --model NAME (a published model) or --answers FILE (the responses are part of the prompt)');
  const prepared = prepareReview(evalSetOf(v), answers, 'estimate', intOpt(v, 'limit'), { answersKeyedByMainSet: v.model !== undefined && !v.answers });
  const profile = profileOf(v);
  const responses = new Map(prepared.responses.map((r) => [r.idx, r.text]));
  const calls = planReview(prepared.instances, responses, profile);
  const stage = await estimateStage('review', judgeModelOf(v), prepared.instances.length, calls, prices, { profile: profile.name, typical: reviewTypical(v), baseURL: judgeUrlOf(v) });
  return totalEstimate([stage]);
}

export async function estimateEval(v: Values, prices: PriceTable): Promise<RunEstimate> {
  const model = strOpt(v, 'model-name') ?? process.env.FLASK_MODEL_NAME;
  if (!model) throw new InputError('estimate eval needs --model-name M (the evaluated model: its price and tokenizer)');
  let instances: EvalInstance[] = loadEvalSet(strOpt(v, 'input') ?? evalSetOf(v));
  const limit = intOpt(v, 'limit');
  if (limit !== undefined) instances = instances.slice(0, limit);
  const maxTokens = intOpt(v, 'max-tokens') ?? 1024;
  const systemPrompt = strOpt(v, 'system-prompt');
  const typicalAnswer = Math.min(PUBLISHED_ANSWER_TOKENS.mean, maxTokens);
  const source = `mean length of FLASK's ${PUBLISHED_ANSWER_TOKENS.answers.toLocaleString('en-US')} published answers (15 models), ${PUBLISHED_ANSWER_TOKENS.mean} tokens`;
  const generate = await estimateStage('generate', model, instances.length, planGenerate(instances, { maxTokens, ...(systemPrompt ? { systemPrompt } : {}) }), prices, {
    typical: { completionTokensPerCall: typicalAnswer, source }, baseURL: modelUrlOf(v),
  });
  const profile = profileOf(v);
  const review = await estimateStage('review', judgeModelOf(v), instances.length, planEvalReview(instances, profile, { upper: maxTokens, typical: typicalAnswer }), prices, {
    profile: profile.name, typical: reviewTypical(v), baseURL: judgeUrlOf(v),
    notes: [`review prompts quote answers that do not exist yet: counted at max_tokens (${maxTokens}) each for the bound, ${typicalAnswer} typical (${source})`],
  });
  return totalEstimate([generate, review]);
}

export async function estimateAnnotate(file: string, v: Values, prices: PriceTable): Promise<RunEstimate> {
  let items: { idx: number; instruction: string; answer: string; domains?: string[] }[];
  try {
    items = loadEvalSet(file);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    items = loadInstructions(file);
  }
  const limit = intOpt(v, 'limit');
  if (limit !== undefined) items = items.slice(0, limit);
  const seed = intOpt(v, 'seed', 0) ?? 0;
  const model = judgeModelOf(v);
  const unlabelled = items.filter((i) => !i.domains || i.domains.length === 0).length;
  const stages: StageEstimate[] = [];
  for (const stage of ANNOTATION_STAGES) {
    const notes = stage === 'difficulty' && unlabelled > 0 ? [`${unlabelled} instruction(s) without a domain label yet: difficulty counted with its longest template (math / coding / general), an upper bound`] : [];
    stages.push(await estimateStage(stage, model, items.length, planAnnotation(stage, items, seed), prices, { notes, baseURL: judgeUrlOf(v) }));
  }
  return totalEstimate(stages);
}

const n = (x: number | undefined): string => (x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));

/** The estimate as a table, with where each price comes from and what is not counted. */
export function formatEstimate(e: RunEstimate, prices: PriceTable): string {
  const rows = [
    ['stage', 'model', 'calls', 'prompt tokens', 'completion max', 'completion typical', 'cost max', 'cost typical', 'batch max', 'batch typical'],
    ...e.stages.map((s) => [
      s.profile ? `${s.stage} (${s.profile})` : s.stage, s.model, n(s.calls),
      s.promptTokens.typical !== undefined && s.promptTokens.typical !== s.promptTokens.upper ? `${n(s.promptTokens.upper)} (typ. ${n(s.promptTokens.typical)})` : n(s.promptTokens.upper),
      n(s.completionTokens.upper), n(s.completionTokens.typical),
      formatUsd(s.cost.upper), formatUsd(s.cost.typical), formatUsd(s.cost.batchUpper), formatUsd(s.cost.batchTypical),
    ]),
  ];
  if (e.stages.length > 1) {
    rows.push(['total', '', n(e.calls), e.promptTokens.typical !== undefined && e.promptTokens.typical !== e.promptTokens.upper ? `${n(e.promptTokens.upper)} (typ. ${n(e.promptTokens.typical)})` : n(e.promptTokens.upper),
      n(e.completionTokens.upper), n(e.completionTokens.typical), formatUsd(e.cost.upper), formatUsd(e.cost.typical), formatUsd(e.cost.batchUpper), formatUsd(e.cost.batchTypical)]);
  }
  const width = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c >= 2 ? cell.padStart(width[c]!) : cell.padEnd(width[c]!))).join('  ').trimEnd());
  const out = [...lines, ''];
  for (const at of [...new Set(e.stages.map((s) => (s.endpointHost ? `${s.model} at ${s.endpointHost}` : s.model)))]) {
    const stage = e.stages.find((s) => (s.endpointHost ? `${s.model} at ${s.endpointHost}` : s.model) === at)!;
    const p = priceOf(stage.model, stage.endpointHost ? userPrices(prices) : prices);
    const none = stage.endpointHost ? `not OpenAI's API, no price in --prices FILE` : `none in ${prices.files.join(' + ')}`;
    out.push(p ? `price ${at}: $${p.input} in / $${p.output} out per 1M tokens (as of ${p.asOf}; ${p.source})` : `price ${at}: ${none}: cost n/a (add it with --prices FILE)`);
  }
  out.push(`batch: ${Math.round(prices.batchDiscount * 100)}% off (${prices.batchDiscountSource})`);
  for (const s of e.stages) {
    out.push(`tokens ${s.stage}: ${s.tokenizer.encoding}${s.tokenizer.exact ? '' : ' (approximate)'}`);
    for (const note of s.notes) out.push(`note ${s.stage}: ${note}`);
  }
  if (e.stages.some((s) => s.completionTokens.typical === undefined)) out.push("completion typical n/a: no measured length of judge or annotator outputs (FLASK's reviews are not in data/flask): the max column is the bound; --typical-review-tokens N sets one for reviews");
  out.push('not counted: re-asks after an unparseable judge output (up to --parse-attempts), retried calls, instances a resumed run already has');
  return out.join('\n');
}

export async function estimateCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const [kind, ...rest] = positionals;
  const prices = loadPriceTable(strOpt(v, 'prices'));
  let e: RunEstimate;
  if (kind === 'review' && rest.length === 0) e = await estimateReview(v, prices);
  else if (kind === 'eval' && rest.length === 0) e = await estimateEval(v, prices);
  else if (kind === 'annotate' && rest.length === 1) e = await estimateAnnotate(rest[0]!, v, prices);
  else throw new InputError(`estimate takes review, eval or annotate FILE\n\n${ESTIMATE_HELP}`);
  if (v.format === 'json') process.stdout.write(JSON.stringify({ ...e, priceFiles: prices.files }, null, 2) + '\n');
  else if (v.format === 'table') process.stdout.write(formatEstimate(e, prices) + '\n');
  else throw new InputError(`--format must be table or json (got "${v.format}")`);
}
