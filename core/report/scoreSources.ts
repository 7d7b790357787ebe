import { InputError } from '../errors.js';
import { parseJson } from '../store/runs.js';
import { placeholders, type Reader } from '../store/reader.js';

/** One judge of a run, as the run was given its judges (`--judge ...` order, then any judge found only in its reviews). */
export interface RunJudge {
  id: string;
  model: string;
  profile: string;
  /** 1-based position: "J1" is the first judge given on the command line */
  position: number;
}

/**
 * Where one report column's scores come from. A run with one judge is one column (its name); a
 * panel is one column per judge ("RUN@J1", ...) and, when asked, a pooled column ("RUN@pooled").
 */
export interface ScoreSource {
  /** the column's name in tables, JSON and CSV file names */
  label: string;
  runId: string;
  /** the judge whose reviews these are (a one-judge run: its judge); null for pooled, or a run without reviews */
  judge: RunJudge | null;
  /**
   * The panel's pooled figure: only instances every judge of the run scored; per instance and
   * skill, the mean of the judges' scores that are not N/A (N/A when every judge said N/A).
   */
  pooled: boolean;
  /** the run's judges (for pooled: the judges pooled) */
  judges: RunJudge[];
}

export const POOLED_DEFINITION =
  'pooled = per instance and skill, the mean of the judges\' non-N/A scores (N/A when all are N/A), over the instances every judge scored; ' +
  'then the mean over instances; its CI resamples instances (each with all its judges\' scores)';

/** A run's judges in the order they were given: runs.judges (command line order), then judge ids found only in reviews. */
export async function runJudges(r: Reader, runId: string): Promise<RunJudge[]> {
  const [run] = await r.all(`SELECT judges FROM runs WHERE run_id = ?`, [runId]);
  const given = (parseJson<Array<{ id: string; model: string; profile: string }>>(run?.judges) ?? []);
  const found = await r.all(
    `SELECT judge_id AS id, any_value(judge_model) AS model, any_value(coalesce(judge_profile, 'flask')) AS profile
     FROM reviews WHERE run_id = ? GROUP BY judge_id ORDER BY judge_id`, [runId]);
  const foundIds = new Set(found.map((j) => String(j.id)));
  const ordered = [
    ...given.filter((j) => foundIds.has(j.id)).map((j) => ({ id: j.id, model: j.model, profile: j.profile })),
    ...found.filter((j) => !given.some((g) => g.id === j.id)).map((j) => ({ id: String(j.id), model: String(j.model ?? ''), profile: String(j.profile) })),
  ];
  return ordered.map((j, k) => ({ ...j, position: k + 1 }));
}

/** "J2 = gpt-4o (prometheus) [<id>]" */
export function judgeLegend(j: RunJudge): string {
  return `J${j.position} = ${j.model} (${j.profile}) [${j.id}]`;
}

/**
 * The report columns of the names given: "RUN" (a panel expands to one column per judge, and a
 * pooled one with `pooled`), "RUN@J2" / "RUN@2" / "RUN@<judge id>" / "RUN@<model>" (one judge),
 * "RUN@pooled". Names of runs that do not exist are returned as plain columns (the caller says so).
 */
export async function resolveScoreSources(r: Reader, names: readonly string[], opts: { pooled?: boolean } = {}): Promise<ScoreSource[]> {
  const out: ScoreSource[] = [];
  for (const name of names) {
    const at = name.indexOf('@');
    const runId = at < 0 ? name : name.slice(0, at);
    const sel = at < 0 ? null : name.slice(at + 1);
    const judges = await runJudges(r, runId);
    const one = (j: RunJudge | null, label: string): ScoreSource => ({ label, runId, judge: j, pooled: false, judges });
    const pooled = (): ScoreSource => ({ label: `${runId}@pooled`, runId, judge: null, pooled: true, judges });
    if (sel === null) {
      if (judges.length <= 1) out.push(one(judges[0] ?? null, runId));
      else {
        for (const j of judges) out.push(one(j, `${runId}@J${j.position}`));
        if (opts.pooled) out.push(pooled());
      }
      continue;
    }
    if (sel === 'pooled') {
      if (judges.length < 2) throw new InputError(`"${name}": run "${runId}" has ${judges.length} judge(s); pooling needs a panel`);
      out.push(pooled());
      continue;
    }
    const j = judges.find((x) => `J${x.position}` === sel.toUpperCase() || String(x.position) === sel || x.id === sel)
      ?? (judges.filter((x) => x.model === sel).length === 1 ? judges.find((x) => x.model === sel) : undefined);
    if (!j) {
      throw new InputError(`"${name}": run "${runId}" has no judge "${sel}"; its judges: ${judges.map(judgeLegend).join('; ') || '(none)'} ` +
        `(use ${runId}@J1, ${runId}@<judge id> or ${runId}@pooled)`);
    }
    out.push(one(j, judges.length <= 1 ? runId : `${runId}@J${j.position}`));
  }
  return out;
}

/**
 * SQL of the sources' scores of scored reviews: columns src (the source's index), run_id, idx,
 * skill, skill_key, score (NULL = N/A), and its parameters. A review and its scores are one
 * judge's (joined on the judge too: a panel has one review per judge and instance).
 */
export function sourceScoresSql(sources: readonly ScoreSource[]): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const scored = `review_scores s JOIN reviews v ON v.run_id = s.run_id AND v.idx = s.idx AND v.judge_id = s.judge_id AND v.status = 'scored'`;
  sources.forEach((src, k) => {
    if (src.pooled) {
      parts.push(
        `SELECT ${k} AS src, s.run_id, s.idx, s.skill, any_value(s.skill_key) AS skill_key, avg(s.score) AS score FROM ${scored}
         WHERE s.run_id = ? AND s.judge_id IN (${placeholders(src.judges.length)})
           AND s.idx IN (SELECT idx FROM reviews WHERE run_id = ? AND status = 'scored' AND judge_id IN (${placeholders(src.judges.length)})
                         GROUP BY idx HAVING count(DISTINCT judge_id) = ${src.judges.length})
         GROUP BY s.run_id, s.idx, s.skill`);
      params.push(src.runId, ...src.judges.map((j) => j.id), src.runId, ...src.judges.map((j) => j.id));
    } else {
      parts.push(`SELECT ${k} AS src, s.run_id, s.idx, s.skill, s.skill_key, s.score FROM ${scored} WHERE s.run_id = ?${src.judge ? ' AND s.judge_id = ?' : ''}`);
      params.push(src.runId, ...(src.judge ? [src.judge.id] : []));
    }
  });
  return { sql: parts.join('\nUNION ALL\n'), params };
}
