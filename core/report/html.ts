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
import { readFailures } from './failures.js';
import { placeholders, tableColumns, type Reader } from './reader.js';

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
export async function buildHtmlReport(r: Reader, runIds: readonly string[], opts: HtmlOptions): Promise<string> {
  const { prov, figs } = await loadRunFigures(r, runIds, opts.bootstrap, opts.where);
  const failures = await readFailures(r, runIds);
  const list = placeholders(runIds.length);
  const revCols = await tableColumns(r, 'reviews');
  const instRows = await r.all(
    `SELECT run_id, idx, ord, instruction, answer, task, skills, domains, difficulty FROM instances WHERE run_id IN (${list}) ORDER BY idx, run_id`, [...runIds]);
  const reviewRows = await r.all(
    `SELECT run_id, idx, status, attempts, prompt_tokens, completion_tokens, error${revCols.has('warnings') ? ', warnings' : ''}${opts.texts ? ', raw_text' : ''}
     FROM reviews WHERE run_id IN (${list})`, [...runIds]);
  const scoreRows = await r.all(`SELECT run_id, idx, skill_key, score FROM review_scores WHERE run_id IN (${list})`, [...runIds]);
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

  // Per run, per instance: [status, attempts, {skill: score|null}, tokens]; status: s scored, f failed, n none.
  const perRun = new Map(runIds.map((id) => [id, order.map(() => null as null | { st: string; at: number; sc: Record<string, number | null>; tk: number | null; inRun: true })]));
  const inRun = new Map(runIds.map((id) => [id, new Set<number>()]));
  for (const x of instRows) inRun.get(String(x.run_id))!.add(Number(x.idx));
  for (const v of reviewRows) {
    const arr = perRun.get(String(v.run_id))!;
    arr[pos.get(Number(v.idx))!] = {
      st: v.status === 'scored' ? 's' : 'f', at: Number(v.attempts ?? 0), sc: {},
      tk: v.prompt_tokens == null ? null : Number(v.prompt_tokens) + Number(v.completion_tokens ?? 0), inRun: true,
    };
  }
  for (const s of scoreRows) {
    const cell = perRun.get(String(s.run_id))![pos.get(Number(s.idx))!];
    if (cell) cell.sc[String(s.skill_key)] = s.score === null ? null : Number(s.score);
  }
  const failByRun = new Map<string, Map<number, string>>(runIds.map((id) => [id, new Map()]));
  for (const f of failures) if (!failByRun.get(f.runId)!.has(f.idx)) failByRun.get(f.runId)!.set(f.idx, `${f.stage}: ${f.reason}`);

  // Texts, per run and chunk of TEXT_CHUNK instances (by position in `instances`): idx -> [response,
  // judge text, review error, response meta]. Opening an instance inflates one chunk per run only.
  const texts: string[] = [];
  if (opts.texts) {
    runIds.forEach((id, k) => {
      const chunks: Record<number, [string | null, string | null, string | null, string | null]>[] = [];
      const at = (idx: number) => (chunks[Math.floor(pos.get(idx)! / TEXT_CHUNK)] ??= {});
      for (const x of respRows) if (x.run_id === id) at(Number(x.idx))[Number(x.idx)] = [String(x.text), null, null, `${x.model_id}${x.finish_reason ? `, finish ${x.finish_reason}` : ''}${x.completion_tokens != null ? `, ${x.completion_tokens} tokens` : ''}`];
      for (const v of reviewRows) if (v.run_id === id) {
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

  const data = {
    title: `FLASK report: ${runIds.join(', ')}`,
    generatedAt: opts.generatedAt ?? new Date().toISOString(),
    bootstrap: figs[0]?.bootstrap ?? opts.bootstrap,
    skills: SKILLS.map((s) => ({ key: s.key, name: s.name })),
    levels: DIFFICULTY_LEVELS,
    domainOrder: FLASK_DOMAIN_ORDER,
    textsIncluded: opts.texts,
    textChunk: TEXT_CHUNK,
    runs: runIds.map((id, i) => ({
      id,
      prov: prov[i],
      figures: figs[i],
      failures: failures.filter((f) => f.runId === id).map((f) => ({ idx: f.idx, stage: f.stage, reason: f.reason, attempts: f.attempts })),
      // compact per-instance rows aligned with `instances`
      cells: perRun.get(id)!.map((c, k) => {
        const idx = order[k];
        if (!inRun.get(id)!.has(idx)) return 0; // not in this run
        const fail = failByRun.get(id)!.get(idx);
        if (!c) return fail ? ['f', 0, {}, null, fail] : ['n'];
        return [c.st, c.at, c.sc, c.tk, c.st === 'f' ? fail ?? 'review failed' : null];
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
  return template.replace(/\/\*CSS\*\/|<!--TITLE-->|\/\*CHART_LIBRARY\*\/|\/\*DATA\*\/|\/\*APP\*\/|<!--BLOBS-->/g, (m) => fill[m]);
}

/** Instances per compressed text chunk: small enough to inflate in a few ms, large enough to compress well. */
const TEXT_CHUNK = 100;

function blob(id: string, base64: string): string {
  return `<script type="application/octet-stream" id="${id}">${base64}</script>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
