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

export interface ReviewPromptKit {
  template: PromptTemplate;
  rubrics: Rubric[];
  temperature: number;
  maxTokens: number;
  /** sha256 of the template, system prompt and rubrics: recorded with every run. */
  hash: string;
}

let cached: ReviewPromptKit | undefined;

/** Load FLASK's review template, judge settings and rubrics from data/ (once per process). */
export function loadReviewPromptKit(): ReviewPromptKit {
  if (cached) return cached;
  const reviewer = loadReviewers(DATA_FILES.reviewers)[FLASK_REVIEWER_INDEX];
  const template = templateById(loadPromptTemplates(DATA_FILES.reviewPrompts), reviewer.prompt_id, DATA_FILES.reviewPrompts);
  const rubrics = loadRubrics(DATA_FILES.rubrics);
  const hash = createHash('sha256').update(JSON.stringify({ template, rubrics })).digest('hex');
  cached = { template, rubrics, temperature: reviewer.metadata.temperature, maxTokens: reviewer.metadata.max_tokens, hash };
  return cached;
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

/** The judge's messages for one instance and one response, exactly as FLASK renders them. */
export function renderReviewPrompt(
  instance: Pick<EvalInstance, 'instruction' | 'answer' | 'skills'>,
  response: string,
  kit: ReviewPromptKit = loadReviewPromptKit(),
): ChatMessage[] {
  const user = formatTemplate(kit.template.prompt_template, {
    ...kit.template.defaults,
    question: instance.instruction,
    response,
    skills: renderSkillsBlock(instance.skills, kit.rubrics),
    num: '3',
    sample_answer: instance.answer,
  });
  return [
    { role: 'system', content: kit.template.system_prompt },
    { role: 'user', content: user },
  ];
}
