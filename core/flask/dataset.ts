import { z } from 'zod';
import { SKILL_NAMES, resolveSkill, type SkillName } from './skills.js';
import { DOMAINS, resolveDomain } from './domains.js';
import { DIFFICULTY_LEVELS, type Difficulty } from './difficulty.js';
import { readJsonl, type Located } from '../inputs/jsonl.js';
import { InputError } from '../errors.js';

/** A skill label: any spelling FLASK's scripts accept, normalised to the rubric name. */
const SkillLabel = z.string().transform((s, ctx): SkillName => {
  const name = resolveSkill(s);
  if (!name) {
    ctx.addIssue({ code: 'custom', message: `unknown skill "${s}"; expected one of: ${SKILL_NAMES.join(', ')}` });
    return z.NEVER;
  }
  return name;
});

/** "-1" is FLASK's marker for an unlabelled domain; it is kept as null and reported. */
const DomainLabel = z.string().transform((s, ctx): string | null => {
  if (s.trim() === '-1') return null;
  const d = resolveDomain(s);
  if (!d) {
    ctx.addIssue({ code: 'custom', message: `unknown domain "${s}"; expected one of: ${DOMAINS.join(', ')} (or "-1" for unlabelled)` });
    return z.NEVER;
  }
  return d;
});

/** -1 (number or string) marks an unlabelled difficulty; kept as null and reported. */
const DifficultyLabel = z.union([z.string(), z.number()]).transform((v, ctx): Difficulty | null => {
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

/** What the quirks of an evaluation set amount to, for the run summary. */
export interface DatasetQuirks {
  instances: number;
  notThreeSkills: number[];
  unlabelledDomain: number[];
  unlabelledDifficulty: number[];
  withExtraKeys: number[];
}

/** What datasetQuirks reads of an instance (a large set keeps only this much of each). */
export type QuirkFields = Pick<EvalInstance, 'idx' | 'skills' | 'unlabelledDomain' | 'difficulty' | 'extra'>;

export function datasetQuirks(instances: readonly QuirkFields[]): DatasetQuirks {
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

/** What to do with a repeated id: an error naming both lines, or (an explicit flag) keep the first with a warning. */
export interface DuplicatePolicy {
  keepFirst?: boolean;
  warn?: (s: string) => void;
  /** The flag that keeps the first, named in the error (absent: duplicates are always an error). */
  flag?: string;
}

/** Duplicate ids in a file: an error naming both lines, or the rows with each first occurrence kept. */
export function rejectDuplicates<T>(file: string, rows: Located<T>[], key: (v: T) => number, field: string, policy: DuplicatePolicy = {}): Located<T>[] {
  const seen = new Map<number, number>();
  const dups: string[] = [];
  const kept: Located<T>[] = [];
  for (const r of rows) {
    const k = key(r.value);
    const first = seen.get(k);
    if (first !== undefined) dups.push(`${file}:${r.line}: field ${field}: duplicate ${field} ${k} (first on line ${first})`);
    else {
      seen.set(k, r.line);
      kept.push(r);
    }
  }
  if (dups.length === 0) return rows;
  const list = `${dups.slice(0, 20).join('\n  ')}${dups.length > 20 ? `\n  ... and ${dups.length - 20} more` : ''}`;
  if (policy.keepFirst) {
    policy.warn?.(`${dups.length} duplicate ${field} value(s) in ${file}: the first line of each is kept (${policy.flag ?? 'keep first'}), the others are ignored:\n  ${list}`);
    return kept;
  }
  const fix = policy.flag ? `\nFix the file, or pass ${policy.flag} to keep the first line of each id.` : '\nFix the file: each id must appear once.';
  throw new InputError(`${dups.length} duplicate ${field} value(s) in ${file}; nothing was started or stored:\n  ${list}${fix}`);
}

/**
 * A line of `annotate`'s input: an instruction (or FLASK's "text"), an optional reference answer
 * and id, and optionally reference labels (skill, domain, difficulty: the evaluation-set format)
 * that `flask-eval agreement` compares the annotator with. Labels are checked separately so a
 * malformed one can be reported as such (and dropped with --ignore-labels).
 */
/** The fields of a line that carries an instruction to annotate or answer (instructions.ts, annotate's input). */
export const INSTRUCTION_FIELDS = {
  instruction: z.string().min(1, 'must not be empty').optional(),
  text: z.string().min(1, 'must not be empty').optional(),
  answer: z.string().optional(),
  idx: z.number().int().nonnegative().optional(),
  id: z.number().int().nonnegative().optional(),
  question_id: z.number().int().nonnegative().optional(),
  task: z.string().optional(),
};

/** FLASK's files name the instruction `text` in places: either key will do. */
export const needsInstructionText: [(o: { instruction?: string; text?: string }) => boolean, { message: string; path: string[] }] = [
  (o) => o.instruction !== undefined || o.text !== undefined,
  { message: 'needs "instruction" (or "text")', path: ['instruction'] },
];

const AnnotationLineSchema = z
  .object({ ...INSTRUCTION_FIELDS, skill: z.unknown().optional(), domain: z.unknown().optional(), difficulty: z.unknown().optional() })
  .passthrough()
  .refine(...needsInstructionText);

const ANNOTATION_LINE_KEYS = ['instruction', 'text', 'answer', 'idx', 'id', 'question_id', 'task', 'skill', 'domain', 'difficulty'];

const ReferenceSkills = z.array(SkillLabel).min(1, 'needs at least one skill').max(3, 'FLASK scores at most 3 skills');
const ReferenceDomains = z.array(DomainLabel).min(1, 'needs at least one domain (use ["-1"] if unlabelled)');

export interface AnnotationInput {
  instances: EvalInstance[];
  /** Some line carried a usable reference label. */
  hasReferenceLabels: boolean;
  /** Lines whose malformed labels were dropped (--ignore-labels). */
  droppedLabelLines: number[];
}

/**
 * Load annotate's input. Malformed reference labels (unknown domain or skill, bad difficulty) are
 * an error listing every one with its line, unless `ignoreLabels`: then that line's labels are
 * dropped with a warning (it is left out of agreement). Duplicate ids: see DuplicatePolicy.
 */
export function loadAnnotationInput(file: string, opts: { ignoreLabels?: boolean; duplicates?: DuplicatePolicy; warn?: (s: string) => void } = {}): AnnotationInput {
  const rows = readJsonl(file, AnnotationLineSchema, 'Each line: {"instruction": "...", "answer": "optional reference", "idx": optional integer id}, optionally with FLASK\'s labels "skill", "domain", "difficulty".');
  const labelProblems: string[] = [];
  const dropped: number[] = [];
  const items = rows.map((r) => {
    const o = r.value;
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (!ANNOTATION_LINE_KEYS.includes(k)) extra[k] = v;
    const problems: string[] = [];
    const check = <T>(field: string, schema: z.ZodType<T>, raw: unknown): T | undefined => {
      if (raw === undefined) return undefined;
      const p = schema.safeParse(raw);
      if (p.success) return p.data;
      for (const issue of p.error.issues) problems.push(`${file}:${r.line}: field ${[field, ...issue.path.map((x) => (typeof x === 'number' ? `[${x}]` : `.${String(x)}`))].join('')}: ${issue.message}`);
      return undefined;
    };
    const skills = check('skill', ReferenceSkills, o.skill);
    const domains = check('domain', ReferenceDomains, o.domain);
    const difficulty = check('difficulty', DifficultyLabel, o.difficulty);
    const malformed = problems.length > 0;
    if (malformed) {
      labelProblems.push(...problems);
      dropped.push(r.line);
    }
    const instance: EvalInstance = {
      idx: o.idx ?? o.id ?? o.question_id ?? r.line,
      instruction: (o.instruction ?? o.text)!,
      answer: o.answer ?? '',
      task: o.task ?? '',
      skills: malformed || !skills ? [] : [...new Set(skills)],
      domains: malformed || !domains ? [] : [...new Set(domains.filter((d): d is string => d !== null))],
      unlabelledDomain: !malformed && !!domains?.includes(null),
      difficulty: malformed ? null : (difficulty ?? null),
      extra,
    };
    return { line: r.line, value: instance };
  });
  if (labelProblems.length > 0) {
    const list = `${labelProblems.slice(0, 20).join('\n  ')}${labelProblems.length > 20 ? `\n  ... and ${labelProblems.length - 20} more` : ''}`;
    if (!opts.ignoreLabels) {
      throw new InputError(
        `${labelProblems.length} malformed reference label(s) in ${file}; nothing was started or stored:\n  ${list}\n` +
          'Fix them, or pass --ignore-labels to annotate those lines without their labels (they are left out of flask-eval agreement).',
      );
    }
    opts.warn?.(`--ignore-labels: the reference labels of ${dropped.length} line(s) are malformed and dropped (left out of agreement):\n  ${list}`);
  }
  const kept = rejectDuplicates(file, items, (v) => v.idx, 'idx', opts.duplicates);
  const instances = kept.map((i) => i.value);
  const hasReferenceLabels = instances.some((i) => i.skills.length > 0 || i.domains.length > 0 || i.difficulty !== null);
  return { instances, hasReferenceLabels, droppedLabelLines: dropped };
}
