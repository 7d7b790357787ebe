import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import { DEFAULT_BOOTSTRAP, type BootstrapOptions } from '../../core/stats/bootstrap.js';
import { loadRunFigures } from '../../core/report/load.js';
import { bootstrapNote, figuresJson, figuresTable, nothingScoredLines, runHeaderLine, VIEW_ANALYSES, type ReportBy } from '../../core/report/reportText.js';
import type { Analysis } from '../../core/report/figures.js';
import { flaskCsv, FLASK_CSV_SUFFIX } from '../../core/report/flaskCsv.js';
import { buildHtmlReport } from '../../core/report/html.js';
import type { Reader } from '../../core/store/reader.js';
import type { Database } from '../../core/store/database.js';
import { openReadOnly } from '../readDb.js';
import { intFlag, strFlag } from '../flags.js';

export const REPORT_HELP = `flask-eval report RUN [RUN...] [--by skill|difficulty|domain] [--format table|csv|json|html] [--out FILE]
                  [--bootstrap 1000] [--seed 20230720] [--db FILE]
  FLASK's analyses of one or more runs side by side: per skill, per skill x difficulty level (with
  FLASK's cumulative column), per domain (every domain of an instance receives all of its scores).
  N/A scores are excluded and counted. Every mean has a 95% percentile bootstrap CI over instances
  (--bootstrap resamples, --seed; both are printed with the figures).
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
  const { prov, figs } = await withReader(db.file, (sql, where) => loadRunFigures(sql, runIds, bs, where, VIEW_ANALYSES[by]));
  // The run lines go with the progress output (stderr); the figures are the command's result.
  for (const p of prov) log(runHeaderLine(p));
  for (const l of nothingScoredLines(prov)) log(l);
  log(bootstrapNote(figs[0]));
  process.stdout.write(format === 'json' ? figuresJson(figs, prov, by) : figuresTable(figs, by));
}

export async function reportCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      by: { type: 'string', default: 'skill' }, format: { type: 'string', default: 'table' }, db: { type: 'string' },
      out: { type: 'string' }, 'out-dir': { type: 'string' }, 'flask-exact': { type: 'boolean' },
      bootstrap: { type: 'string' }, seed: { type: 'string' }, texts: { type: 'string', default: 'all' },
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

  if (format === 'html') {
    const out = strFlag(v, 'out') ?? 'report.html';
    const started = Date.now();
    const html = await withReader(dbFile, (r, where) => buildHtmlReport(r, runIds, { bootstrap: bs, texts: v.texts === 'all', where }));
    writeFileSync(out, html);
    log(`${out}: ${(Buffer.byteLength(html) / 1e6).toFixed(1)} MB, ${runIds.length} run(s), written in ${((Date.now() - started) / 1000).toFixed(1)} s; opens from disk (no network)`);
    return;
  }

  // Only what the output shows is computed: CSV files have no overall row, --by all has the three analyses.
  const analyses: Analysis[] = format === 'csv' ? (by === 'all' ? ['skill', 'difficulty', 'domain'] : [by as Analysis]) : VIEW_ANALYSES[by as ReportBy];
  const { prov, figs } = await withReader(dbFile, (r, where) => loadRunFigures(r, runIds, bs, where, analyses));
  const simulated = prov.filter((p) => p.simulated).map((p) => p.runId);
  if (format === 'table') {
    const lines = prov.map(runHeaderLine);
    lines.push(...nothingScoredLines(prov), bootstrapNote(figs[0]), '');
    process.stdout.write(lines.join('\n') + '\n' + figuresTable(figs, by as ReportBy));
    return;
  }
  // Machine-readable output stays parseable: the warning goes to stderr.
  if (simulated.length) log(`note: ${simulated.join(', ')}: produced by the offline endpoint: SIMULATED figures`);
  if (format === 'json') {
    if (by === 'all') throw new InputError('--by all is for --format csv');
    writeOrPrint(strFlag(v, 'out'), figuresJson(figs, prov, by as ReportBy), log);
    return;
  }
  const kinds = by === 'all' ? (['skill', 'difficulty', 'domain'] as const) : [by as ReportBy];
  const outDir = strFlag(v, 'out-dir');
  if (outDir) {
    mkdirSync(outDir, { recursive: true });
    for (const f of figs) for (const k of kinds) {
      const file = path.join(outDir, `${f.runId}${FLASK_CSV_SUFFIX[k]}`);
      writeFileSync(file, flaskCsv(f, k, !!v['flask-exact']));
      log(`wrote ${file}`);
    }
    return;
  }
  if (figs.length > 1 || kinds.length > 1) throw new InputError(`--format csv writes FLASK's one file per run and analysis: pass one run and one --by, or --out-dir DIR`);
  writeOrPrint(strFlag(v, 'out'), flaskCsv(figs[0], kinds[0], !!v['flask-exact']), log);
  if (!v['flask-exact']) log(`CI columns: ${bootstrapNote(figs[0])}; --flask-exact leaves them out`);
}

function writeOrPrint(out: string | undefined, text: string, log: (s: string) => void): void {
  if (out) {
    writeFileSync(out, text);
    log(`wrote ${out}`);
  } else process.stdout.write(text);
}
