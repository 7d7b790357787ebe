import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import {
  AnswerSchema, EvalInstanceSchema, datasetQuirks, loadEvalSet, rejectDuplicates, type DuplicatePolicy, type EvalInstance, type QuirkFields,
} from '../flask/dataset.js';
import { InputError } from '../errors.js';
import { rereadJsonl, scanJsonl, type Located } from './jsonl.js';
import type { ResponseRow } from '../store/instances.js';
import { hardToMainIdx } from '../flask/flaskHard.js';
import { DATA_FILES } from '../paths.js';
import path from 'node:path';

/** The file's SHA-256, read 4 MB at a time (a 100,000-instance set is ~130 MB). */
export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** How an answers file matched the evaluation set: every mismatch is counted, none is silent. */
export interface AnswerMatch {
  answers: number;
  matched: number;
  emptyResponses: number[];
  withoutAnswer: number[];
  unknownIds: number[];
  duplicateIds: number[];
  rowsWithExtraKeys: number;
}

/** The flag that keeps the first of duplicated answer ids. */
const KEEP_FIRST_DUPLICATE_FLAG = '--keep-first-duplicate';

/** An answer as a plan keeps it: where it is, not its text (read again when uploaded). */
interface AnswerRef {
  line: number;
  empty: boolean;
}

/**
 * Check an answers file (FLASK's model_outputs format) against the instance ids, keeping only
 * where each answer is. A duplicated id is an error naming both lines, unless the policy keeps
 * the first (counted in duplicateIds). `answerIdOf` maps an instance to the question_id its
 * answer carries (the identity, except for FLASK-Hard against FLASK's published answers).
 */
function scanAnswers(
  file: string,
  instanceIdxs: readonly number[],
  answerIdOf: (idx: number) => number | undefined,
  duplicates: DuplicatePolicy,
): { byId: Map<number, AnswerRef>; match: AnswerMatch; answered: number[] } {
  const rows: Located<{ questionId: number; empty: boolean; extra: boolean }>[] = [];
  scanJsonl(file, AnswerSchema, (line, a) => rows.push({ line, value: { questionId: a.questionId, empty: a.text.trim() === '', extra: a.extraKeys.length > 0 } }),
    'Each line needs question_id (the instance idx) and text (the response; may be empty).');
  rejectDuplicates(file, rows, (a) => a.questionId, 'question_id', { flag: KEEP_FIRST_DUPLICATE_FLAG, ...duplicates });
  const known = new Set(instanceIdxs.map(answerIdOf).filter((x): x is number => x !== undefined));
  const byId = new Map<number, AnswerRef>();
  const match: AnswerMatch = { answers: rows.length, matched: 0, emptyResponses: [], withoutAnswer: [], unknownIds: [], duplicateIds: [], rowsWithExtraKeys: 0 };
  const seen = new Set<number>();
  for (const { line, value } of rows) {
    if (value.extra) match.rowsWithExtraKeys += 1;
    if (seen.has(value.questionId)) match.duplicateIds.push(value.questionId);
    else if (!known.has(value.questionId)) match.unknownIds.push(value.questionId);
    else byId.set(value.questionId, { line, empty: value.empty });
    seen.add(value.questionId);
  }
  const answered: number[] = [];
  for (const idx of instanceIdxs) {
    const answerId = answerIdOf(idx);
    const ref = answerId === undefined ? undefined : byId.get(answerId);
    if (!ref) {
      match.withoutAnswer.push(idx);
      continue;
    }
    if (ref.empty) match.emptyResponses.push(idx);
    answered.push(idx);
  }
  match.matched = answered.length;
  return { byId, match, answered };
}

/** Load an answers file against instances: the responses, in instance order, and how it matched. */
export function matchAnswers(
  file: string,
  instances: readonly EvalInstance[],
  modelId: string,
  answerIdOf: (idx: number) => number | undefined = (idx) => idx,
  duplicates: DuplicatePolicy = {},
): { responses: ResponseRow[]; match: AnswerMatch } {
  const { byId, match, answered } = scanAnswers(file, instances.map((i) => i.idx), answerIdOf, duplicates);
  const texts = answerTexts(file, byId);
  return { responses: answered.map((idx) => ({ idx, modelId, text: texts.get(answerIdOf(idx)!)!, source: 'imported' })), match };
}

/** The texts of the answers a scan kept (first occurrences), read again from the file. */
function answerTexts(file: string, byId: ReadonlyMap<number, AnswerRef>): Map<number, string> {
  const texts = new Map<number, string>();
  for (const { line, value } of rereadJsonl(file, AnswerSchema)) {
    if (byId.get(value.questionId)?.line === line) texts.set(value.questionId, value.text);
  }
  return texts;
}

export interface PreparedReview {
  instances: EvalInstance[];
  responses: ResponseRow[];
  summary: Record<string, unknown>;
}

/**
 * A review run's inputs, checked, with the rows read again from the files when they are wanted:
 * a 100,000-instance set is validated and counted without being held in memory (the plan keeps
 * ids and line numbers), then streamed to the store.
 */
export interface ReviewPlan {
  instanceCount: number;
  /** The run's instances in evaluation-set order, read again from the file at each call. */
  instances(): Generator<EvalInstance>;
  /** Their responses (answers-file order), read again at each call. */
  responses(): Generator<ResponseRow>;
  summary: Record<string, unknown>;
}

const EVAL_SET_HINT = 'Each line needs idx, instruction, answer, skill (1-3 FLASK skills), domain (list) and difficulty.';

/**
 * Plan a review run: the evaluation set and the answers, validated and joined. Only instances
 * with an answer are work items; the others are reported in the summary.
 */
export function planReview(
  evalSetFile: string,
  answersFile: string,
  modelId: string,
  limit?: number,
  opts: { answersKeyedByMainSet?: boolean; duplicates?: DuplicatePolicy } = {},
): ReviewPlan {
  // What the summary needs of each instance; the texts are read again when uploaded.
  const all: Located<QuirkFields>[] = [];
  scanJsonl(evalSetFile, EvalInstanceSchema, (line, i) => all.push({ line, value: { idx: i.idx, skills: i.skills, unlabelledDomain: i.unlabelledDomain, difficulty: i.difficulty, extra: i.extra } }), EVAL_SET_HINT);
  rejectDuplicates(evalSetFile, all, (r) => r.idx, 'idx');
  let answerIdOf = (idx: number): number | undefined => idx;
  if (opts.answersKeyedByMainSet && path.resolve(evalSetFile) !== path.resolve(DATA_FILES.evalSet)) {
    // FLASK-Hard (89 instances) against FLASK's published answers: matched by instruction.
    const map = hardToMainIdx(loadEvalSet(evalSetFile), loadEvalSet(DATA_FILES.evalSet));
    answerIdOf = (idx) => map.get(idx);
  }
  const { byId, match, answered } = scanAnswers(answersFile, all.map((r) => r.value.idx), answerIdOf, opts.duplicates ?? {});
  if (answered.length === 0) {
    throw new InputError(
      `none of the ${match.answers} answers in ${answersFile} matches an instance of ${evalSetFile} ` +
        `(${match.unknownIds.length} unknown ids, e.g. ${match.unknownIds.slice(0, 5).join(', ')}); nothing was started or stored. ` +
        'question_id must be the idx of an instance of the evaluation set (--eval-set FILE, --hard).',
    );
  }
  const answeredSet = new Set(answered);
  let kept = all.map((r) => r.value).filter((i) => answeredSet.has(i.idx));
  if (limit !== undefined) kept = kept.slice(0, limit);
  const keep = new Set(kept.map((i) => i.idx));
  // question_id -> instance idx, for the instances kept
  const instanceOf = new Map<number, number>();
  for (const idx of keep) instanceOf.set(answerIdOf(idx)!, idx);
  return {
    instanceCount: kept.length,
    *instances() {
      for (const { value } of rereadJsonl(evalSetFile, EvalInstanceSchema)) if (keep.has(value.idx)) yield value;
    },
    *responses() {
      for (const { line, value } of rereadJsonl(answersFile, AnswerSchema)) {
        const idx = instanceOf.get(value.questionId);
        if (idx !== undefined && byId.get(value.questionId)?.line === line) yield { idx, modelId, text: value.text, source: 'imported' };
      }
    },
    summary: { dataset: datasetQuirks(kept), answers: match, ...(limit !== undefined ? { limit } : {}) },
  };
}

/** planReview with its rows in memory (small sets: tests, estimates, prompts). */
export function prepareReview(...args: Parameters<typeof planReview>): PreparedReview {
  const plan = planReview(...args);
  const instances = [...plan.instances()];
  const order = new Map(instances.map((i, k) => [i.idx, k]));
  const responses = [...plan.responses()].sort((a, b) => order.get(a.idx)! - order.get(b.idx)!);
  return { instances, responses, summary: plan.summary };
}

/** One line per quirk, for the run summary printed by the CLI. */
export function describeSummary(summary: Record<string, unknown>): string[] {
  const out: string[] = [];
  const d = summary.dataset as ReturnType<typeof datasetQuirks> | undefined;
  const a = summary.answers as AnswerMatch | undefined;
  const ids = (xs: number[]) => (xs.length > 8 ? `${xs.slice(0, 8).join(', ')}, ...` : xs.join(', '));
  if (d) {
    out.push(`instances: ${d.instances}`);
    if (d.notThreeSkills.length) out.push(`instances with other than 3 skills (scored on the skills they have): ${d.notThreeSkills.length} [${ids(d.notThreeSkills)}]`);
    if (d.unlabelledDomain.length) out.push(`domain "-1" (unlabelled; that label is left out of the per-domain analysis): ${d.unlabelledDomain.length} [${ids(d.unlabelledDomain)}]`);
    if (d.unlabelledDifficulty.length) out.push(`unlabelled difficulty -1 (left out of the per-difficulty analysis): ${d.unlabelledDifficulty.length} [${ids(d.unlabelledDifficulty)}]`);
    if (d.withExtraKeys.length) out.push(`instances with extra keys (kept in instances.extra): ${d.withExtraKeys.length} [${ids(d.withExtraKeys)}]`);
  }
  if (a) {
    out.push(`answers: ${a.answers} lines, ${a.matched} matched an instance`);
    // Counted over the whole evaluation set, not the run: say so, or "40 without an answer" reads as 40 of a 300-instance run.
    const evalSetSize = a.matched + a.withoutAnswer.length;
    const limited = typeof summary.limit === 'number' ? `; --limit ${summary.limit} takes the first answered ones` : '';
    if (a.withoutAnswer.length) out.push(`evaluation-set instances without an answer (not in this run${limited}): ${a.withoutAnswer.length} of ${evalSetSize} [${ids(a.withoutAnswer)}]`);
    if (a.emptyResponses.length) out.push(`empty responses (judged as they are): ${a.emptyResponses.length} [${ids(a.emptyResponses)}]`);
    if (a.unknownIds.length) out.push(`answers for unknown ids (ignored): ${a.unknownIds.length} [${ids(a.unknownIds)}]`);
    if (a.duplicateIds.length) out.push(`duplicate answer ids (first kept): ${a.duplicateIds.length} [${ids(a.duplicateIds)}]`);
    if (a.rowsWithExtraKeys) out.push(`answer lines with extra keys (ignored keys): ${a.rowsWithExtraKeys}`);
  }
  return out;
}
