import type { Sql } from '../core/store/sql.js';
import { InputError } from '../core/errors.js';
import { getRun, parseJson } from '../core/store/runs.js';
import { landResults } from '../core/store/landResults.js';
import type { StepOutcome, StepSettings } from '../core/pipeline.js';
import { splitCallTexts, stepRequest } from './stepRequests.js';

export interface RescoreResult {
  runId: string;
  reviews: number;
  /** Reviews whose status or scores differ from the source's. */
  changed: number;
  scored: number;
  failed: number;
}

/**
 * `flask-eval rescore`: every stored review of `source` parsed again from its stored judge text
 * with the current parser and judge profile, into `target` (a new run with the source's instances
 * and responses and no calls: nothing was asked) or into the source itself (`target` = source).
 * One transaction (the caller's): a failure leaves both runs as they were. A review stored without
 * text (its calls failed) stays failed: `--retry-failed` asks those again.
 */
export async function rescoreReviews(sql: Sql, source: string, target: string): Promise<RescoreResult> {
  const run = await getRun(sql, source);
  if (!run) throw new InputError(`no run named "${source}" (flask-eval runs lists them)`);
  if (run.kind !== 'review' && run.kind !== 'eval') throw new InputError(`run "${source}" is an ${run.kind} run: rescore re-parses reviews (review and eval runs)`);
  const inPlace = target === source;
  if (!inPlace) {
    if (await getRun(sql, target)) throw new InputError(`run "${target}" exists: choose another name with --into NAME, or rescore in place with --in-place`);
    await sql.exec(`INSERT INTO runs SELECT * REPLACE (? AS run_id, current_timestamp AS created_at, json_merge_patch(coalesce(summary, '{}'), json_object('rescoredFrom', ?)) AS summary) FROM runs WHERE run_id = ?`, [target, source, source]);
    for (const t of ['instances', 'responses', 'generation_failures']) await sql.exec(`INSERT INTO ${t} SELECT * REPLACE (? AS run_id) FROM ${t} WHERE run_id = ?`, [target, source]);
  }
  const rows = await sql.all(
    `SELECT v.*, i.instruction, coalesce(i.answer, '') AS answer, coalesce(i.skills, []) AS skills, x.text AS response,
            (SELECT to_json(list({'skill': s.skill, 'score': s.score})) FROM review_scores s WHERE s.run_id = v.run_id AND s.idx = v.idx AND s.judge_id = v.judge_id) AS old_scores
     FROM reviews v JOIN instances i USING (run_id, idx) LEFT JOIN responses x USING (run_id, idx) WHERE v.run_id = ? ORDER BY v.judge_id, i.ord`,
    [source],
  );
  const settingsOf = (judgeId: string, profile: string): StepSettings => {
    const panel = run.judges?.find((j) => j.id === judgeId)?.settings;
    return { ...(panel ?? run.judgeSettings ?? { temperature: 0, maxTokens: 1024 }), judgeProfile: profile };
  };
  const byJudge = new Map<string, { endpoint: string; model: string; profile: string; outcomes: StepOutcome[] }>();
  const result: RescoreResult = { runId: target, reviews: rows.length, changed: 0, scored: 0, failed: 0 };
  for (const r of rows) {
    const judgeId = String(r.judge_id ?? '');
    const profile = String(r.judge_profile ?? 'flask');
    const item = { idx: Number(r.idx), instruction: String(r.instruction), answer: String(r.answer), skills: (r.skills as string[]).map(String), ...(r.response != null ? { response: String(r.response) } : {}) };
    const asked = stepRequest('review', item, settingsOf(judgeId, profile), 0);
    const text = r.raw_text == null ? undefined : String(r.raw_text);
    const base = {
      idx: item.idx, text, attempts: Number(r.attempts ?? 0), promptTokens: Number(r.prompt_tokens ?? 0), completionTokens: Number(r.completion_tokens ?? 0),
      simulated: r.simulated === true, startedAt: String(r.started_at ?? new Date().toISOString()), finishedAt: String(r.finished_at ?? new Date().toISOString()), calls: [],
      ...(r.served_model != null ? { servedModel: String(r.served_model) } : {}), ...(r.review_template != null ? { template: String(r.review_template) } : {}),
    };
    let outcome: StepOutcome;
    const parts = text !== undefined && !('cannot' in asked) ? splitCallTexts(asked, text) : undefined;
    if ('cannot' in asked || text === undefined || !parts || parts.length !== asked.calls.length) {
      outcome = { ...base, status: 'failed', error: String(r.error ?? ('cannot' in asked ? asked.cannot : 'no judge text to parse')) };
    } else {
      const parsed = parts.map((t, i) => asked.calls[i]!.parse(t));
      const bad = parsed.findIndex((p) => !p.ok);
      if (bad >= 0) {
        outcome = { ...base, status: 'failed', error: `unparseable answer on rescore${parts.length > 1 ? ` (call ${bad + 1} of ${parts.length})` : ''}: ${(parsed[bad] as { reason: string }).reason}` };
      } else {
        const values = parsed.map((p) => (p as { value: unknown }).value);
        outcome = { ...base, status: 'done', value: asked.combine(values), ...(asked.samples ? { samples: asked.samples(values) } : {}) };
      }
    }
    if (outcome.status === 'done') result.scored++;
    else result.failed++;
    if (changedFrom(r, outcome)) result.changed++;
    const j = byJudge.get(judgeId) ?? { endpoint: String(r.endpoint ?? run.judgeBaseUrl ?? ''), model: String(r.judge_model ?? ''), profile, outcomes: [] };
    j.outcomes.push(outcome);
    byJudge.set(judgeId, j);
  }
  if (inPlace) for (const t of ['review_sample_scores', 'review_scores', 'reviews']) await sql.exec(`DELETE FROM ${t} WHERE run_id = ?`, [source]);
  for (const [judgeId, j] of byJudge) {
    await landResults(sql, target, 'review', { id: '', baseUrl: j.endpoint, model: j.model, queue: '' }, j.outcomes, { judgeProfile: j.profile, judgeId });
  }
  return result;
}

/** Whether a review's status or scores differ from what was stored. */
function changedFrom(row: Record<string, unknown>, o: StepOutcome): boolean {
  const wasScored = row.status === 'scored';
  if (wasScored !== (o.status === 'done')) return true;
  if (!wasScored) return false;
  const old = new Map((parseJson<Array<{ skill: string; score: number | null }>>(row.old_scores) ?? []).map((s) => [s.skill, s.score === null ? 'N/A' : Number(s.score)]));
  const now = Object.entries(o.value as Record<string, number | 'N/A'>);
  return now.length !== old.size || now.some(([skill, score]) => old.get(skill) !== score);
}
