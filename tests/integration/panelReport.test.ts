// Panels reported right: a panel's per-judge figures are each judge's own (equal to the figures
// of a run judged by that judge alone), judges are numbered as given, the pooled column follows
// its definition, and runs / show / compare / the views say per judge what they count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startOfflineServer } from '../../simulator/server.js';
import { startOrAttach } from '../../client/runs.js';
import { prepareReview } from '../../core/inputs/prepare.js';
import { DATA_FILES, publishedAnswersFile } from '../../core/paths.js';
import { loadRunFigures } from '../../core/report/load.js';
import { figuresTable, runHeaderLine } from '../../core/report/reportText.js';
import { loadInstanceScores } from '../../core/report/instanceScores.js';
import { resolveScoreSources } from '../../core/report/scoreSources.js';
import { readRunsOverview } from '../../core/report/runsOverview.js';
import { readInstanceDetail } from '../../core/report/instanceDetail.js';
import { comparisonPairs } from '../../client/commands/compare.js';
import { panelScores } from '../../client/commands/judgeAgreement.js';
import { DEFAULT_BOOTSTRAP } from '../../core/stats/bootstrap.js';
import { skillKey, type SkillName } from '../../core/flask/skills.js';
import type { Figure, RunFigures } from '../../core/report/figures.js';
import { judgeIdOf, type JudgeSpec } from '../../core/pipeline.js';
import { baseRun, landRun, startTestPipeline, tempDb, temporalForThisFile } from '../helpers/harness.js';

let env: TestWorkflowEnvironment;
const cleanups = temporalForThisFile((e) => (env = e));

/** Every figure of a column, named, for comparing two columns figure by figure. */
function flat(f: RunFigures): Map<string, Figure> {
  const m = new Map<string, Figure>();
  for (const s of f.skills) m.set(`skill ${s.skill}`, s);
  if (f.overall) m.set('overall', f.overall);
  for (const d of f.difficulty) m.set(`difficulty ${d.skill} L${d.level}`, d);
  for (const d of f.domains) m.set(`domain ${d.domain}`, d);
  return m;
}

function assertSameFigures(a: RunFigures, b: RunFigures, what: string): void {
  const fa = flat(a);
  const fb = flat(b);
  assert.deepEqual([...fa.keys()], [...fb.keys()], `${what}: the same figures`);
  assert.ok(fa.size > 20, `${what}: figures to compare (${fa.size})`);
  for (const [k, x] of fa) {
    const y = fb.get(k)!;
    assert.equal(x.n, y.n, `${what} ${k}: n`);
    assert.equal(x.naCount, y.naCount, `${what} ${k}: N/A`);
    for (const f of ['mean', 'low', 'high', 'sum'] as const) {
      const [u, v] = [x[f], y[f]];
      assert.ok((u === null && v === null) || (u !== null && v !== null && Math.abs(u - v) <= 1e-9), `${what} ${k} ${f}: ${u} vs ${v}`);
    }
  }
}

test('a two-judge panel: per-judge figures equal each judge\'s own run to 1e-9, judges numbered as given, pooled as defined; runs, show, compare and views per judge', async () => {
  const server = await startOfflineServer({ seed: 11 });
  const db = tempDb('panel-report');
  const n = 24;
  const prepared = prepareReview(DATA_FILES.evalSet, publishedAnswersFile('gpt4'), 'gpt4', n);
  const w = await startTestPipeline(env, db, 'panel-report', server.url, { limits: { maxConcurrency: 8 } });
  cleanups.push(() => w.shutdown(), () => server.close());
  const spec = (profile: 'flask' | 'prometheus'): JudgeSpec => ({
    id: judgeIdOf(w.judge.id, profile), endpoint: w.judge, profile,
    settings: { temperature: profile === 'flask' ? 0.2 : 1, maxTokens: 1024, maxParseAttempts: 3 },
  });
  const [flask, prometheus] = [spec('flask'), spec('prometheus')];
  const given = (js: JudgeSpec[]) => js.map((j) => ({ id: j.id, model: j.endpoint.model, baseUrl: server.url, profile: j.profile }));
  // The panel is given prometheus first: J1 is prometheus although its id sorts after flask's.
  const runs: Array<[string, JudgeSpec[]]> = [['panel', [prometheus, flask]], ['solo-flask', [flask]], ['solo-prometheus', [prometheus]]];
  for (const [id, judges] of runs) {
    await landRun(db, { ...baseRun(id), judges: given(judges) }, prepared.instances, prepared.responses);
    const final = await (await startOrAttach(env.client, w.plan(id, ['review'], { judges }))).handle.result();
    assert.equal(final.done + final.failed, n);
  }
  assert.ok(prometheus.id > flask.id, 'the test needs the given order to differ from the sorted one');

  const { figs, prov } = await db.read((sql) => loadRunFigures(sql, ['panel', 'solo-flask', 'solo-prometheus'], DEFAULT_BOOTSTRAP, undefined, undefined, { pooled: true }));
  assert.deepEqual(figs.map((f) => f.column), ['panel@J1', 'panel@J2', 'panel@pooled', 'solo-flask', 'solo-prometheus']);
  assert.equal(figs[0]!.source!.judge!.id, prometheus.id);
  assert.equal(figs[1]!.source!.judge!.id, flask.id);
  assertSameFigures(figs[0]!, figs[4]!, 'panel@J1 vs solo-prometheus');
  assertSameFigures(figs[1]!, figs[3]!, 'panel@J2 vs solo-flask');

  // Pooled, from the stored rows: instances both judges scored; per instance and skill the mean of
  // the judges' non-N/A scores; then the mean over instances.
  const rows = await db.read((sql) => sql.all(
    `SELECT s.idx, s.skill_key, s.judge_id, s.score FROM review_scores s JOIN reviews v USING (run_id, idx, judge_id) WHERE s.run_id = 'panel' AND v.status = 'scored'`));
  const byItem = new Map<string, { judges: Set<string>; xs: number[] }>();
  const judgesOf = new Map<number, Set<string>>();
  for (const r of rows) {
    const key = `${r.idx}|${r.skill_key}`;
    const e = byItem.get(key) ?? { judges: new Set(), xs: [] };
    byItem.set(key, e);
    e.judges.add(String(r.judge_id));
    if (r.score !== null) e.xs.push(Number(r.score));
    (judgesOf.get(Number(r.idx)) ?? judgesOf.set(Number(r.idx), new Set()).get(Number(r.idx))!).add(String(r.judge_id));
  }
  const expected = new Map<string, number[]>();
  for (const [key, e] of byItem) {
    const [idx, skill] = key.split('|');
    if (judgesOf.get(Number(idx))!.size < 2 || e.xs.length === 0) continue;
    (expected.get(skill!) ?? expected.set(skill!, []).get(skill!)!).push(e.xs.reduce((a, b) => a + b, 0) / e.xs.length);
  }
  const pooled = figs[2];
  assert.equal(pooled!.skills.length, expected.size);
  for (const s of pooled!.skills) {
    const xs = expected.get(s.skill)!;
    assert.equal(s.n, xs.length, `pooled ${s.skill} n`);
    assert.ok(Math.abs(s.mean! - xs.reduce((a, b) => a + b, 0) / xs.length) <= 1e-9, `pooled ${s.skill} mean`);
    assert.ok(s.low! <= s.mean! && s.mean! <= s.high!, `pooled ${s.skill} CI`);
  }
  // The pooled view gives the same per-skill means.
  const view = await db.read((sql) => sql.all(`SELECT skill, avg, count::INT AS n FROM pooled_skill_summary WHERE run_id = 'panel'`));
  for (const v of view) {
    const s = pooled!.skills.find((x) => x.skill === v.skill)!;
    assert.equal(v.n, s.n);
    assert.ok(Math.abs(Number(v.avg) - s.mean!) <= 1e-9);
  }

  // The table: one column per judge, named as given; the header counts per judge, not reviews over instances.
  const table = figuresTable(figs.slice(0, 3), 'skill');
  assert.match(table.split('\n')[0]!, /^skill\s+panel@J1\s+panel@J2\s+panel@pooled\s*$/);
  const header = runHeaderLine(prov[0]!);
  assert.match(header, new RegExp(`^panel: review, model .*, panel of 2 judges; ${n} instances`));
  assert.match(header, new RegExp(`\\n  J1 = flask-offline-judge \\(prometheus\\) \\[${prometheus.id}\\]: \\d+ scored, \\d+ failed of ${n} instances`));
  assert.match(header, new RegExp(`\\n  J2 = flask-offline-judge \\(flask\\) \\[${flask.id}\\]: \\d+ scored, \\d+ failed of ${n} instances`));
  assert.ok(!/\d+ scored, \d+ failed of \d+ instances$/.test(header.split('\n')[0]!), 'no total over judges in the run line');

  // judge-agreement numbers judges as given.
  const panel = await db.read((sql) => panelScores(sql, 'panel'));
  assert.deepEqual(panel.judges.map((j) => j.id), [prometheus.id, flask.id]);

  // compare: the panel's judges pair with the same judge of the other runs.
  const [sp, sf] = await db.read(async (sql) => [await resolveScoreSources(sql, ['panel']), await resolveScoreSources(sql, ['solo-flask'])]);
  const pairs = comparisonPairs(sp, sf);
  assert.deepEqual(pairs.map(([a, b]) => [a.label, b.label]), [['panel@J2', 'solo-flask']]);
  const scores = await db.read((sql) => loadInstanceScores(sql, [...sp, ...sf]));
  assert.deepEqual(scores.get('panel@J2'), scores.get('solo-flask'), 'the panel judge\'s instance scores are its solo run\'s');

  // The HTML report: one column per judge (its own provenance and scores), the pooled column, and
  // the judge-reliability rows of the panel (alpha with the other judge per skill).
  const { buildHtmlReport } = await import('../../core/report/html.js');
  const html = await db.read((sql) => buildHtmlReport(sql, ['panel'], { bootstrap: { ...DEFAULT_BOOTSTRAP, resamples: 100 }, texts: false, pooled: true }));
  const data = JSON.parse(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!);
  assert.deepEqual(data.runs.map((x: { id: string }) => x.id), ['panel@J1', 'panel@J2', 'panel@pooled']);
  assert.deepEqual(data.runs.slice(0, 2).map((x: { prov: { judgeProfile: string } }) => x.prov.judgeProfile), ['prometheus', 'flask']);
  const idx0 = data.instances.findIndex((x: unknown[]) => x[0] === prepared.instances[0]!.idx);
  const soloScores = (await db.read((sql) => readInstanceDetail(sql, 'solo-flask', prepared.instances[0]!.idx)))!.reviews[0]!.scores;
  for (const sc of soloScores) {
    assert.equal(data.runs[1].cells[idx0][2][skillKey(sc.skill as SkillName)], sc.score, `HTML J2 cell ${sc.skill}`);
  }
  assert.deepEqual(data.reliability.map((x: { judge: string }) => x.judge.slice(0, 2)), ['J1', 'J2']);
  assert.ok(data.reliability[0].rows.filter((row: string[]) => /^-?\d\.\d\d \[/.test(row[6]!)).length >= 3, 'alpha with the other judge per skill');

  // runs: an instance is done when every judge reviewed it; show: every judge's review.
  const overview = (await db.read((sql) => readRunsOverview(sql))).find((r) => r.runId === 'panel')!;
  assert.equal(overview.judges, 2);
  assert.equal(overview.finished, n);
  assert.equal(overview.judgeModels, 'flask-offline-judge (prometheus), flask-offline-judge (flask)');
  const detail = (await db.read((sql) => readInstanceDetail(sql, 'panel', prepared.instances[0]!.idx)))!;
  assert.deepEqual(detail.reviews.map((r) => r.judge?.id), [prometheus.id, flask.id]);
  const solo = (await db.read((sql) => readInstanceDetail(sql, 'solo-flask', prepared.instances[0]!.idx)))!;
  assert.deepEqual(detail.reviews[1]!.scores, solo.reviews[0]!.scores);
});
