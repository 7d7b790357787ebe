import { num, tableColumns, type Reader } from '../store/reader.js';
import { parseJson } from '../store/runs.js';

/** "m1 (flask), m2 (prometheus)": a panel's judges as given on the command line. */
function givenModels(v: unknown): string | null {
  const js = parseJson<Array<{ model: string; profile: string }>>(v);
  return js && js.length > 1 ? js.map((j) => `${j.model} (${j.profile})`).join(', ') : null;
}

export interface RunOverview {
  runId: string;
  kind: string;
  modelId: string | null;
  judgeModel: string | null;
  /** judges that reviewed for the run (a panel: each reviews every instance); 0 when none yet */
  judges: number;
  /** the judges' models in the order given ("a, b" for a panel) */
  judgeModels: string | null;
  createdAt: string | null;
  /** complete: every instance reached a final state for every step of its kind and at least one succeeded;
   *  failed: every instance reached a final state and every one failed; else incomplete */
  status: 'complete' | 'failed' | 'incomplete' | 'empty';
  instances: number;
  /** instances that reached a final state (scored, failed, labelled) */
  finished: number;
  failed: number;
  promptTokens: number;
  completionTokens: number;
  /** calls sent again (re-sent after a crash or recorded as lost); null when the store has no call log */
  resentCalls: number | null;
  simulated: boolean;
  /** --batch went direct: why (runs.batch_fallback), or null */
  batchFallback: string | null;
}

/**
 * Every run with its counts, computed from the stored rows. Status is what the data says (a
 * run whose workflow is still going shows as incomplete); `flask-eval status RUN` asks Temporal.
 */
export async function readRunsOverview(r: Reader): Promise<RunOverview[]> {
  const respCols = await tableColumns(r, 'responses');
  const revCols = await tableColumns(r, 'reviews');
  const annCols = await tableColumns(r, 'annotations');
  const callCols = await tableColumns(r, 'calls');
  const runCols = await tableColumns(r, 'runs');
  const sim = (t: string, cols: Set<string>) => (cols.has('simulated') ? `OR EXISTS (SELECT 1 FROM ${t} x WHERE x.run_id = r.run_id AND x.simulated)` : '');
  const resent = callCols.size > 0
    // A lost call and the repeat marked re-sent are one re-send: counted once (the larger count, as a repeat may still be pending).
    ? `(SELECT ${callCols.has('resent') ? "greatest(count(*) FILTER (c.outcome IN ('lost', 'possibly_sent')), count(*) FILTER (coalesce(c.resent, false)))" : "count(*) FILTER (c.outcome IN ('lost', 'possibly_sent'))"} FROM calls c WHERE c.run_id = r.run_id)`
    : 'NULL';
  // A panel reviews an instance once per judge: an instance is reviewed when every judge has reviewed it.
  const judgeCol = revCols.has('judge_id') ? 'judge_id' : "''";
  const judgesN = `greatest((SELECT count(DISTINCT ${judgeCol}) FROM reviews v WHERE v.run_id = r.run_id), 1)`;
  const rows = await r.all(
    `SELECT r.run_id, r.kind, r.model_id, r.judge_model, r.created_at::VARCHAR AS created_at,
            (r.simulated ${sim('responses', respCols)} ${sim('reviews', revCols)} ${sim('annotations', annCols)}) AS simulated,
            (SELECT count(*) FROM instances i WHERE i.run_id = r.run_id) AS instances,
            (SELECT count(*) FROM responses x WHERE x.run_id = r.run_id) AS responses,
            (SELECT count(*) FROM generation_failures g WHERE g.run_id = r.run_id) AS gen_failed,
            (SELECT count(DISTINCT ${judgeCol}) FROM reviews v WHERE v.run_id = r.run_id) AS judges,
            (SELECT string_agg(DISTINCT judge_model, ', ' ORDER BY judge_model) FROM reviews v WHERE v.run_id = r.run_id) AS judge_models,
            ${runCols.has('judges') ? 'r.judges' : 'NULL'} AS judges_given,
            (SELECT count(*) FROM (SELECT idx FROM reviews v WHERE v.run_id = r.run_id GROUP BY idx HAVING count(*) >= ${judgesN})) AS reviews,
            (SELECT count(DISTINCT idx) FROM reviews v WHERE v.run_id = r.run_id AND v.status = 'failed') AS reviews_failed,
            (SELECT count(DISTINCT idx) FROM annotations a WHERE a.run_id = r.run_id AND a.status = 'failed') AS ann_failed,
            (SELECT count(*) FROM (SELECT idx FROM annotations a WHERE a.run_id = r.run_id GROUP BY idx
                                   HAVING count(*) = 3 OR bool_or(a.status = 'failed'))) AS ann_finished,
            coalesce((SELECT sum(prompt_tokens) FROM responses x WHERE x.run_id = r.run_id), 0)
              + coalesce((SELECT sum(prompt_tokens) FROM reviews v WHERE v.run_id = r.run_id), 0)
              + coalesce((SELECT sum(prompt_tokens) FROM annotations a WHERE a.run_id = r.run_id), 0) AS prompt_tokens,
            coalesce((SELECT sum(completion_tokens) FROM responses x WHERE x.run_id = r.run_id), 0)
              + coalesce((SELECT sum(completion_tokens) FROM reviews v WHERE v.run_id = r.run_id), 0)
              + coalesce((SELECT sum(completion_tokens) FROM annotations a WHERE a.run_id = r.run_id), 0) AS completion_tokens,
            ${resent} AS resent,
            ${runCols.has('batch_fallback') ? 'r.batch_fallback' : 'NULL::VARCHAR'} AS batch_fallback
     FROM runs r ORDER BY r.created_at, r.run_id`,
  );
  return rows.map((x) => {
    const instances = num(x.instances) ?? 0;
    const kind = String(x.kind);
    const reviews = num(x.reviews) ?? 0;
    const genFailed = num(x.gen_failed) ?? 0;
    // An instance is finished when its last step is final, or an earlier step failed for good.
    const finished = kind === 'annotate' ? num(x.ann_finished) ?? 0 : kind === 'infer' ? (num(x.responses) ?? 0) + genFailed : reviews + genFailed;
    const failed = (num(x.reviews_failed) ?? 0) + genFailed + (num(x.ann_failed) ?? 0);
    return {
      runId: String(x.run_id), kind, modelId: x.model_id == null ? null : String(x.model_id), judgeModel: x.judge_model == null ? null : String(x.judge_model),
      judges: num(x.judges) ?? 0, judgeModels: givenModels(x.judges_given) ?? (x.judge_models == null ? null : String(x.judge_models)),
      createdAt: x.created_at == null ? null : String(x.created_at).slice(0, 19),
      status: instances === 0 ? 'empty' : finished < instances ? 'incomplete' : failed >= instances ? 'failed' : 'complete',
      instances, finished: Math.min(finished, instances), failed,
      promptTokens: num(x.prompt_tokens) ?? 0, completionTokens: num(x.completion_tokens) ?? 0,
      resentCalls: num(x.resent), simulated: !!x.simulated, batchFallback: x.batch_fallback == null ? null : String(x.batch_fallback),
    };
  });
}
