import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import type { Json } from '@duckdb/node-api';
import { InputError } from '../../core/errors.js';
import { dbPath } from '../../core/config.js';
import { type UserQueryOptions, type UserQueryResult, type UserQuerySink, queryTimeoutMs } from '../../core/store/safeQuery.js';
import { intFlag, strFlag } from '../flags.js';
import { openReader } from '../../server/resultsReader.js';

export const QUERY_HELP = `flask-eval query "SQL" | --file q.sql [--format table|csv|jsonl|json] [--max-rows N] [--db FILE]
  One read-only SQL statement over the results (tables: runs, instances, responses, reviews,
  review_scores, annotations, generation_failures; views: scores, skill_summary,
  skill_difficulty_summary, domain_summary, domain_skill_summary). SELECT, EXPLAIN, DESCRIBE, SHOW,
  SUMMARIZE and PRAGMA table_info run; anything else is refused: several statements, COPY,
  INSERT/UPDATE/DELETE, CREATE/DROP, ATTACH, INSTALL/LOAD, SET, and reading other files
  (read_csv, read_text, ...). Writing files is the job of \`flask-eval export\`.
  --file F       read the statement from a file (for long SQL)
  --format       table (default: the first --max-rows rows), csv, jsonl or json (a JSON array);
                 csv, jsonl and json stream any number of rows in bounded memory
  --max-rows N   rows the table format prints (default 200); the rest are counted
  --timeout S    stop the query after S seconds (default 120, env FLASK_QUERY_TIMEOUT_S); Ctrl-C
                 stops it too. Through the state server a query runs on the published snapshot
                 (snapshot.duckdb, current when the query starts) with FLASK_QUERY_MEMORY (256MB)
                 and FLASK_QUERY_TEMP (1GB of spilled data)
  --db FILE      results file (env FLASK_DB; default .flask-eval/results.duckdb)`;

const FORMATS = ['table', 'csv', 'jsonl', 'json'] as const;
type Format = (typeof FORMATS)[number];

/** Runs one user statement somewhere (a direct locked read-only open, or the state daemon's socket). */
export type UserQueryRunner = (sql: string, sink: UserQuerySink, opts?: UserQueryOptions) => Promise<UserQueryResult>;

/**
 * The runner commands use: through this folder's state server when it owns the file (it holds
 * it open while runs land), else the direct locked read-only open. Either way the same safe-query
 * rules apply (core/store/safeQuery.ts), and rows stream.
 */
function readerQueryRunner(file: string): UserQueryRunner {
  return async (sql, sink, opts = {}) => {
    if (!existsSync(file)) throw new InputError(`no results database at ${file}: run a review first, or pass --db FILE (env FLASK_DB)`);
    const reader = await openReader({ dbFile: file });
    let names: string[] = [];
    let batch: Json[][] = [];
    let delivered = 0;
    let total = 0;
    let stopped = false;
    const flush = async () => {
      if (batch.length === 0 || stopped) return;
      const more = await sink.rows(batch);
      batch = [];
      if (more === false) stopped = true;
    };
    try {
      await reader.stream(sql, (opts.params as unknown[] | undefined) ?? [], async (row) => {
        total++;
        if (stopped || (opts.deliverAtMost !== undefined && delivered >= opts.deliverAtMost)) return;
        batch.push(names.map((n) => row[n] as Json));
        delivered++;
        if (batch.length >= 2048) await flush();
      }, { user: true, timeoutMs: opts.timeoutMs, onColumns: (n) => { names = n; void sink.columns(n, []); } });
      await flush();
    } catch (e) {
      throw e instanceof InputError ? e : new InputError(`query failed: ${(e as Error).message}`);
    } finally {
      await reader.close();
    }
    return { delivered, total } as UserQueryResult;
  };
}

export async function queryCommand(argv: string[], runner?: UserQueryRunner): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { db: { type: 'string' }, format: { type: 'string', default: 'table' }, file: { type: 'string' }, 'max-rows': { type: 'string' }, timeout: { type: 'string' } },
  });
  const file = strFlag(v, 'file');
  if (file !== undefined && positionals.length > 0) throw new InputError('query takes the SQL either as one argument or from --file, not both');
  if (file === undefined && positionals.length !== 1) {
    throw new InputError(`query takes one SQL string (quote it) or --file q.sql; got ${positionals.length} arguments\n\n${QUERY_HELP}`);
  }
  let sql: string;
  if (file !== undefined) {
    try {
      sql = readFileSync(file, 'utf8');
    } catch (e) {
      throw new InputError(`--file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  } else sql = positionals[0]!;
  if (sql.trim() === '') throw new InputError(`query: the SQL${file ? ` in ${file}` : ''} is empty`);
  const format = v.format as string;
  if (!(FORMATS as readonly string[]).includes(format)) throw new InputError(`--format must be one of ${FORMATS.join(', ')} (got "${format}")`);
  const maxRows = intFlag(v, 'max-rows', 200);
  const timeoutMs = queryTimeoutMs(strFlag(v, 'timeout'));
  const base = runner ?? readerQueryRunner(strFlag(v, 'db') ?? dbPath());
  const run: UserQueryRunner = (q, sink, o) => base(q, sink, { ...o, timeoutMs });
  await printUserQuery(run, sql, format as Format, maxRows, new Output(process.stdout));
}

/** Stream a query's result to `out` in `format`. */
async function printUserQuery(run: UserQueryRunner, sql: string, format: Format, maxRows: number, out: Output): Promise<void> {
  if (format === 'table') {
    let columns: string[] = [];
    const rows: Json[][] = [];
    const r = await run(sql, {
      columns: (names) => { columns = names; },
      rows: (batch) => { for (const row of batch) rows.push(row); },
    }, { deliverAtMost: maxRows });
    const more = (r.total ?? rows.length) - rows.length;
    await out.write(renderTable(columns, rows) + (more > 0 ? `... ${more} more rows (use --format csv)\n` : `(${rows.length} rows)\n`));
    return;
  }
  let columns: string[] = [];
  let first = true;
  const sink: UserQuerySink = {
    columns: (names) => {
      columns = names;
      if (format === 'csv') return void out.write(`${names.map(csvCell).join(',')}\n`);
      if (format === 'json') return void out.write('[');
    },
    rows: async (batch) => {
      let text = '';
      for (const row of batch) {
        if (format === 'csv') text += `${row.map(csvCell).join(',')}\n`;
        else {
          const o: Record<string, Json> = {};
          for (let i = 0; i < columns.length; i++) o[columns[i]!] = row[i]!;
          text += format === 'json' ? `${first ? '\n' : ',\n'}${JSON.stringify(o)}` : `${JSON.stringify(o)}\n`;
          first = false;
        }
      }
      return out.write(text);
    },
  };
  await run(sql, sink);
  if (format === 'json') await out.write(first ? ']\n' : '\n]\n');
}

function cellText(x: unknown): string {
  return x === null || x === undefined ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x);
}

function csvCell(x: unknown): string {
  const s = cellText(x);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A plain-text table; widths by loops (a spread over 100,000 cells overflows the stack). */
function renderTable(columns: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => r.map((x) => cellText(x).replace(/\s+/g, ' ').slice(0, 60)));
  const widths = columns.map((c) => c.length);
  for (const r of cells) for (let i = 0; i < widths.length; i++) if (r[i]!.length > widths[i]!) widths[i] = r[i]!.length;
  const line = (xs: string[]) => xs.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  let text = `${line(columns)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`;
  for (const r of cells) text += `${line(r)}\n`;
  return text;
}

/**
 * stdout with backpressure, and a reader that went away (`| head`) ends the query quietly
 * instead of failing with EPIPE.
 */
class Output {
  private closed = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  /** Resolves false once the reader is gone: the caller stops producing rows. */
  write(text: string): boolean | Promise<boolean> {
    if (this.closed) return false;
    if (text === '' || this.stream.write(text)) return !this.closed;
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('error', done);
        resolve(!this.closed);
      };
      this.stream.once('drain', done);
      this.stream.once('error', done);
    });
  }
}
