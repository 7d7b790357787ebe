import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import { DEFAULT_BOOTSTRAP, type BootstrapOptions } from '../../core/stats/bootstrap.js';
import { loadRunFigures } from '../../core/report/load.js';
import { bootstrapNote, columnOf, figuresJson, figuresTable, pooledNote, runHeaderLine, VIEW_ANALYSES, type ReportBy, nothingScoredLines } from '../../core/report/reportText.js';
import type { Analysis } from '../../core/report/figures.js';
import { flaskCsv, FLASK_CSV_SUFFIX } from '../../core/report/flaskCsv.js';
import { buildHtmlReport } from '../../core/report/html.js';
import type { Reader } from '../../core/store/reader.js';
import { sampleSpread } from '../../core/report/judgeReliability.js';
import { orderSkills } from '../../core/report/instanceScores.js';
import { textTable } from '../../core/report/textTable.js';
import { openReadOnly } from '../readDb.js';
import { intFlag, strFlag } from '../flags.js';

export const REPORT_HELP = `flask-eval report RUN [RUN...] [--by skill|difficulty|domain] [--format table|csv|json|html] [--out FILE]
                  [--pooled] [--bootstrap 1000] [--seed 20230720] [--db FILE]
  FLASK's analyses of one or more runs side by side: per skill, per skill x difficulty level (with
  FLASK's cumulative column), per domain (every domain of an instance receives all of its scores).
  N/A scores are excluded and counted. Every mean has a 95% percentile bootstrap CI over instances
  (--bootstrap resamples, --seed; both are printed with the figures).
  A panel (review --judge ... --judge ...) is reported per judge: columns RUN@J1, RUN@J2, ... in the
  order the judges were given, each from that judge's reviews only. --pooled adds RUN@pooled: per
  instance and skill the mean of the judges' non-N/A scores, over the instances every judge scored,
  then over instances; its CI resamples instances. RUN@J2 or RUN@pooled names one column.
  --format csv    FLASK's aggregate-script file (gpt_review/aggregate_{skill,difficulty_skill,domain}.py):
                  its header, columns, rows, order and number format, then 4 columns: ci95_low, ci95_high,
                  bootstrap_seed, bootstrap_resamples. --flask-exact drops them (byte-identical to FLASK's
                  file). One run to stdout or --out; several runs need --out-dir DIR (FLASK's file names:
                  RUN_skill.csv, RUN_difficulty_skill.csv, RUN_domain.csv; --by all writes the three).
  --format html   one self-contained file (no network needed): radar, skill x difficulty, domains, tables
                  with CIs, provenance, failures and an instance explorer. --out report.html (default).
                  --texts all|none: include every response and judge text (compressed; default all).`;

export function bootstrapFromFlags(v: Record<string, unknown>): BootstrapOptions {
  return {
    resamples: intFlag(v as never, 'bootstrap', DEFAULT_BOOTSTRAP.resamples, 1),
    seed: intFlag(v as never, 'seed', DEFAULT_BOOTSTRAP.seed, 0),
    level: DEFAULT_BOOTSTRAP.level,
  };
}

/** Run `fn` against a read-only view of the results file. */
export async function withReader<T>(dbFile: string | undefined, fn: (r: Reader, where: string) => Promise<T>): Promise<T> {
  const db = openReadOnly(dbFile);
  return db.run((sql) => fn(sql, db.file));
}

/** The per-skill table (with CIs) that review/eval print when a run finishes. */
export async function printRunReport(db: { file: string }, runIds: string[], by: ReportBy, format: 'table' | 'json', log: (s: string) => void, bs: BootstrapOptions = DEFAULT_BOOTSTRAP): Promise<void> {
  const { prov, figs, spread } = await withReader(db.file, async (sql, where) => {
    const loaded = await loadRunFigures(sql, runIds, bs, where, VIEW_ANALYSES[by]);
    return { ...loaded, spread: await sampleSpread(sql, loaded.sources) };
  });
  // The run lines go with the progress output (stderr); the figures are the command's result.
  for (const p of prov) log(runHeaderLine(p));
  for (const l of nothingScoredLines(prov)) log(l);
  log(bootstrapNote(figs[0]));
  process.stdout.write(format === 'json' ? figuresJson(figs, prov, by) : figuresTable(figs, by) + spreadTable(spread));
}

export async function reportCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      by: { type: 'string', default: 'skill' }, format: { type: 'string', default: 'table' }, db: { type: 'string' },
      out: { type: 'string' }, 'out-dir': { type: 'string' }, 'flask-exact': { type: 'boolean' },
      bootstrap: { type: 'string' }, seed: { type: 'string' }, texts: { type: 'string', default: 'all' }, pooled: { type: 'boolean' },
    },
  });
  if (positionals.length === 0) throw new InputError(`report needs at least one run name\n\n${REPORT_HELP}`);
  const by = v.by as string;
  const format = v.format as string;
  if (!['skill', 'difficulty', 'domain', 'all'].includes(by)) throw new InputError(`--by must be skill, difficulty or domain (got "${by}")`);
  if (by === 'all' && format !== 'csv') throw new InputError(`--by all is for --format csv --out-dir DIR (FLASK's three files)`);
  if (!['table', 'csv', 'json', 'html'].includes(format)) throw new InputError(`--format must be table, csv, json or html (got "${format}")`);
  if (!['all', 'none'].includes(v.texts as string)) throw new InputError(`--texts must be all or none (got "${v.texts}")`);
  const bs = bootstrapFromFlags(v);
  const runIds = [...new Set(positionals)];
  const dbFile = strFlag(v, 'db');
  const pooled = { pooled: !!v.pooled };

  if (format === 'html') {
    const out = strFlag(v, 'out') ?? 'report.html';
    const started = Date.now();
    const html = await withReader(dbFile, (r, where) => buildHtmlReport(r, runIds, { bootstrap: bs, texts: v.texts === 'all', where, ...pooled }));
    writeFileSync(out, html);
    log(`${out}: ${(Buffer.byteLength(html) / 1e6).toFixed(1)} MB, ${runIds.length} run(s), written in ${((Date.now() - started) / 1000).toFixed(1)} s; opens from disk (no network)`);
    return;
  }

  // Only what the output shows is computed: CSV files have no overall row, --by all has the three analyses.
  const analyses: Analysis[] = format === 'csv' ? (by === 'all' ? ['skill', 'difficulty', 'domain'] : [by as Analysis]) : VIEW_ANALYSES[by as ReportBy];
  const { prov, figs, spread } = await withReader(dbFile, async (r, where) => {
    const loaded = await loadRunFigures(r, runIds, bs, where, analyses, pooled);
    return { ...loaded, spread: format === 'table' || format === 'json' ? await sampleSpread(r, loaded.sources) : [] };
  });
  const simulated = prov.filter((p) => p.simulated).map((p) => p.runId);
  if (format === 'table') {
    const lines = prov.map(runHeaderLine);
    lines.push(...nothingScoredLines(prov), bootstrapNote(figs[0]));
    const note = pooledNote(figs);
    if (note) lines.push(note);
    if (spread.length) lines.push('with --judge-samples K: each figure is over the per-instance means of the K samples');
    lines.push('');
    process.stdout.write(lines.join('\n') + '\n' + figuresTable(figs, by as ReportBy) + spreadTable(spread));
    return;
  }
  // Machine-readable output stays parseable: the warning goes to stderr.
  if (simulated.length) log(`note: ${simulated.join(', ')}: produced by the offline endpoint: SIMULATED figures`);
  if (format === 'json') {
    if (by === 'all') throw new InputError('--by all is for --format csv');
    const json = JSON.parse(figuresJson(figs, prov, by as ReportBy)) as Record<string, unknown>[];
    // The judge's own variance on the rows of columns with samples: within-instance SD of the skill.
    for (const row of json) {
      const s = spread.find((x) => x.label === (row.column ?? row.run_id));
      const sd = s?.sdBySkill.get(String(row.key));
      if (s && sd !== undefined) Object.assign(row, { judge_samples: s.samples, judge_within_instance_sd: sd });
    }
    writeOrPrint(strFlag(v, 'out'), JSON.stringify(json, null, 2) + '\n', log);
    return;
  }
  const kinds = by === 'all' ? (['skill', 'difficulty', 'domain'] as const) : [by as ReportBy];
  const outDir = strFlag(v, 'out-dir');
  if (outDir) {
    mkdirSync(outDir, { recursive: true });
    for (const f of figs) for (const k of kinds) {
      const file = path.join(outDir, `${columnOf(f)}${FLASK_CSV_SUFFIX[k]}`);
      writeFileSync(file, flaskCsv(f, k, !!v['flask-exact']));
      log(`wrote ${file}`);
    }
    return;
  }
  if (figs.length > 1 || kinds.length > 1) throw new InputError(`--format csv writes FLASK's one file per run and analysis: pass one run and one --by, or --out-dir DIR`);
  writeOrPrint(strFlag(v, 'out'), flaskCsv(figs[0]!, kinds[0], !!v['flask-exact']), log);
  if (!v['flask-exact']) log(`CI columns: ${bootstrapNote(figs[0])}; --flask-exact leaves them out`);
}

/** The judge's own variance: within-instance SD across its K samples, per skill and column. */
function spreadTable(spread: Awaited<ReturnType<typeof sampleSpread>>): string {
  if (spread.length === 0) return '';
  const skills = orderSkills(spread.flatMap((s) => [...s.sdBySkill.keys()]));
  const rows = skills.map((k) => [k, ...spread.map((s) => (s.sdBySkill.has(k) ? s.sdBySkill.get(k)!.toFixed(3) : '-'))]);
  return `\njudge's own variance: within-instance SD of the score across the judge's samples (flask-eval judge-report RUN for ICC and CIs)\n` +
    textTable(['skill', ...spread.map((s) => `${s.label} (K=${s.samples})`)], rows);
}

function writeOrPrint(out: string | undefined, text: string, log: (s: string) => void): void {
  if (out) {
    writeFileSync(out, text);
    log(`wrote ${out}`);
  } else process.stdout.write(text);
}
