import { parseJson } from '../store/runs.js';
import { num, tableColumns, type Reader } from '../store/reader.js';
import { runJudges, type RunJudge } from './scoreSources.js';

export interface InstanceDetail {
  runId: string;
  idx: number;
  /** the run came from the offline endpoint */
  simulated: boolean;
  instruction: string;
  reference: string | null;
  task: string | null;
  skills: string[];
  domains: string[];
  difficulty: string | null;
  response: Record<string, unknown> | null;
  generationFailure: string | null;
  /** the first judge's review and scores (J1 of a panel) */
  review: Record<string, unknown> | null;
  scores: { skill: string; score: number | null }[];
  /** every judge's review and scores, in the order the judges were given (one for a one-judge run) */
  reviews: { judge: RunJudge | null; review: Record<string, unknown>; scores: { skill: string; score: number | null }[] }[];
  annotations: Record<string, unknown>[];
  /** per (step, outcome) call counts, when the store keeps a call log */
  calls: { step: string; outcome: string; calls: number }[] | null;
}

/** Everything stored about one instance of one run; undefined when the run has no such instance. */
export async function readInstanceDetail(r: Reader, runId: string, idx: number): Promise<InstanceDetail | undefined> {
  const [inst] = await r.all(`SELECT i.*, r.simulated AS run_simulated FROM instances i JOIN runs r USING (run_id) WHERE i.run_id = ? AND i.idx = ?`, [runId, idx]);
  if (!inst) return undefined;
  const [response] = await r.all(`SELECT * EXCLUDE (run_id, idx) FROM responses WHERE run_id = ? AND idx = ?`, [runId, idx]);
  const [genFail] = await r.all(`SELECT reason FROM generation_failures WHERE run_id = ? AND idx = ?`, [runId, idx]);
  const judges = await runJudges(r, runId);
  const position = (id: unknown) => judges.find((j) => j.id === id)?.position ?? judges.length + 1;
  const reviewRows = (await r.all(`SELECT * EXCLUDE (run_id, idx) FROM reviews WHERE run_id = ? AND idx = ?`, [runId, idx]))
    .sort((a, b) => position(a.judge_id) - position(b.judge_id));
  const scoreRows = await r.all(
    `SELECT s.skill, s.score, s.judge_id FROM review_scores s JOIN instances i USING (run_id, idx)
     WHERE s.run_id = ? AND s.idx = ? ORDER BY coalesce(list_position(i.skills, s.skill), 99), s.skill`, [runId, idx]);
  const reviews = reviewRows.map((v) => ({
    judge: judges.length > 1 ? judges.find((j) => j.id === v.judge_id) ?? null : null,
    review: plainRow(v)!,
    scores: scoreRows.filter((s) => s.judge_id === v.judge_id).map((s) => ({ skill: String(s.skill), score: num(s.score) })),
  }));
  const annotations = await r.all(
    `SELECT * EXCLUDE (run_id, idx) FROM annotations WHERE run_id = ? AND idx = ?
     ORDER BY CASE stage WHEN 'domain' THEN 1 WHEN 'skillset' THEN 2 ELSE 3 END`, [runId, idx]);
  const callCols = await tableColumns(r, 'calls');
  const calls = callCols.size === 0 ? null : (await r.all(
    `SELECT step::VARCHAR AS step, outcome::VARCHAR AS outcome, count(*) AS calls FROM calls WHERE run_id = ? AND idx = ? GROUP BY ALL ORDER BY 1, 2`, [runId, idx],
  )).map((c) => ({ step: String(c.step), outcome: String(c.outcome), calls: num(c.calls) ?? 0 }));
  const plain = plainRow;
  return {
    runId, idx, simulated: !!inst.run_simulated,
    instruction: String(inst.instruction),
    reference: inst.answer == null ? null : String(inst.answer),
    task: inst.task == null ? null : String(inst.task),
    skills: ((inst.skills as string[] | null) ?? []).map(String),
    domains: ((inst.domains as string[] | null) ?? []).map(String),
    difficulty: inst.difficulty == null ? null : String(inst.difficulty),
    response: plain(response),
    generationFailure: genFail ? String(genFail.reason) : null,
    review: reviews[0]?.review ?? null,
    scores: reviews[0]?.scores ?? [],
    reviews,
    annotations: annotations.map((a) => ({ ...plain(a)!, label: parseJson(a.label), numbering: parseJson(a.numbering) })),
    calls,
  };
}

function plainRow(o: Record<string, unknown> | undefined): Record<string, unknown> | null {
  return o ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])) : null;
}

/** The instance as a terminal page: every text whole, labelled sections. */
export function instanceDetailText(d: InstanceDetail): string {
  const out: string[] = [];
  const section = (title: string, body: string) => out.push(`== ${title}`, body === '' ? '(empty)' : body, '');
  out.push(`run ${d.runId}, instance ${d.idx}${d.task ? ` (task ${d.task})` : ''}${d.simulated ? '  [SIMULATED: offline endpoint]' : ''}`);
  out.push(`skills: ${d.skills.join(', ') || '-'}; domains: ${d.domains.join(', ') || '- (unlabelled)'}; difficulty: ${d.difficulty ?? '- (unlabelled)'}`, '');
  section('instruction', d.instruction);
  section('reference answer', d.reference ?? '(none)');
  if (d.response) {
    const r = d.response;
    section(`response (model ${r.model_id}, ${r.source}${r.finish_reason ? `, finish ${r.finish_reason}` : ''}${r.completion_tokens != null ? `, ${r.prompt_tokens}+${r.completion_tokens} tokens` : ''}${r.simulated ? ', SIMULATED' : ''})`, String(r.text));
  } else section('response', d.generationFailure ? `(not generated: ${d.generationFailure})` : '(none yet)');
  for (const { judge, review: v, scores } of d.reviews) {
    out.push(`== review${judge ? ` J${judge.position}` : ''}: ${v.status} by ${v.judge_model ?? '-'}${judge ? ` (${judge.profile})` : ''} after ${v.attempts} judge answer(s)${v.review_template ? `, template ${v.review_template}` : ''}${v.prompt_tokens != null ? `, ${v.prompt_tokens}+${v.completion_tokens} tokens` : ''}${v.simulated ? ', SIMULATED' : ''}`);
    if (scores.length) out.push(`scores: ${scores.map((s) => `${s.skill} ${s.score ?? 'N/A'}`).join('; ')}`);
    if (v.error) out.push(`error: ${v.error}`);
    if (Array.isArray(v.warnings) && v.warnings.length) out.push(`warnings: ${(v.warnings as unknown[]).join('; ')}`);
    section("judge's text", v.raw_text == null ? '(none)' : String(v.raw_text));
  }
  if (d.reviews.length === 0) section('review', '(none yet)');
  for (const a of d.annotations) {
    section(`annotation ${a.stage}: ${a.status}${a.label != null ? ` -> ${JSON.stringify(a.label)}` : ''}${a.error ? ` (${a.error})` : ''}, ${a.attempts} answer(s)`, a.raw_text == null ? '(none)' : String(a.raw_text));
  }
  if (d.calls) out.push(`calls: ${d.calls.length ? d.calls.map((c) => `${c.step} ${c.outcome} x${c.calls}`).join(', ') : '(none recorded)'}`);
  return out.join('\n').trimEnd() + '\n';
}
