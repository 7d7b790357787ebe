import { z } from 'zod';
import { SKILL_NAMES, resolveSkill, type SkillName } from './skills.js';
import { DOMAINS, resolveDomain } from './domains.js';
import { DIFFICULTY_LEVELS, type Difficulty } from './difficulty.js';
import { readJsonl, type Located } from './jsonl.js';
import { InputError } from './errors.js';

/** A skill label: any spelling FLASK's scripts accept, normalised to the rubric name. */
export const SkillLabel = z.string().transform((s, ctx): SkillName => {
  const name = resolveSkill(s);
  if (!name) {
    ctx.addIssue({ code: 'custom', message: `unknown skill "${s}"; expected one of: ${SKILL_NAMES.join(', ')}` });
    return z.NEVER;
  }
  return name;
});

/** "-1" is FLASK's marker for an unlabelled domain; it is kept as null and reported. */
export const DomainLabel = z.string().transform((s, ctx): string | null => {
  if (s.trim() === '-1') return null;
  const d = resolveDomain(s);
  if (!d) {
    ctx.addIssue({ code: 'custom', message: `unknown domain "${s}"; expected one of: ${DOMAINS.join(', ')} (or "-1" for unlabelled)` });
    return z.NEVER;
  }
  return d;
});

/** -1 (number or string) marks an unlabelled difficulty; kept as null and reported. */
export const DifficultyLabel = z.union([z.string(), z.number()]).transform((v, ctx): Difficulty | null => {
  if (String(v).trim() === '-1') return null;
  const s = String(v).toLowerCase().trim();
  if ((DIFFICULTY_LEVELS as readonly string[]).includes(s)) return s as Difficulty;
  ctx.addIssue({ code: 'custom', message: `unknown difficulty "${v}"; expected one of: ${DIFFICULTY_LEVELS.join(', ')} (or -1 for unlabelled)` });
  return z.NEVER;
});

const KNOWN_INSTANCE_KEYS = ['idx', 'instruction', 'answer', 'task', 'skill', 'domain', 'difficulty'];

/** One line of flask_evaluation.jsonl (and of `export --format evalset`). Extra keys are kept. */
export const EvalInstanceSchema = z
  .object({
    idx: z.number().int().nonnegative(),
    instruction: z.string(),
    answer: z.string(),
    task: z.string().default(''),
    skill: z.array(SkillLabel).min(1, 'needs at least one skill').max(3, 'FLASK scores at most 3 skills'),
    domain: z.array(DomainLabel).min(1, 'needs at least one domain (use ["-1"] if unlabelled)'),
    difficulty: DifficultyLabel,
  })
  .passthrough()
  .transform((o) => {
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (!KNOWN_INSTANCE_KEYS.includes(k)) extra[k] = v;
    return {
      idx: o.idx,
      instruction: o.instruction,
      answer: o.answer,
      task: o.task,
      skills: [...new Set(o.skill)],
      domains: [...new Set(o.domain.filter((d): d is string => d !== null))],
      /** FLASK's "-1" was among the domains (alone or next to real ones). */
      unlabelledDomain: o.domain.includes(null),
      difficulty: o.difficulty,
      extra,
    };
  });
export type EvalInstance = z.output<typeof EvalInstanceSchema>;

/** One line of a FLASK answers file (model_outputs/*.jsonl): question_id + text; extra keys ignored. */
export const AnswerSchema = z
  .object({
    question_id: z.union([z.number().int(), z.string().regex(/^\d+$/, 'must be an integer id').transform(Number)]),
    text: z.string(),
  })
  .passthrough()
  .transform((o) => ({ questionId: o.question_id, text: o.text, extraKeys: Object.keys(o).filter((k) => k !== 'question_id' && k !== 'text') }));
export type Answer = z.output<typeof AnswerSchema>;

/** What the quirks of an evaluation set amount to, for the run summary. */
export interface DatasetQuirks {
  instances: number;
  notThreeSkills: number[];
  unlabelledDomain: number[];
  unlabelledDifficulty: number[];
  withExtraKeys: number[];
}

export function datasetQuirks(instances: readonly EvalInstance[]): DatasetQuirks {
  return {
    instances: instances.length,
    notThreeSkills: instances.filter((i) => i.skills.length !== 3).map((i) => i.idx),
    unlabelledDomain: instances.filter((i) => i.unlabelledDomain).map((i) => i.idx),
    unlabelledDifficulty: instances.filter((i) => i.difficulty === null).map((i) => i.idx),
    withExtraKeys: instances.filter((i) => Object.keys(i.extra).length > 0).map((i) => i.idx),
  };
}

/** Load and validate an evaluation-set file; duplicate idx values are an error. */
export function loadEvalSet(file: string): EvalInstance[] {
  const rows = readJsonl(file, EvalInstanceSchema, 'Each line needs idx, instruction, answer, skill (1-3 FLASK skills), domain (list) and difficulty.');
  rejectDuplicates(file, rows, (r) => r.idx, 'idx');
  return rows.map((r) => r.value);
}

export function rejectDuplicates<T>(file: string, rows: Located<T>[], key: (v: T) => number, field: string): void {
  const seen = new Map<number, number>();
  const dups: string[] = [];
  for (const r of rows) {
    const k = key(r.value);
    const first = seen.get(k);
    if (first !== undefined) dups.push(`${file}:${r.line}: field ${field}: duplicate ${field} ${k} (first on line ${first})`);
    else seen.set(k, r.line);
  }
  if (dups.length > 0) {
    throw new InputError(`${dups.length} duplicate ${field} value(s) in ${file}; nothing was started or stored:\n  ${dups.slice(0, 20).join('\n  ')}`);
  }
}
