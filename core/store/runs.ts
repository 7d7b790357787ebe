import { z } from 'zod';
import type { Sql } from './database.js';
import { InputError } from '../errors.js';

const RunKind = z.enum(['review', 'infer', 'eval', 'annotate']);
type RunKind = z.output<typeof RunKind>;

/** Sampling settings sent with every call of one role (judge, evaluated model, annotator). */
export const SamplingSettings = z.object({
  temperature: z.number().min(0).max(2),
  maxTokens: z.number().int().positive(),
  topP: z.number().gt(0).max(1).optional(),
  seed: z.number().int().optional(),
  systemPrompt: z.string().optional(),
  /**
   * Annotation runs: true when the user set temperature / max tokens; otherwise each stage's
   * FLASK settings apply (the domain stage, for one, was sent at temperature 0).
   */
  override: z.boolean().optional(),
  /** Bounded re-asks when the answer cannot be parsed. */
  maxParseAttempts: z.number().int().min(1).max(10).optional(),
  /** --judge-samples K: each instance judged K times */
  samples: z.number().int().min(1).max(20).optional(),
  /** --skill-order reversed: the skill-order probe */
  skillOrder: z.enum(['given', 'reversed']).optional(),
});
export type SamplingSettings = z.output<typeof SamplingSettings>;

/** A run's provenance, as stored in the runs table. No secrets: endpoints are host names. */
export const RunRecordSchema = z.object({
  runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'run names use letters, digits, ".", "_" and "-" (max 100)'),
  kind: RunKind,
  simulated: z.boolean(),
  datasetPath: z.string().nullable(),
  datasetSha256: z.string().nullable(),
  answersPath: z.string().nullable(),
  answersSha256: z.string().nullable(),
  modelId: z.string().nullable(),
  modelEndpoint: z.string().nullable(),
  modelSettings: SamplingSettings.nullable(),
  judgeModel: z.string().nullable(),
  judgeEndpoint: z.string().nullable(),
  judgeSettings: SamplingSettings.nullable(),
  promptTemplateSha256: z.string().nullable(),
  /** The endpoints the run is bound to: base URL (no key) and the task queue named from it. */
  judgeBaseUrl: z.string().nullable().optional(),
  judgeQueue: z.string().nullable().optional(),
  modelBaseUrl: z.string().nullable().optional(),
  modelQueue: z.string().nullable().optional(),
  /** How the judge is asked (core/judges): flask | prometheus; the profile's hash is promptTemplateSha256. */
  judgeProfile: z.string().nullable().optional(),
  /** A panel's judges (every judge that ever reviewed for the run: a judge added later is appended). */
  judges: z.array(z.object({ id: z.string(), model: z.string(), baseUrl: z.string(), profile: z.string(), settings: SamplingSettings.optional() })).nullable().optional(),
  projectVersion: z.string(),
  summary: z.record(z.string(), z.unknown()),
});
export type RunRecord = z.output<typeof RunRecordSchema>;

/** The settings that define what a run computes: a second invocation must agree on them. */
const IDENTITY_FIELDS = ['kind', 'datasetSha256', 'answersSha256', 'modelId', 'modelBaseUrl', 'promptTemplateSha256'] as const;
/** The judge may change only when asked (`--change-judge`); each row records its own judge. */
const JUDGE_FIELDS = ['judgeModel', 'judgeBaseUrl'] as const;

/**
 * Insert the run, or check that an existing run with this name is the same run.
 * Returns true when the run already existed (a resume).
 */
export async function createOrMatchRun(sql: Sql, run: RunRecord, opts: { changeJudge?: boolean } = {}): Promise<boolean> {
  const existing = await getRun(sql, run.runId);
  if (existing && run.judges?.length) {
    const known = new Set((existing.judges ?? []).map((j) => j.id));
    const added = run.judges.filter((j) => !known.has(j.id));
    if (added.length > 0) await sql.exec(`UPDATE runs SET judges = ?::JSON WHERE run_id = ?`, [JSON.stringify([...(existing.judges ?? []), ...added]), run.runId]);
  }
  if (existing) {
    // Runs written before endpoints were recorded have no base URLs, and a run imported without
    // a judge has no prompt template yet: nothing to compare there.
    const unset = (f: (typeof IDENTITY_FIELDS)[number]) => (f === 'modelBaseUrl' || f === 'promptTemplateSha256') && !existing[f];
    const diffs: string[] = IDENTITY_FIELDS.filter((f) => !unset(f) && (existing[f] ?? null) !== (run[f] ?? null));
    const judgeDiffs = JUDGE_FIELDS.filter((f) => !(f === 'judgeBaseUrl' && !existing[f]) && (existing[f] ?? null) !== (run[f] ?? null));
    if (diffs.length === 0 && (judgeDiffs.length > 0 || !existing.promptTemplateSha256) && opts.changeJudge) {
      await sql.exec(
        `UPDATE runs SET judge_model = ?, judge_endpoint = ?, judge_base_url = ?, judge_queue = ?, judge_settings = ?::JSON,
           prompt_template_sha256 = coalesce(prompt_template_sha256, ?), judge_profile = coalesce(judge_profile, ?), simulated = simulated OR ? WHERE run_id = ?`,
        [run.judgeModel, run.judgeEndpoint, run.judgeBaseUrl ?? null, run.judgeQueue ?? null, json(run.judgeSettings), run.promptTemplateSha256,
          run.judgeProfile ?? null, run.simulated, run.runId],
      );
      return true;
    }
    if (judgeDiffs.length > 0 && !opts.changeJudge) {
      throw new InputError(
        `run "${run.runId}" is judged by ${existing.judgeModel} at ${existing.judgeBaseUrl ?? existing.judgeEndpoint}, not ${run.judgeModel} at ${run.judgeBaseUrl}. ` +
          'Pass --change-judge to judge its remaining instances with the new judge (each row records its judge), or use the same judge to resume it.',
      );
    }
    if (!existing.judgeBaseUrl && run.judgeBaseUrl && judgeDiffs.length === 0) {
      // A run from before endpoints were recorded: bind it now.
      await sql.exec(`UPDATE runs SET judge_base_url = ?, judge_queue = ? WHERE run_id = ?`, [run.judgeBaseUrl, run.judgeQueue ?? null, run.runId]);
    }
    for (const f of ['judgeSettings', 'modelSettings'] as const) {
      if (JSON.stringify(existing[f] ?? null) !== JSON.stringify(run[f] ?? null)) diffs.push(f);
    }
    if (existing.summary.skillShuffleSeed !== run.summary.skillShuffleSeed) diffs.push('skillShuffleSeed');
    if (diffs.length > 0) {
      throw new InputError(
        `run "${run.runId}" already exists with different ${diffs.map((d) => `${d} (stored ${show(existing, d)}, now ${show(run, d)})`).join(', ')}. ` +
          'Use another --run name, or the same inputs and settings to resume it.',
      );
    }
    return true;
  }
  await sql.exec(
    `INSERT INTO runs (run_id, kind, simulated, dataset_path, dataset_sha256, answers_path, answers_sha256, model_id, model_endpoint,
       model_settings, judge_model, judge_endpoint, judge_settings, prompt_template_sha256, project_version, summary,
       judge_base_url, judge_queue, model_base_url, model_queue, judge_profile, judges)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::JSON, ?, ?, ?::JSON, ?, ?, ?::JSON, ?, ?, ?, ?, ?, ?::JSON) ON CONFLICT DO NOTHING`,
    [
      run.runId, run.kind, run.simulated, run.datasetPath, run.datasetSha256, run.answersPath, run.answersSha256, run.modelId,
      run.modelEndpoint, json(run.modelSettings), run.judgeModel, run.judgeEndpoint, json(run.judgeSettings),
      run.promptTemplateSha256, run.projectVersion, JSON.stringify(run.summary),
      run.judgeBaseUrl ?? null, run.judgeQueue ?? null, run.modelBaseUrl ?? null, run.modelQueue ?? null, run.judgeProfile ?? null,
      json(run.judges),
    ],
  );
  return false;
}

export async function getRun(sql: Pick<Sql, 'one'>, runId: string): Promise<RunRecord | undefined> {
  const row = await sql.one(`SELECT * FROM runs WHERE run_id = ?`, [runId]);
  if (!row) return undefined;
  return {
    runId: row.run_id as string,
    kind: row.kind as RunKind,
    simulated: row.simulated as boolean,
    datasetPath: row.dataset_path as string | null,
    datasetSha256: row.dataset_sha256 as string | null,
    answersPath: row.answers_path as string | null,
    answersSha256: row.answers_sha256 as string | null,
    modelId: row.model_id as string | null,
    modelEndpoint: row.model_endpoint as string | null,
    modelSettings: parseJson(row.model_settings),
    judgeModel: row.judge_model as string | null,
    judgeEndpoint: row.judge_endpoint as string | null,
    judgeSettings: parseJson(row.judge_settings),
    promptTemplateSha256: row.prompt_template_sha256 as string | null,
    judgeBaseUrl: (row.judge_base_url as string | null) ?? null,
    judgeQueue: (row.judge_queue as string | null) ?? null,
    modelBaseUrl: (row.model_base_url as string | null) ?? null,
    modelQueue: (row.model_queue as string | null) ?? null,
    judgeProfile: (row.judge_profile as string | null) ?? null,
    judges: parseJson(row.judges),
    projectVersion: row.project_version as string,
    summary: parseJson(row.summary) ?? {},
  };
}

function show(r: RunRecord, field: string): string {
  const v = field === 'skillShuffleSeed' ? r.summary.skillShuffleSeed : (r as unknown as Record<string, unknown>)[field];
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

export function parseJson<T>(v: unknown): T | null {
  if (v === null || v === undefined) return null;
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}
