import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AnswerSchema, datasetQuirks, loadEvalSet, rejectDuplicates, type DuplicatePolicy, type EvalInstance } from './dataset.js';
import { InputError } from './errors.js';
import { readJsonl } from './jsonl.js';
import type { ResponseRow } from './store/instances.js';
import { hardToMainIdx } from './flaskHard.js';
import { DATA_FILES } from './paths.js';
import path from 'node:path';

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
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
export const KEEP_FIRST_DUPLICATE_FLAG = '--keep-first-duplicate';

/**
 * Load an answers file (FLASK's model_outputs format) against instances. A duplicated id is an
 * error naming both lines, unless the policy keeps the first (counted in duplicateIds).
 * `answerIdOf` maps an instance to the question_id its answer carries (the identity, except for
 * FLASK-Hard against FLASK's published answers).
 */
export function matchAnswers(
  file: string,
  instances: readonly EvalInstance[],
  modelId: string,
  answerIdOf: (idx: number) => number | undefined = (idx) => idx,
  duplicates: DuplicatePolicy = {},
): { responses: ResponseRow[]; match: AnswerMatch } {
  const rows = readJsonl(file, AnswerSchema, 'Each line needs question_id (the instance idx) and text (the response; may be empty).');
  rejectDuplicates(file, rows, (a) => a.questionId, 'question_id', { flag: KEEP_FIRST_DUPLICATE_FLAG, ...duplicates });
  const known = new Set(instances.map((i) => answerIdOf(i.idx)).filter((x): x is number => x !== undefined));
  const byId = new Map<number, string>();
  const match: AnswerMatch = { answers: rows.length, matched: 0, emptyResponses: [], withoutAnswer: [], unknownIds: [], duplicateIds: [], rowsWithExtraKeys: 0 };
  const seen = new Set<number>();
  for (const { value } of rows) {
    if (value.extraKeys.length > 0) match.rowsWithExtraKeys += 1;
    if (seen.has(value.questionId)) match.duplicateIds.push(value.questionId);
    else if (!known.has(value.questionId)) match.unknownIds.push(value.questionId);
    else byId.set(value.questionId, value.text);
    seen.add(value.questionId);
  }
  const responses: ResponseRow[] = [];
  for (const inst of instances) {
    const answerId = answerIdOf(inst.idx);
    const text = answerId === undefined ? undefined : byId.get(answerId);
    if (text === undefined) {
      match.withoutAnswer.push(inst.idx);
      continue;
    }
    if (text.trim() === '') match.emptyResponses.push(inst.idx);
    responses.push({ idx: inst.idx, modelId, text, source: 'imported' });
  }
  match.matched = responses.length;
  return { responses, match };
}

export interface PreparedReview {
  instances: EvalInstance[];
  responses: ResponseRow[];
  summary: Record<string, unknown>;
}

/**
 * A review run's inputs: the evaluation set and the answers, validated and joined. Only
 * instances with an answer are work items; the others are reported in the summary.
 */
export function prepareReview(
  evalSetFile: string,
  answersFile: string,
  modelId: string,
  limit?: number,
  opts: { answersKeyedByMainSet?: boolean; duplicates?: DuplicatePolicy } = {},
): PreparedReview {
  const all = loadEvalSet(evalSetFile);
  let answerIdOf: ((idx: number) => number | undefined) | undefined;
  if (opts.answersKeyedByMainSet && path.resolve(evalSetFile) !== path.resolve(DATA_FILES.evalSet)) {
    const map = hardToMainIdx(all, loadEvalSet(DATA_FILES.evalSet));
    answerIdOf = (idx) => map.get(idx);
  }
  const { responses, match } = matchAnswers(answersFile, all, modelId, answerIdOf, opts.duplicates);
  if (responses.length === 0) {
    throw new InputError(
      `none of the ${match.answers} answers in ${answersFile} matches an instance of ${evalSetFile} ` +
        `(${match.unknownIds.length} unknown ids, e.g. ${match.unknownIds.slice(0, 5).join(', ')}); nothing was started or stored. ` +
        'question_id must be the idx of an instance of the evaluation set (--eval-set FILE, --hard).',
    );
  }
  const answered = new Set(responses.map((r) => r.idx));
  let instances = all.filter((i) => answered.has(i.idx));
  if (limit !== undefined) instances = instances.slice(0, limit);
  const keep = new Set(instances.map((i) => i.idx));
  return {
    instances,
    responses: responses.filter((r) => keep.has(r.idx)),
    summary: { dataset: datasetQuirks(instances), answers: match, ...(limit !== undefined ? { limit } : {}) },
  };
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
    if (a.withoutAnswer.length) out.push(`instances without an answer (not reviewed): ${a.withoutAnswer.length} [${ids(a.withoutAnswer)}]`);
    if (a.emptyResponses.length) out.push(`empty responses (judged as they are): ${a.emptyResponses.length} [${ids(a.emptyResponses)}]`);
    if (a.unknownIds.length) out.push(`answers for unknown ids (ignored): ${a.unknownIds.length} [${ids(a.unknownIds)}]`);
    if (a.duplicateIds.length) out.push(`duplicate answer ids (first kept): ${a.duplicateIds.length} [${ids(a.duplicateIds)}]`);
    if (a.rowsWithExtraKeys) out.push(`answer lines with extra keys (ignored keys): ${a.rowsWithExtraKeys}`);
  }
  return out;
}
