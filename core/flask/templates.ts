import { z } from 'zod';
import { readJsonl } from '../inputs/jsonl.js';
import { InputError } from '../errors.js';

/** One line of a FLASK prompt.jsonl (review_prompts/, annotation_prompts/STAGE/). */
const PromptTemplateSchema = z.object({
  prompt_id: z.number().int(),
  system_prompt: z.string(),
  prompt_template: z.string(),
  defaults: z.record(z.string(), z.string()),
  description: z.string().optional(),
});
export type PromptTemplate = z.output<typeof PromptTemplateSchema>;

/** One line of a FLASK reviewer.jsonl: which prompt and which sampling settings a judge uses. */
const ReviewerSchema = z.object({
  reviewer_id: z.string(),
  prompt_id: z.number().int(),
  metadata: z.object({ temperature: z.number().min(0).max(2), max_tokens: z.number().int().positive() }),
  description: z.string().optional(),
});
export type Reviewer = z.output<typeof ReviewerSchema>;

export function loadPromptTemplates(file: string): Map<number, PromptTemplate> {
  return new Map(readJsonl(file, PromptTemplateSchema).map((r) => [r.value.prompt_id, r.value]));
}

export function loadReviewers(file: string): Reviewer[] {
  return readJsonl(file, ReviewerSchema).map((r) => r.value);
}

export function templateById(templates: Map<number, PromptTemplate>, id: number, file: string): PromptTemplate {
  const t = templates.get(id);
  if (!t) throw new InputError(`${file}: no prompt with prompt_id ${id}`);
  return t;
}

/**
 * Python's str.format for FLASK's templates: every {name} in the template is replaced in a
 * single pass (values are never re-scanned, as in Python), and {{ / }} are literal braces.
 * A placeholder without a value is an error rather than silently left in the prompt.
 */
export function formatTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const v = values[name!];
    if (v === undefined) throw new Error(`prompt template placeholder {${name}} has no value`);
    return v;
  });
}
