import { InputError } from '../errors.js';
import { createHash } from 'node:crypto';
import type { EvalInstance } from '../flask/dataset.js';
import { loadRubrics, rubricFor, type Rubric } from '../flask/rubrics.js';
import { formatTemplate, loadPromptTemplates, loadReviewers, templateById, type PromptTemplate } from '../flask/templates.js';
import { DATA_FILES } from '../paths.js';
import type { ChatMessage } from './chat.js';
import type { SkillName } from '../flask/skills.js';

/**
 * FLASK's gpt4_eval.py uses reviewer_jsons[1], i.e. prompt 2: the template with the
 * reference ("Ground truth") answer. We use the same entry and really send its settings.
 */
const FLASK_REVIEWER_INDEX = 1;
/**
 * reviewer_jsons[0], prompt 1: FLASK's template without a reference answer ("for general questions
 * without sample answer"), same settings. An instance whose reference is empty is judged with it
 * rather than with prompt 2 and an empty "[Ground truth Answer]" block.
 */
const FLASK_NO_REFERENCE_REVIEWER_INDEX = 0;

export interface ReviewPromptKit {
  template: PromptTemplate;
  /** FLASK's prompt 1: for instances without a reference answer */
  noReferenceTemplate: PromptTemplate;
  rubrics: Rubric[];
  temperature: number;
  maxTokens: number;
  /**
   * sha256 of the template, system prompt and rubrics: recorded with every run. It covers prompt 2
   * only, as before prompt 1 was used (so runs made before resume unchanged); which template each
   * review used is recorded per review (reviews.review_template).
   */
  hash: string;
}

let cached: ReviewPromptKit | undefined;

/** Load FLASK's review template, judge settings and rubrics from data/ (once per process). */
export function loadReviewPromptKit(): ReviewPromptKit {
  if (cached) return cached;
  const reviewers = loadReviewers(DATA_FILES.reviewers);
  const reviewer = reviewerAt(reviewers, FLASK_REVIEWER_INDEX);
  const templates = loadPromptTemplates(DATA_FILES.reviewPrompts);
  const template = templateById(templates, reviewer.prompt_id, DATA_FILES.reviewPrompts);
  const noReferenceTemplate = templateById(templates, reviewerAt(reviewers, FLASK_NO_REFERENCE_REVIEWER_INDEX).prompt_id, DATA_FILES.reviewPrompts);
  const rubrics = loadRubrics(DATA_FILES.rubrics);
  const hash = createHash('sha256').update(JSON.stringify({ template, rubrics })).digest('hex');
  cached = { template, noReferenceTemplate, rubrics, temperature: reviewer.metadata.temperature, maxTokens: reviewer.metadata.max_tokens, hash };
  return cached;
}

/** FLASK's reviewer.jsonl entry on line index + 1 (its scripts pick reviewers by position). */
function reviewerAt<T>(reviewers: readonly T[], index: number): T {
  const r = reviewers[index];
  if (r === undefined) {
    throw new InputError(`${DATA_FILES.reviewers} has ${reviewers.length} reviewer line(s); FLASK's review needs line ${index + 1}. Restore the file from FLASK's repository (data/ keeps its attribution)`);
  }
  return r;
}

/** The "{skills}" block: each skill's criteria and 1-5 rubric, byte for byte as gen_prompt builds it. */
export function renderSkillsBlock(skills: readonly SkillName[], rubrics: readonly Rubric[]): string {
  let block = '';
  for (const skill of skills) {
    const r = rubricFor(rubrics, skill);
    block += `\n${r.Skill}: ${r.Criteria}`;
    for (const n of ['1', '2', '3', '4', '5'] as const) block += `\nScore ${n}: ${r.Scoring[n]}`;
    block += '\n\n';
  }
  return block;
}

/** An instance has no reference answer when its answer is empty or blank. */
function hasReference(instance: Pick<EvalInstance, 'answer'>): boolean {
  return (instance.answer ?? '').trim() !== '';
}

/** Which of FLASK's templates judges the instance: prompt 2 (with the reference), or prompt 1 when it has none. */
function reviewTemplateFor(instance: Pick<EvalInstance, 'answer'>, kit: ReviewPromptKit = loadReviewPromptKit()): PromptTemplate {
  return hasReference(instance) ? kit.template : kit.noReferenceTemplate;
}

/** The name recorded with a review: "flask/prompt_id=2" (with reference) or "flask/prompt_id=1" (without). */
export function reviewTemplateName(instance: Pick<EvalInstance, 'answer'>, kit: ReviewPromptKit = loadReviewPromptKit()): string {
  return `flask/prompt_id=${reviewTemplateFor(instance, kit).prompt_id}`;
}

/** The judge's messages for one instance and one response, exactly as FLASK renders them. */
export function renderReviewPrompt(
  instance: Pick<EvalInstance, 'instruction' | 'answer' | 'skills'>,
  response: string,
  kit: ReviewPromptKit = loadReviewPromptKit(),
): ChatMessage[] {
  const template = reviewTemplateFor(instance, kit);
  // Prompt 1 has no {sample_answer}; an unused value is ignored.
  const user = formatTemplate(template.prompt_template, {
    ...template.defaults,
    question: instance.instruction,
    response,
    skills: renderSkillsBlock(instance.skills, kit.rubrics),
    num: '3',
    sample_answer: instance.answer,
  });
  return [
    { role: 'system', content: template.system_prompt },
    { role: 'user', content: user },
  ];
}
