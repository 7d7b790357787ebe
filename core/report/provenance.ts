import { parseJson } from '../store/runs.js';
import { num, optionalColumn, placeholders, tableColumns, type Reader } from '../store/reader.js';
import { runJudges, type RunJudge } from './scoreSources.js';

/** What a reader needs to know about where a run's figures come from. */
export interface RunProvenance {
  runId: string;
  kind: string;
  createdAt: string | null;
  /** true when the run, or any of its stored rows, came from the offline (simulated) endpoint */
  simulated: boolean;
  /** which of its roles the offline endpoint played (empty when a store too old to say) */
  simulatedRoles: SimulatedRole[];
  modelId: string | null;
  modelEndpoint: string | null;
  modelSettings: unknown;
  judgeModel: string | null;
  judgeEndpoint: string | null;
  judgeSettings: unknown;
  datasetPath: string | null;
  datasetSha256: string | null;
  answersPath: string | null;
  answersSha256: string | null;
  promptTemplateSha256: string | null;
  projectVersion: string | null;
  /** served model names the endpoints answered with, when the store records them */
  servedModels: string[];
  instances: number;
  responses: number;
  scored: number;
  failed: number;
  firstReviewAt: string | null;
  lastReviewAt: string | null;
  summary: Record<string, unknown> | null;
  /** the run's judges in the order given, each with its own counts (a panel reviews every instance once per judge) */
  judges: Array<RunJudge & { scored: number; failed: number }>;
}

type SimulatedRole = 'judge' | 'model under test' | 'annotator';

/** endpointHost() of the offline server, as runs.judge_endpoint / model_endpoint record it. */
const OFFLINE_HOST = 'offline (simulated)';

/**
 * The roles the offline endpoint played in a run: by its recorded endpoints, or by its rows
 * (responses: the model under test; reviews: the judge; annotations: the annotator).
 */
function simulatedRolesOf(x: Record<string, unknown>): SimulatedRole[] {
  const roles: SimulatedRole[] = [];
  if (x.model_endpoint === OFFLINE_HOST || x.responses_simulated) roles.push('model under test');
  const judgeRole: SimulatedRole = x.kind === 'annotate' ? 'annotator' : 'judge';
  if (x.judge_endpoint === OFFLINE_HOST || x.reviews_simulated || x.annotations_simulated) roles.push(judgeRole);
  return roles;
}

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** Provenance of each run, in the order asked; missing runs are left out (the caller names them). */
export async function readProvenance(r: Reader, runIds: readonly string[]): Promise<RunProvenance[]> {
  if (runIds.length === 0) return [];
  const respCols = await tableColumns(r, 'responses');
  const revCols = await tableColumns(r, 'reviews');
  const annCols = await tableColumns(r, 'annotations');
  const simulatedRows = (t: string, cols: Set<string>) => (cols.has('simulated') ? `EXISTS (SELECT 1 FROM ${t} x WHERE x.run_id = r.run_id AND x.simulated)` : 'false');
  const served = [
    respCols.has('served_model') ? `SELECT DISTINCT served_model AS m FROM responses x WHERE x.run_id = r.run_id AND served_model IS NOT NULL` : null,
    revCols.has('served_model') ? `SELECT DISTINCT served_model AS m FROM reviews x WHERE x.run_id = r.run_id AND served_model IS NOT NULL` : null,
  ].filter(Boolean);
  const rows = await r.all(
    `SELECT r.*, ${simulatedRows('responses', respCols)} AS responses_simulated, ${simulatedRows('reviews', revCols)} AS reviews_simulated,
            ${simulatedRows('annotations', annCols)} AS annotations_simulated,
            ${served.length ? `(SELECT list(DISTINCT m) FROM (${served.join(' UNION ')}))` : 'NULL::VARCHAR[]'} AS served_models,
            (SELECT count(*) FROM instances i WHERE i.run_id = r.run_id) AS n_instances,
            (SELECT count(*) FROM responses x WHERE x.run_id = r.run_id) AS n_responses,
            (SELECT count(*) FROM reviews v WHERE v.run_id = r.run_id AND v.status = 'scored') AS n_scored,
            (SELECT count(*) FROM reviews v WHERE v.run_id = r.run_id AND v.status = 'failed') AS n_failed,
            (SELECT min(${optionalColumn(revCols, 'v', 'started_at', 'TIMESTAMP')})::VARCHAR FROM reviews v WHERE v.run_id = r.run_id) AS first_review,
            (SELECT max(${optionalColumn(revCols, 'v', 'finished_at', 'TIMESTAMP')})::VARCHAR FROM reviews v WHERE v.run_id = r.run_id) AS last_review
     FROM runs r WHERE r.run_id IN (${placeholders(runIds.length)})`,
    [...runIds],
  );
  const byId = new Map(rows.map((x) => [String(x.run_id), x]));
  const judgesOf = new Map<string, RunProvenance['judges']>();
  for (const id of runIds.filter((i) => byId.has(i))) {
    const counts = await r.all(
      `SELECT judge_id, count(*) FILTER (status = 'scored') AS scored, count(*) FILTER (status = 'failed') AS failed FROM reviews WHERE run_id = ? GROUP BY judge_id`, [id]);
    const of = new Map(counts.map((c) => [String(c.judge_id), c]));
    judgesOf.set(id, (await runJudges(r, id)).map((j) => ({ ...j, scored: num(of.get(j.id)?.scored) ?? 0, failed: num(of.get(j.id)?.failed) ?? 0 })));
  }
  return runIds.filter((id) => byId.has(id)).map((id) => {
    const x = byId.get(id)!;
    return {
      judges: judgesOf.get(id)!,
      runId: id,
      kind: String(x.kind),
      createdAt: str(x.created_at),
      simulated: !!x.simulated || !!x.responses_simulated || !!x.reviews_simulated || !!x.annotations_simulated,
      simulatedRoles: simulatedRolesOf(x),
      modelId: str(x.model_id),
      modelEndpoint: str(x.model_endpoint),
      modelSettings: parseJson(x.model_settings) ?? null,
      judgeModel: str(x.judge_model),
      judgeEndpoint: str(x.judge_endpoint),
      judgeSettings: parseJson(x.judge_settings) ?? null,
      datasetPath: str(x.dataset_path),
      datasetSha256: str(x.dataset_sha256),
      answersPath: str(x.answers_path),
      answersSha256: str(x.answers_sha256),
      promptTemplateSha256: str(x.prompt_template_sha256),
      projectVersion: str(x.project_version),
      servedModels: ((x.served_models as string[] | null) ?? []).map(String),
      instances: num(x.n_instances) ?? 0,
      responses: num(x.n_responses) ?? 0,
      scored: num(x.n_scored) ?? 0,
      failed: num(x.n_failed) ?? 0,
      firstReviewAt: str(x.first_review),
      lastReviewAt: str(x.last_review),
      summary: (parseJson<Record<string, unknown>>(x.summary) ?? null),
    };
  });
}
