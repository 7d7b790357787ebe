import { parseArgs } from 'node:util';
import { InputError } from '../../core/errors.js';
import { publishedAnswersFile } from '../../core/paths.js';
import { loadEvalSet } from '../../core/flask/dataset.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { loadReviewPromptKit, renderReviewPrompt } from '../../core/prompts/review.js';
import { renderDifficultyPrompt, renderDomainPrompt, renderSkillsetPrompt, skillNumbering } from '../../core/prompts/annotation.js';
import { InstructionSchema, loadInstructions } from '../../core/flask/instructions.js';
import { readJsonl } from '../../core/inputs/jsonl.js';
import type { ChatMessage } from '../../core/prompts/chat.js';
import { countChat, tokenCounter, tokenizerFor } from '../../core/cost/tokens.js';
import { DEFAULT_JUDGE_MODEL } from '../../core/config.js';
import { evalSetFile } from './review.js';
import { intFlag, strFlag } from '../flags.js';

export const PROMPTS_HELP = `flask-eval prompts [--stage review|domain|skillset|difficulty] [--model NAME | --answers FILE] [--input FILE] [--limit N]
  Print the exact messages that would be sent, as JSONL, without calling any model; the prompt
  tokens go to stderr, counted as the estimate command counts them (the BPE of --judge-model,
  default FLASK_JUDGE_MODEL or gpt-4-0613). review needs answers (--model / --answers); the
  annotation stages take the evaluation set or --input (instructions JSONL). --seed N: the
  skill-numbering shuffle seed.`;


export async function promptsCommand(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      stage: { type: 'string', default: 'review' }, model: { type: 'string' }, answers: { type: 'string' },
      'eval-set': { type: 'string' }, hard: { type: 'boolean' }, input: { type: 'string' }, limit: { type: 'string' }, seed: { type: 'string' },
      'judge-model': { type: 'string' },
    },
  });
  const stage = v.stage as string;
  const limit = intFlag(v, 'limit', undefined);
  let lines: { idx: number; messages: ChatMessage[]; temperature: number; max_tokens: number; extra?: Record<string, unknown> }[];
  if (stage === 'review') {
    const answers = strFlag(v, 'answers') ?? (v.model ? publishedAnswersFile(v.model as string) : undefined);
    if (!answers) throw new InputError('prompts --stage review needs --model NAME or --answers FILE (the responses are part of the prompt)');
    const prepared = prepareReview(evalSetFile(v), answers, 'prompts', limit, { answersKeyedByMainSet: v.model !== undefined && !v.answers });
    const kit = loadReviewPromptKit();
    const byIdx = new Map(prepared.responses.map((r) => [r.idx, r.text]));
    lines = prepared.instances.map((i) => ({ idx: i.idx, messages: renderReviewPrompt(i, byIdx.get(i.idx)!, kit), temperature: kit.temperature, max_tokens: kit.maxTokens }));
  } else if (stage === 'domain' || stage === 'skillset' || stage === 'difficulty') {
    const input = strFlag(v, 'input');
    const items = (input ? loadInstructions(input) : loadEvalSet(evalSetFile(v))).slice(0, limit);
    const seed = intFlag(v, 'seed', 0, 0);
    const inputDomains = input && stage === 'difficulty' ? domainsOfInput(input) : undefined;
    lines = items.map((i) => {
      if (stage === 'domain') { const p = renderDomainPrompt(i.instruction); return { idx: i.idx, messages: p.messages, temperature: p.temperature, max_tokens: p.maxTokens }; }
      if (stage === 'skillset') {
        const numbering = skillNumbering(seed, i.idx);
        const p = renderSkillsetPrompt(i.instruction, i.answer || undefined, numbering);
        return { idx: i.idx, messages: p.messages, temperature: p.temperature, max_tokens: p.maxTokens, extra: { numbering } };
      }
      // Difficulty depends on the domain label: the evaluation set's own, or the --input line's
      // `domain` / `domain_labeled` when it carries one (as `annotate` and --eval-set do).
      const domains = 'domains' in i ? (i.domains as string[]) : (inputDomains?.get(i.idx) ?? []);
      const p = renderDifficultyPrompt(i.instruction, domains);
      return { idx: i.idx, messages: p.messages, temperature: p.temperature, max_tokens: p.maxTokens, extra: { domains, prompt_id: p.promptId } };
    });
  } else {
    throw new InputError(`--stage must be review, domain, skillset or difficulty (got "${stage}")`);
  }
  // The same count as `estimate` (core/cost/tokens.ts): the judge model's BPE where it is known.
  const judgeModel = strFlag(v, 'judge-model') ?? process.env.FLASK_JUDGE_MODEL ?? DEFAULT_JUDGE_MODEL;
  const tokenizer = tokenizerFor(judgeModel);
  const counter = await tokenCounter(tokenizer.encoding);
  let prompt = 0, completion = 0;
  for (const l of lines) {
    const promptTokens = countChat(counter, l.messages);
    prompt += promptTokens;
    completion += l.max_tokens;
    process.stdout.write(JSON.stringify({ idx: l.idx, stage, messages: l.messages, temperature: l.temperature, max_tokens: l.max_tokens, prompt_tokens: promptTokens, ...l.extra }) + '\n');
  }
  const how = `${tokenizer.encoding}, ${tokenizer.exact ? `exact for ${judgeModel}` : `approximate: ${judgeModel} is not an OpenAI model`}`;
  process.stderr.write(`${lines.length} prompts; ${prompt} prompt tokens (${how}) + at most ${completion} completion tokens (max_tokens each)\n`);
}

/**
 * The domains an instructions file carries, by the idx loadInstructions gives each line:
 * FLASK's `domain` (evaluation set) or `domain_labeled` (its scripts), a list or one string.
 * FLASK's unlabelled marker "-1" counts as none.
 */
function domainsOfInput(file: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const r of readJsonl(file, InstructionSchema)) {
    const o = r.value as Record<string, unknown>;
    const idx = (o.idx ?? o.id ?? o.question_id ?? r.line) as number;
    const raw = o.domain ?? o.domain_labeled;
    const list = (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : []).map(String).filter((d) => d !== '-1' && d.trim() !== '');
    if (list.length) out.set(idx, list);
  }
  return out;
}
