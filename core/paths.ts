import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { InputError } from './errors.js';

/**
 * The project root (where package.json and data/ live), independent of the working directory
 * and of whether this file runs from its TypeScript source or from the compiled dist/.
 */
export const PROJECT_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'data'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}
const FLASK_DATA = path.join(PROJECT_ROOT, 'data', 'flask');

export const DATA_FILES = {
  evalSet: path.join(FLASK_DATA, 'evaluation_set', 'flask_evaluation.jsonl'),
  hardSet: path.join(FLASK_DATA, 'evaluation_set', 'flask_hard_evaluation.jsonl'),
  rawInputs: path.join(FLASK_DATA, 'input_data', 'flask_evaluation_raw.jsonl'),
  modelOutputs: path.join(FLASK_DATA, 'model_outputs'),
  rubrics: path.join(FLASK_DATA, 'skillset_description.json'),
  taxonomy: path.join(FLASK_DATA, 'domain_taxonomy.json'),
  reviewPrompts: path.join(FLASK_DATA, 'review_prompts', 'prompt.jsonl'),
  reviewers: path.join(FLASK_DATA, 'review_prompts', 'reviewer.jsonl'),
  annotationPrompts: (stage: string) => path.join(FLASK_DATA, 'annotation_prompts', stage, 'prompt.jsonl'),
  annotationReviewers: (stage: string) => path.join(FLASK_DATA, 'annotation_prompts', stage, 'reviewer.jsonl'),
};

/** The 15 models whose answers FLASK published (data/flask/model_outputs). */
function publishedModels(): string[] {
  return readdirSync(DATA_FILES.modelOutputs).filter((f) => f.endsWith('.jsonl')).map((f) => f.replace(/\.jsonl$/, '')).sort();
}

/** A published model's answers file by its short name ("gpt4", "davinci_003", ...). */
export function publishedAnswersFile(model: string): string {
  if (!publishedModels().includes(model)) {
    throw new InputError(`no published answers for "${model}"; the published models are: ${publishedModels().join(', ')} (use --answers FILE for your own)`);
  }
  return path.join(DATA_FILES.modelOutputs, `${model}.jsonl`);
}
