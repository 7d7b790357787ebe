import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { gzipSync } from 'node:zlib';
import type { BootstrapOptions } from '../stats/bootstrap.js';
import { DIFFICULTY_LEVELS } from '../flask/difficulty.js';
import { SKILLS } from '../flask/skills.js';
import { FLASK_DOMAIN_ORDER } from './figures.js';
import { loadRunFigures } from './load.js';
import type { RunProvenance } from './provenance.js';
import { judgeLegend, POOLED_DEFINITION, type ScoreSource } from './scoreSources.js';
import { judgeReliability } from './judgeReliability.js';
import { leaderboardSection } from './leaderboardSection.js';

const f3 = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));
const ciOf = (x: number | null | undefined, c: [number, number] | null | undefined) => (x === null || x === undefined ? '–' : `${x.toFixed(2)} [${c ? c[0].toFixed(2) : '–'}, ${c ? c[1].toFixed(2) : '–'}]`);
const pctOf = (r: { count: number; n: number; rate: number | null }) => (r.rate === null ? '–' : `${(100 * r.rate).toFixed(1)}% (${r.count}/${r.n})`);
import { readFailures } from './failures.js';
import { placeholders, tableColumns, type Reader } from '../store/reader.js';

// From the project root: this module also runs compiled, from dist/.
const HTML_DIR = path.join(PROJECT_ROOT, 'core', 'report', 'html');
const require = createRequire(import.meta.url);

export interface HtmlOptions {
  bootstrap: BootstrapOptions;
  /** include every response and judge text (compressed, decompressed on demand in the page) */
  texts: boolean;
  where?: string;
  /** fixed "generated at" for reproducible output in tests */
  generatedAt?: string;
  /** a panel's pooled column too (core/report/scoreSources.ts) */
  pooled?: boolean;
}

/** A column's provenance: its run's, with a panel judge's own model, profile and counts. */
function columnProvenance(p: RunProvenance, s: ScoreSource): RunProvenance & { judgeProfile?: string; judgeId?: string } {
  if (s.pooled) return { ...p, judgeModel: `pooled: ${s.judges.map((j) => `J${j.position} ${j.model} (${j.profile})`).join(', ')}` };
  const j = s.judge && p.judges.find((x) => x.id === s.judge!.id);
  if (!j) return p;
  return { ...p, judgeModel: j.model, judgeProfile: j.profile, judgeId: j.id, scored: j.scored, failed: j.failed };
}

/** The charting library's minified build, read from node_modules at report time and inlined. */
function chartLibrary(): { name: string; version: string; code: string } {
  const pkg = require('echarts/package.json') as { version: string };
  const file = require.resolve('echarts/dist/echarts.min.js');
  return { name: 'Apache ECharts', version: pkg.version, code: readFileSync(file, 'utf8') };
}

/** gzip + base64: the page inflates it with the browser's DecompressionStream when needed. */
function packed(value: unknown): string {
  return gzipSync(Buffer.from(JSON.stringify(value)), { level: 9 }).toString('base64');
}

/** JSON inside a <script> element: nothing in the data can close the element or start a comment. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * One self-contained HTML file: data as JSON, texts gzip-compressed per run and inflated only
 * when an instance is opened, the charting library and the page's own script inline.
 */
export async function buildHtmlReport(r: Reader, names: readonly string[], opts: HtmlOptions): Promise<string> {
  const { prov, figs, sources } = await loadRunFigures(r, names, opts.bootstrap, opts.where, undefined, { pooled: opts.pooled });
  const runIds = prov.map((p) => p.runId);
  const failures = await readFailures(r, runIds);
  const list = placeholders(runIds.length);
  const revCols = await tableColumns(r, 'reviews');
  const instRows = await r.all(
    `SELECT run_id, idx, ord, instruction, answer, task, skills, domains, difficulty FROM instances WHERE run_id IN (${list}) ORDER BY idx, run_id`, [...runIds]);
  const reviewRows = await r.all(
    `SELECT run_id, idx, judge_id, status, attempts, prompt_tokens, completion_tokens, error${revCols.has('warnings') ? ', warnings' : ''}${opts.texts ? ', raw_text' : ''}
     FROM reviews WHERE run_id IN (${list})`, [...runIds]);
  const scoreRows = await r.all(`SELECT run_id, idx, judge_id, skill_key, score FROM review_scores WHERE run_id IN (${list})`, [...runIds]);
  const respRows = await r.all(
    `SELECT run_id, idx, model_id, finish_reason, prompt_tokens, completion_tokens${opts.texts ? ', text' : ''} FROM responses WHERE run_id IN (${list})`, [...runIds]);

  // Instances: the union over runs, by idx; of the runs that have an idx, the first by name gives its texts
  // (a run whose instruction differs is named in the explorer).
  const instances = new Map<number, { idx: number; task: string; skills: string[]; domains: string[]; level: number; instruction: string; reference: string; differs: string[] }>();
  for (const x of instRows) {
    const idx = Number(x.idx);
    const skills = ((x.skills as string[] | null) ?? []).map((s) => SKILLS.find((k) => k.name === s)?.key ?? s);
    const have = instances.get(idx);
    if (have) {
      if (have.instruction !== x.instruction) have.differs.push(String(x.run_id));
      continue;
    }
    instances.set(idx, {
      idx, task: String(x.task ?? ''), skills, domains: ((x.domains as string[] | null) ?? []).map(String),
      level: x.difficulty == null ? 0 : (DIFFICULTY_LEVELS as readonly string[]).indexOf(String(x.difficulty)) + 1,
      instruction: String(x.instruction), reference: String(x.answer ?? ''), differs: [],
    });
  }
  const order = [...instances.keys()];
  const pos = new Map(order.map((idx, i) => [idx, i]));

  // A column is a run, or one judge of a panel, or a panel pooled (core/report/scoreSources.ts):
  // a column's rows are its judge's (all the run's rows for a one-judge run or a pooled column).
  const mine = (s: ScoreSource, row: Record<string, unknown>) => row.run_id === s.runId && (!s.judge || row.judge_id === s.judge.id);
  type Cell = { st: string; at: number; sc: Record<string, number | null>; tk: number | null; judges: number };
  // Per column, per instance: [status, attempts, {skill: score|null}, tokens]; status: s scored, f failed, n none.
  // Pooled: scored when every judge scored (scores: the mean of the judges' non-N/A scores), else failed.
  const perCol = sources.map((s) => {
    const cells = order.map(() => null as null | Cell);
    const scores = order.map(() => new Map<string, number[]>());
    for (const v of reviewRows) if (mine(s, v)) {
      const at = pos.get(Number(v.idx))!;
      const c = (cells[at] ??= { st: 's', at: 0, sc: {}, tk: null, judges: 0 });
      if (v.status !== 'scored') c.st = 'f';
      c.judges++;
      c.at += Number(v.attempts ?? 0);
      if (v.prompt_tokens != null) c.tk = (c.tk ?? 0) + Number(v.prompt_tokens) + Number(v.completion_tokens ?? 0);
    }
    for (const x of scoreRows) if (mine(s, x)) {
      const list = scores[pos.get(Number(x.idx))!];
      const k = String(x.skill_key);
      if (!list!.has(k)) list!.set(k, []);
      if (x.score !== null) list!.get(k)!.push(Number(x.score));
    }
    cells.forEach((c, i) => {
      if (!c) return;
      if (s.pooled && c.judges < s.judges.length) c.st = 'f';
      for (const [k, xs] of scores[i]!) c.sc[k] = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
    });
    return cells;
  });
  const inRun = new Map(runIds.map((id) => [id, new Set<number>()]));
  for (const x of instRows) inRun.get(String(x.run_id))!.add(Number(x.idx));
  const failByCol = sources.map((s) => {
    const m = new Map<number, string>();
    for (const f of failures) if (f.runId === s.runId && (!s.judge || f.judgeId === null || f.judgeId === s.judge.id) && !m.has(f.idx)) m.set(f.idx, `${f.stage}: ${f.reason}`);
    return m;
  });

  // Texts, per column and chunk of TEXT_CHUNK instances (by position in `instances`): idx -> [response,
  // judge text, review error, response meta]. Opening an instance inflates one chunk per column only.
  const texts: string[] = [];
  if (opts.texts) {
    sources.forEach((s, k) => {
      const chunks: Record<number, [string | null, string | null, string | null, string | null]>[] = [];
      const at = (idx: number) => (chunks[Math.floor(pos.get(idx)! / TEXT_CHUNK)] ??= {});
      for (const x of respRows) if (x.run_id === s.runId) at(Number(x.idx))[Number(x.idx)] = [String(x.text), null, null, `${x.model_id}${x.finish_reason ? `, finish ${x.finish_reason}` : ''}${x.completion_tokens != null ? `, ${x.completion_tokens} tokens` : ''}`];
      if (!s.pooled) for (const v of reviewRows) if (mine(s, v)) {
        const c = at(Number(v.idx));
        const e = (c[Number(v.idx)] ??= [null, null, null, null]);
        e[1] = v.raw_text == null ? null : String(v.raw_text);
        e[2] = v.error == null ? null : String(v.error);
      }
      chunks.forEach((c, j) => { if (c) texts.push(blob(`texts-${k}-${j}`, packed(c))); });
    });
  }
  for (let j = 0; j * TEXT_CHUNK < order.length; j++) {
    texts.push(blob(`texts-shared-${j}`, packed(order.slice(j * TEXT_CHUNK, (j + 1) * TEXT_CHUNK).map((idx) => [instances.get(idx)!.instruction, instances.get(idx)!.reference]))));
  }

  // Judge reliability (judge-report's per-skill figures) for the runs where there is something to
  // measure: a panel, repeated samples or human labels.
  const reliability: Array<{ run: string; judge: string; summary: string; rows: string[][] }> = [];
  for (const id of runIds) {
    const [m] = await r.all(`SELECT count(DISTINCT judge_id) AS judges, max(coalesce(samples, 1)) AS k FROM reviews WHERE run_id = ?`, [id]);
    const labelled = (await tableColumns(r, 'human_labels')).size > 0 && (await r.all(`SELECT 1 FROM human_labels WHERE run_id = ? LIMIT 1`, [id])).length > 0;
    if (!m || (Number(m.judges) < 2 && Number(m.k) < 2 && !labelled)) continue;
    const rep = await judgeReliability(r, id, { resamples: opts.bootstrap.resamples, seed: opts.bootstrap.seed, level: opts.bootstrap.level ?? 0.95 });
    for (const j of rep.judges) {
      reliability.push({
        run: id, judge: judgeLegend(j.judge), summary: `K=${j.samples}, ${j.reviews} reviews, failed ${pctOf(j.failed)}, re-asked ${pctOf(j.reasks)}`,
        rows: j.skills.map((s) => [
          s.skill, String(s.instances), f3(s.mean), pctOf(s.na), ciOf(s.self?.sdWithin, s.self?.sdWithinCi), ciOf(s.self?.icc, s.self?.iccCi),
          ciOf(s.agreement?.alpha, s.agreement?.alphaCi), f3(s.agreement?.spearman), ciOf(s.human?.judgeHuman.alpha, s.human?.judgeHuman.alphaCi),
          ciOf(s.length.slope, s.length.slopeCi), s.flags.length ? `LOW: ${s.flags.join('; ')}` : '',
        ]),
      });
    }
  }

  const data = {
    leaderboard: await leaderboardSection(r, sources, opts.bootstrap),
    reliability,
    reliabilityHead: ['skill', 'n', 'mean', 'N/A', 'within-SD', 'ICC(1)', 'alpha with other judges', 'spearman', 'alpha with humans', 'slope /100 words', 'flag'],
    title: `FLASK report: ${names.join(', ')}`,
    generatedAt: opts.generatedAt ?? new Date().toISOString(),
    bootstrap: figs[0]?.bootstrap ?? opts.bootstrap,
    skills: SKILLS.map((s) => ({ key: s.key, name: s.name })),
    levels: DIFFICULTY_LEVELS,
    domainOrder: FLASK_DOMAIN_ORDER,
    textsIncluded: opts.texts,
    textChunk: TEXT_CHUNK,
    pooledDefinition: sources.some((s) => s.pooled) ? POOLED_DEFINITION : null,
    runs: sources.map((s, i) => ({
      id: s.label,
      prov: columnProvenance(prov.find((p) => p.runId === s.runId)!, s),
      figures: figs[i],
      failures: failures.filter((f) => f.runId === s.runId && (!s.judge || f.judgeId === null || f.judgeId === s.judge.id))
        .map((f) => ({ idx: f.idx, stage: f.stage, reason: f.reason, attempts: f.attempts })),
      // compact per-instance rows aligned with `instances`
      cells: perCol[i]!.map((c, k) => {
        const idx = order[k];
        if (!inRun.get(s.runId)!.has(idx!)) return 0; // not in this run
        const fail = failByCol[i]!.get(idx!);
        if (!c) return fail ? ['f', 0, {}, null, fail] : ['n'];
        return [c.st, c.at, c.sc, c.tk, c.st === 'f' ? fail ?? (s.pooled ? 'not scored by every judge' : 'review failed') : null];
      }),
    })),
    instances: order.map((idx) => {
      const x = instances.get(idx)!;
      return [idx, x.task, x.skills, x.domains, x.level, x.instruction.length > 160 ? `${x.instruction.slice(0, 159)}…` : x.instruction, x.differs];
    }),
  };
  const lib = chartLibrary();
  const template = readFileSync(path.join(HTML_DIR, 'template.html'), 'utf8');
  const app = readFileSync(path.join(HTML_DIR, 'app.js'), 'utf8');
  const css = readFileSync(path.join(HTML_DIR, 'style.css'), 'utf8');
  const blobs = texts.join('\n');
  // Plain replacements (a function, so "$" in the inlined code is never a replacement pattern).
  const fill: Record<string, string> = {
    '/*CSS*/': css,
    '<!--TITLE-->': escapeHtml(data.title),
    '/*CHART_LIBRARY*/': `/* ${lib.name} ${lib.version}, Apache-2.0, https://echarts.apache.org */\n${lib.code}`,
    '/*DATA*/': scriptJson(data),
    '/*APP*/': app,
    '<!--BLOBS-->': blobs,
  };
  return template.replace(/\/\*CSS\*\/|<!--TITLE-->|\/\*CHART_LIBRARY\*\/|\/\*DATA\*\/|\/\*APP\*\/|<!--BLOBS-->/g, (m) => fill[m]!);
}

/** Instances per compressed text chunk: small enough to inflate in a few ms, large enough to compress well. */
const TEXT_CHUNK = 100;

function blob(id: string, base64: string): string {
  return `<script type="application/octet-stream" id="${id}">${base64}</script>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
