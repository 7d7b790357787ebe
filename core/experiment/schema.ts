import { z } from 'zod';

/**
 * An experiment file (YAML or JSON): models x judges x eval sets, each cell one run. Keys are
 * spelled as the CLI's flags (base-url, key-env, max-tokens) so a user moves between the two.
 * Keys never sit in the file: key-env names the environment variable holding one.
 */

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = z.string().regex(NAME, 'letters, digits, ".", "_" and "-" only, starting with a letter or digit').max(40);

/** An endpoint: base-url "offline" (or none, with no key-env) is the offline judge/model (SIMULATED). */
const endpointFields = {
  model: z.string().min(1),
  'base-url': z.string().min(1).optional(),
  'key-env': z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name').optional(),
};

const ModelEntrySchema = z.union([
  z.strictObject({ published: z.string().min(1), name: name.optional() }),
  z.strictObject({ answers: z.string().min(1), name }),
  z.strictObject({
    endpoint: z.strictObject({
      ...endpointFields,
      temperature: z.number().min(0).max(2).optional(),
      'max-tokens': z.number().int().positive().optional(),
      'system-prompt': z.string().optional(),
      seed: z.number().int().min(0).optional(),
    }),
    name: name.optional(),
  }),
], { error: 'a model is one of {published: NAME} (a FLASK model in data/flask/model_outputs), {answers: FILE, name: N}, or {endpoint: {model: M, base-url: U}}' });

const JudgeSpecSchema = z.strictObject({
  ...endpointFields,
  profile: z.enum(['flask', 'prometheus']).optional(),
});

const JudgeEntrySchema = z.union([
  JudgeSpecSchema.extend({ name: name.optional() }),
  z.strictObject({ name, panel: z.array(JudgeSpecSchema).min(2, 'a panel has at least 2 judges (one judge: give it without panel)') }),
], { error: 'a judge is {model: M, base-url: U|offline, profile: flask|prometheus, key-env: VAR} or {name: N, panel: [judge, judge, ...]}' });

const EvalSetEntrySchema = z.union([
  z.enum(['flask', 'flask-hard']),
  z.strictObject({ file: z.string().min(1), name }),
  z.strictObject({ annotated: z.string().min(1), name }),
], { error: 'an eval set is flask, flask-hard, {file: FILE, name: N} (a custom set in FLASK\'s format) or {annotated: FILE, name: N} (a set exported from an annotate run)' });

export const ExperimentSchema = z.strictObject({
  name,
  models: z.array(ModelEntrySchema).min(1),
  judges: z.array(JudgeEntrySchema).min(1),
  'eval-sets': z.array(EvalSetEntrySchema).min(1).default(['flask']),
  settings: z.strictObject({
    /** only the first N instances of each eval set */
    limit: z.number().int().positive().optional(),
    'max-concurrency': z.number().int().positive().optional(),
    'judge-samples': z.number().int().min(1).max(20).optional(),
    'parse-attempts': z.number().int().positive().optional(),
    /** cells run at once (each a run of its own batches) */
    'parallel-cells': z.number().int().min(1).max(16).default(2),
    prices: z.string().optional(),
  }).default({ 'parallel-cells': 2 }),
  budgets: z.strictObject({
    /** each cell stops starting work when its landed cost reaches this (USD), as --max-cost */
    'max-cost-per-cell': z.number().positive().optional(),
    /** the experiment does not start when its estimated cost (the upper bound) is over this (USD) */
    'max-estimated-cost': z.number().positive().optional(),
  }).default({}),
});

export type Experiment = z.output<typeof ExperimentSchema>;
export type ModelEntry = z.output<typeof ModelEntrySchema>;
export type JudgeEntry = z.output<typeof JudgeEntrySchema>;
export type EvalSetEntry = z.output<typeof EvalSetEntrySchema>;
