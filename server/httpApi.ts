import http from 'node:http';
import { createWriteStream, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { StatementType, type DuckDBConnection, type DuckDBResult, type DuckDBValue } from '@duckdb/node-api';
import type { Database } from '../core/store/database.js';
import { InputError } from '../core/errors.js';
import { RunRecordSchema } from '../core/store/runs.js';
import { prepareRun, type InputBatch } from '../core/store/prepareRun.js';
import { fileLines } from '../core/inputs/jsonl.js';
import { QUERY_SERVER_STOPPING, openLockedReadOnly, queryLimits, queryTimeoutMs, runUserQuery } from '../core/store/safeQuery.js';
import type { SnapshotPublisher } from '../core/store/snapshot.js';
import type { EvalInstance } from '../core/flask/dataset.js';
import type { ResponseRow } from '../core/store/instances.js';
import { landHumanLabels } from '../core/store/humanLabels.js';
import { rescoreReviews } from '../activities/rescoreReviews.js';
import { pruneCache } from '../core/store/callCache.js';

/** POST /rescore: re-parse a run's stored judge texts (flask-eval rescore). */
const RescoreRequest = z.object({ source: z.string(), target: z.string() });
/** POST /cache/prune: which stored answers to delete (flask-eval cache prune). */
const CachePruneRequest = z.strictObject({
  filter: z.strictObject({ olderThanDays: z.number().nonnegative().optional(), model: z.string().optional(), endpoint: z.string().optional(), runId: z.string().optional(), all: z.boolean().optional() }),
  dryRun: z.boolean().optional(),
});
/** POST /labels: a labels file's rows, checked by the command (flask-eval import-labels). */
const LabelsRequest = z.object({
  runId: z.string(),
  source: z.object({ path: z.string(), sha256: z.string() }),
  rows: z.array(z.object({ idx: z.number().int(), annotator: z.string(), skill: z.string(), skillKey: z.string(), score: z.number().nullable(), line: z.number().int() })).max(1_000_000),
});

/**
 * The state server's HTTP API on its unix socket (README, "How it runs"):
 *   GET /health, GET /lease (held open), POST /runs (NDJSON), POST /query (NDJSON rows), POST /pin, POST /stop.
 * The socket file is mode 0600: only this user's processes reach it.
 */

/** An instance as EvalInstanceSchema outputs it (already validated by the command that read the file). */
const WireInstance = z.object({
  idx: z.number().int().nonnegative(),
  instruction: z.string(),
  answer: z.string(),
  task: z.string(),
  skills: z.array(z.string()),
  domains: z.array(z.string()),
  unlabelledDomain: z.boolean(),
  difficulty: z.string().nullable(),
  extra: z.record(z.string(), z.unknown()),
});

const WireResponse = z.object({
  idx: z.number().int().nonnegative(),
  modelId: z.string(),
  text: z.string(),
  source: z.enum(['imported', 'generated']),
  finishReason: z.string().nullable().optional(),
  promptTokens: z.number().int().nullable().optional(),
  completionTokens: z.number().int().nullable().optional(),
});

const RunHeader = z.object({
  record: RunRecordSchema,
  options: z.object({
    retryFailed: z.boolean().optional(),
    changeJudge: z.boolean().optional(),
    limit: z.number().int().positive().optional(),
  }).default({}),
});

const RunLine = z.union([z.object({ instance: WireInstance }), z.object({ response: WireResponse })]);
/** The last line of an upload: without it (a command that died mid-upload) nothing is stored. */
const RunEnd = z.object({ end: z.object({ instances: z.number().int().nonnegative(), responses: z.number().int().nonnegative() }) });

/** Rows per batch when the spooled upload is landed, and at most this many bytes of their lines (68 KB answers: 240 a batch). */
const UPLOAD_BATCH = 2000;
const UPLOAD_BATCH_BYTES = 16 << 20;

const QueryRequest = z.object({
  sql: z.string().min(1),
  params: z.array(z.unknown()).default([]),
  user: z.boolean().default(false),
  /** User SQL's time limit (the command's --timeout). */
  timeoutMs: z.number().positive().optional(),
});

export interface StateHttpDeps {
  db: Database;
  /** User SQL runs on the published snapshot, on an instance of its own (never the one owning db). */
  snapshot: SnapshotPublisher;
  health(): Record<string, unknown>;
  /** Open leases changed (the idle timer cares). */
  onLeases(count: number): void;
  onStop(): void;
  /** `flask-eval server start` on a running auto-started daemon: keep it up from now on. */
  onPin(): void;
  log(s: string): void;
}

class BadRequest extends Error {}

function zodMessage(where: string, e: z.ZodError): string {
  return `${where}: ${e.issues.map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`).join('; ')}`;
}

/** Code's own reads (reports): one statement, and one that cannot write. */
async function runTrustedRead(conn: DuckDBConnection, sql: string, params: unknown[]): Promise<DuckDBResult> {
  const statements = await conn.extractStatements(sql);
  if (statements.count !== 1) throw new BadRequest(`one SQL statement per query (got ${statements.count})`);
  const prepared = await statements.prepare(0);
  if (prepared.statementType !== StatementType.SELECT && prepared.statementType !== StatementType.EXPLAIN) {
    throw new BadRequest('POST /query runs SELECT statements only');
  }
  if (params.length) prepared.bind(params as DuckDBValue[]);
  return prepared.stream();
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendError(res: http.ServerResponse, e: unknown): void {
  const user = e instanceof InputError || e instanceof BadRequest || e instanceof z.ZodError;
  const message = e instanceof z.ZodError ? zodMessage('request', e) : (e as Error).message;
  sendJson(res, user ? 400 : 500, { error: message });
}

function readBody(req: http.IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
      if (text.length > limit) reject(new BadRequest(`request body over ${limit} bytes`));
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function write(res: http.ServerResponse, line: unknown): Promise<void> | undefined {
  if (res.write(`${JSON.stringify(line)}\n`)) return undefined;
  return new Promise((r) => { res.once('drain', r); res.once('close', r); });
}

/**
 * POST /runs: a header line, the instances, the responses, an end line. Each line is checked as it
 * arrives and spooled to a file next to the results file, so a 100,000-instance upload is never
 * held in memory; the store then lands it in batches, in one transaction. An upload without its
 * end line (the command died) stores nothing.
 */
async function handleRuns(deps: StateHttpDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const spool = path.join(path.dirname(deps.db.file), `.upload-${process.pid}-${++uploads}${SPOOL_SUFFIX}`);
  const out = createWriteStream(spool, { mode: 0o600 });
  try {
    let header: z.output<typeof RunHeader> | undefined;
    let end: z.output<typeof RunEnd>['end'] | undefined;
    let instances = 0;
    let responses = 0;
    let n = 0;
    for await (const line of createInterface({ input: req, crlfDelay: Infinity })) {
      n++;
      if (!line.trim()) continue;
      if (end) throw new BadRequest(`POST /runs line ${n}: a line after the end line`);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new BadRequest(`POST /runs line ${n}: not JSON`);
      }
      if (!header) {
        const h = RunHeader.safeParse(value);
        if (!h.success) throw new BadRequest(zodMessage(`POST /runs line ${n} (run header)`, h.error));
        header = h.data;
        continue;
      }
      const e = RunEnd.safeParse(value);
      if (e.success) {
        end = e.data.end;
        continue;
      }
      const l = RunLine.safeParse(value);
      if (!l.success) throw new BadRequest(zodMessage(`POST /runs line ${n}`, l.error));
      if ('instance' in l.data) {
        if (responses > 0) throw new BadRequest(`POST /runs line ${n}: instances come before responses`);
        instances++;
      } else responses++;
      if (!out.write(`${line}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    if (!header) throw new BadRequest('POST /runs: empty body (the first line is {record, options})');
    if (!end || end.instances !== instances || end.responses !== responses) {
      throw new BadRequest(
        `POST /runs: incomplete upload (${instances} instances, ${responses} responses received${end ? `, ${end.instances} and ${end.responses} announced` : ', no end line'}); nothing was stored`,
      );
    }
    const result = await prepareRun(deps.db, { record: header.record, instanceCount: instances, inputs: () => spooledBatches(spool), ...header.options });
    deps.log(`run ${header.record.runId}: ${result.existed ? 'resumed' : 'created'} (${result.newInstances} new instances, ${result.newResponses} new responses, ${result.retried} retried)`);
    sendJson(res, 200, result);
  } finally {
    out.destroy();
    rmSync(spool, { force: true });
  }
}

let uploads = 0;
const SPOOL_SUFFIX = '.ndjson';
const SPOOL_NAME = /^\.upload-(\d+)-\d+\.ndjson$/;

/**
 * Spool files of uploads whose state server died mid-upload (their pid is gone): nothing was
 * landed from them. Called when a state server starts.
 */
export function removeStaleUploads(dir: string, alive: (pid: number) => boolean): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => {
    const m = SPOOL_NAME.exec(n);
    return m !== null && !alive(Number(m[1]));
  });
  for (const n of stale) rmSync(path.join(dir, n), { force: true });
  return stale;
}

/** The spooled lines (checked on arrival) back as batches of rows. */
function* spooledBatches(spool: string): Generator<InputBatch> {
  let batch: InputBatch = {};
  let size = 0;
  let bytes = 0;
  for (const [, line] of fileLines(spool)) {
    if (!line) continue;
    const row = JSON.parse(line) as { instance: EvalInstance } | { response: ResponseRow };
    if ('instance' in row) (batch.instances ??= []).push(row.instance);
    else (batch.responses ??= []).push(row.response);
    bytes += line.length;
    if (++size === UPLOAD_BATCH || bytes >= UPLOAD_BATCH_BYTES) {
      yield batch;
      batch = {};
      size = 0;
      bytes = 0;
    }
  }
  if (size > 0) yield batch;
}

async function handleQuery(deps: StateHttpDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const parsed = QueryRequest.safeParse(JSON.parse(await readBody(req)));
  if (!parsed.success) throw new BadRequest(zodMessage('POST /query', parsed.error));
  const { sql, params, user, timeoutMs } = parsed.data;
  let closed = false;
  const gone = new AbortController();
  res.once('close', () => { closed = true; gone.abort(); });
  let rows = 0;
  const start = async (names: string[]) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    await write(res, { columns: names });
  };
  if (user) {
    // User SQL: the safe-query rules (one SELECT, rolled back, locked instance), rows streamed,
    // on the snapshot: this process's own results file is out of its reach (safeQuery.ts, wall 4).
    const limits = queryLimits(path.dirname(deps.db.file));
    const reader = await openLockedReadOnly(await deps.snapshot.fresh(), { limits });
    const stop = () => gone.abort(QUERY_SERVER_STOPPING);
    runningQueries.add(stop);
    let names: string[] = [];
    try {
      try {
        await runUserQuery(reader.connection, sql, {
          columns: async (n) => { names = n; await start(n); },
          rows: async (batch) => {
            for (const values of batch) {
              rows++;
              const wait = write(res, Object.fromEntries(names.map((k, i) => [k, values[i]])));
              if (wait) await wait;
              if (closed) return false; // the reader went away: stop reading the result
            }
            return true;
          },
        }, { params: params as never, timeoutMs: timeoutMs ?? queryTimeoutMs(), signal: gone.signal, limits });
      } catch (e) {
        if (!res.headersSent) throw new BadRequest((e as Error).message);
        res.end(`${JSON.stringify({ $error: (e as Error).message })}\n`);
        return;
      }
      res.end(`${JSON.stringify({ $end: { rows } })}\n`);
    } finally {
      runningQueries.delete(stop);
      reader.close();
    }
    return;
  }
  await deps.db.withConnection(async (conn) => {
    const result = await runTrustedRead(conn, sql, params);
    await start(result.columnNames());
    try {
      for await (const chunk of result.yieldRowObjectJson()) {
        for (const row of chunk) {
          rows++;
          const wait = write(res, row);
          if (wait) await wait;
          if (closed) return;
        }
      }
      res.end(`${JSON.stringify({ $end: { rows } })}\n`);
    } catch (e) {
      // Headers are gone: the error travels as the last line.
      res.end(`${JSON.stringify({ $error: (e as Error).message })}\n`);
    }
  });
}

/** Interrupts of the user queries running now: `server stop` never waits on one. */
const runningQueries = new Set<() => void>();

/** Interrupt every user query running (the daemon is stopping). */
export function interruptQueries(): void {
  for (const stop of runningQueries) stop();
}

/** The HTTP server; the caller listens on the socket. */
export function createStateHttpServer(deps: StateHttpDeps): http.Server {
  const leases = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const handle = async () => {
      switch (route) {
        case 'GET /health':
          return sendJson(res, 200, { ...deps.health(), leases: leases.size });
        case 'GET /lease': {
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          leases.add(res);
          deps.onLeases(leases.size);
          res.write(`${JSON.stringify({ lease: true, pid: process.pid })}\n`);
          res.once('close', () => {
            leases.delete(res);
            deps.onLeases(leases.size);
          });
          return;
        }
        case 'POST /runs':
          return handleRuns(deps, req, res);
        case 'POST /query':
          return handleQuery(deps, req, res);
        case 'POST /labels': {
          const parsed = LabelsRequest.safeParse(JSON.parse(await readBody(req, 256 << 20)));
          if (!parsed.success) throw new BadRequest(zodMessage('POST /labels', parsed.error));
          const { runId, source, rows } = parsed.data;
          return sendJson(res, 200, await deps.db.run((sql) => landHumanLabels(sql, runId, rows as never, source)));
        }
        case 'POST /rescore': {
          const parsed = RescoreRequest.safeParse(JSON.parse(await readBody(req, 1 << 16)));
          if (!parsed.success) throw new BadRequest(zodMessage('POST /rescore', parsed.error));
          return sendJson(res, 200, await deps.db.run((sql) => rescoreReviews(sql, parsed.data.source, parsed.data.target)));
        }
        case 'POST /cache/prune': {
          const parsed = CachePruneRequest.safeParse(JSON.parse(await readBody(req, 1 << 16)));
          if (!parsed.success) throw new BadRequest(zodMessage('POST /cache/prune', parsed.error));
          const { filter, dryRun } = parsed.data;
          if (Object.values(filter).every((x) => x === undefined || x === false)) throw new BadRequest('POST /cache/prune: give a condition, or all: true');
          return sendJson(res, 200, await deps.db.run((sql) => pruneCache(sql, filter, dryRun)));
        }
        case 'POST /snapshot':
          return sendJson(res, 200, { file: await deps.snapshot.fresh(), commits: deps.db.commits });
        case 'POST /pin':
          deps.onPin();
          return sendJson(res, 200, { ...deps.health(), leases: leases.size });
        case 'POST /stop':
          sendJson(res, 200, { stopping: true, pid: process.pid });
          deps.onStop();
          return;
        default:
          return sendJson(res, 404, { error: `no route ${route}` });
      }
    };
    handle().catch((e) => {
      if (!(e instanceof InputError || e instanceof BadRequest || e instanceof z.ZodError)) deps.log(`${route} failed: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) sendError(res, e);
      else res.end(`${JSON.stringify({ $error: (e as Error).message })}\n`);
    });
  });
  // Leases are held for hours: no socket timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  (server as http.Server & { closeLeases?: () => void }).closeLeases = () => {
    // Said before the lease closes: a stop asked for is not a death, holders do not replace us.
    for (const r of leases) r.end(`${JSON.stringify({ stopping: true })}\n`, () => r.destroy());
  };
  return server;
}

export function closeLeases(server: http.Server): void {
  (server as http.Server & { closeLeases?: () => void }).closeLeases?.();
}
