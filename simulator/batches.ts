/**
 * OpenAI's Files + Batch API on the offline server (SIMULATED), for the pipeline's batch mode:
 *
 *   POST   /v1/files                 multipart/form-data: purpose=batch, file=<JSONL> (as the openai SDK sends it)
 *   GET    /v1/files, /v1/files/:id  metadata;  GET /v1/files/:id/content  the bytes;  DELETE /v1/files/:id
 *   POST   /v1/batches               {input_file_id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata?}
 *   GET    /v1/batches, /v1/batches/:id;  POST /v1/batches/:id/cancel
 *
 * A batch is `validating` for validatingMs, then `in_progress` (or `failed` when its input file
 * is invalid: the whole batch, with errors naming the line, as OpenAI does), and `completed` at
 * completionDelayMs after its creation. Its lines are answered at once in the background by the
 * server's own /v1/chat/completions (an HTTP request to itself, so every line gets exactly the
 * live endpoint's answer: the same judge, scores, malformed outputs and 5xx draws), but become
 * visible in request_counts one after another, evenly spread over the in-progress time, so that
 * progress can be watched and an expiry (expireAfterMs) cuts a batch part-way: the lines visible
 * by then land in the output file, the others in the error file with code "batch_expired".
 * lineFailureRate makes lines fail with a 500 in the error file, drawn from (seed, line body,
 * how often this exact body was batched): a failed line sent again in a new batch may succeed.
 *
 * State is in memory, or also in `stateFile` (a restart then keeps the files and batches).
 */
import type http from 'node:http';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { sha, unit } from './random.js';
import { sendJson } from './http.js';

export interface OfflineBatchOptions {
  /** ms from a batch's creation to `completed` (default 1000) */
  completionDelayMs?: number;
  /** ms a batch stays `validating` (default min(100, completionDelayMs / 10)) */
  validatingMs?: number;
  /** fraction 0..1 of lines answered with an error (HTTP 500 in the error file) */
  lineFailureRate?: number;
  /** a batch not completed this many ms after its creation expires (default: never, i.e. 24 h) */
  expireAfterMs?: number;
  /** lines answered concurrently through the chat endpoint (default 8) */
  concurrency?: number;
  /** lines a batch may have (default 50 000, OpenAI's limit) */
  maxLines?: number;
  /**
   * Keep files and batches in this JSON file, so that a restarted offline server (same file)
   * still knows them: a batch in progress picks up where its timeline is (its lines are answered
   * again, with the same deterministic answers). Default: memory only.
   */
  stateFile?: string;
}

export interface OfflineBatchContext {
  seed: number;
  /** the server's bearer key, sent on the loopback chat requests */
  apiKey?: string;
  /** the server's base URL incl. /v1 (known once it listens) */
  baseUrl: () => string;
}

interface OfflineBatchStats {
  files: number;
  batches: number;
  /** lines answered through the chat endpoint (simulated failures and expired lines excluded) */
  linesAnswered: number;
  byStatus: Record<string, number>;
}

export interface OfflineBatches {
  /** Answers the request if it is a /files or /batches route (returns true), else returns false. */
  handle(method: string, route: string, req: http.IncomingMessage, body: Buffer | 'too-large', res: http.ServerResponse): Promise<boolean>;
  /** Stops answering lines (server shutdown). */
  stop(): void;
  stats(): OfflineBatchStats;
}

type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

interface StoredFile {
  id: string;
  bytes: Buffer;
  filename: string;
  purpose: string;
  createdAt: number;
}

interface LineResult {
  customId: string;
  /** output-file line (status 200) or error-file line */
  ok: boolean;
  line: Record<string, unknown>;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

interface BatchError {
  code: string;
  message: string;
  line: number | null;
  param: string | null;
}

interface StoredBatch {
  id: string;
  inputFileId: string;
  endpoint: string;
  completionWindow: string;
  metadata: Record<string, string> | null;
  model?: string;
  createdMs: number;
  lines: { customId: string; body: Record<string, unknown> }[];
  validationErrors: BatchError[];
  /** results by line index, filled in the background */
  results: (LineResult | undefined)[];
  answered: number;
  cancelledMs?: number;
  /** set once the batch reaches an end state: its files are created then, once */
  final?: { status: BatchStatus; atMs: number; outputFileId?: string; errorFileId?: string; counts: { total: number; completed: number; failed: number }; usage: Usage };
}

interface Usage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens_details: { reasoning_tokens: number };
}

const SIMULATED = { 'x-flask-simulated': 'true' };

const send = (res: http.ServerResponse, status: number, body: unknown): void => sendJson(res, status, body, SIMULATED);

const apiError = (message: string, param: string | null = null, code: string | null = null, type = 'invalid_request_error') => ({ error: { message, type, param, code } });
const seconds = (ms: number): number => Math.floor(ms / 1000);

function fraction(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new RangeError(`${name} must be a fraction between 0 and 1 (got ${v})`);
  return v;
}

function nonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a number >= 0 (got ${v})`);
  return v;
}

/** The parts of a multipart/form-data body: name -> {filename?, data}. */
export function parseMultipart(body: Buffer, contentType: string): Map<string, { filename?: string; data: Buffer }> | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!/^multipart\/form-data/i.test(contentType) || !m) return undefined;
  const delimiter = Buffer.from(`--${(m[1] ?? m[2])!.trim()}`);
  const parts = new Map<string, { filename?: string; data: Buffer }>();
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    let start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break; // closing delimiter
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const next = body.indexOf(delimiter, start);
    if (next < 0) return undefined;
    const part = body.subarray(start, next - 2); // minus the CRLF before the delimiter
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) return undefined;
    const headers = part.subarray(0, headerEnd).toString('utf8');
    const disposition = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(headers)?.[1] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    if (name !== undefined) parts.set(name, { ...(filename !== undefined ? { filename } : {}), data: part.subarray(headerEnd + 4) });
    at = next;
  }
  return parts;
}

export function createOfflineBatches(options: OfflineBatchOptions, ctx: OfflineBatchContext): OfflineBatches {
  const completionDelayMs = nonNegative('completionDelayMs', options.completionDelayMs, 1000);
  const validatingMs = Math.min(nonNegative('validatingMs', options.validatingMs, Math.min(100, completionDelayMs / 10)), completionDelayMs);
  const lineFailureRate = fraction('lineFailureRate', options.lineFailureRate);
  const expireAfterMs = options.expireAfterMs === undefined ? undefined : nonNegative('expireAfterMs', options.expireAfterMs, 0);
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
  const maxLines = Math.max(1, Math.floor(options.maxLines ?? 50_000));

  const files = new Map<string, StoredFile>();
  const batches = new Map<string, StoredBatch>();
  /** how often each exact line body was batched: feeds the failure draw, like the server's attempt counter */
  const batchedTimes = new Map<string, number>();
  let counter = 0;
  let linesAnswered = 0;
  let stopped = false;
  const nextId = (prefix: string): string => `${prefix}${sha([ctx.seed, prefix, ++counter, Date.now()]).slice(0, 24)}`;

  /** Saved after every change of a file or of a batch's settled state (not per line: lines are re-answered). */
  function persist(): void {
    if (!options.stateFile) return;
    const state = {
      version: 1,
      counter,
      batchedTimes: [...batchedTimes],
      files: [...files.values()].map((f) => ({ ...f, bytes: f.bytes.toString('base64') })),
      batches: [...batches.values()].map(({ results: _r, answered: _a, ...b }) => b),
    };
    const tmp = `${options.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, options.stateFile);
  }

  /** Restored batches in progress: answered from the first request on (the server is listening by then). */
  const toResume: StoredBatch[] = [];

  function restore(): void {
    if (!options.stateFile || !existsSync(options.stateFile)) return;
    const state = JSON.parse(readFileSync(options.stateFile, 'utf8')) as {
      counter: number; batchedTimes: [string, number][];
      files: (Omit<StoredFile, 'bytes'> & { bytes: string })[]; batches: Omit<StoredBatch, 'results' | 'answered'>[];
    };
    counter = state.counter;
    for (const [k, v] of state.batchedTimes) batchedTimes.set(k, v);
    for (const f of state.files) files.set(f.id, { ...f, bytes: Buffer.from(f.bytes, 'base64') });
    for (const b of state.batches) {
      const full: StoredBatch = { ...b, results: new Array(b.lines.length), answered: 0 };
      batches.set(full.id, full);
      if (!full.final && full.validationErrors.length === 0 && full.cancelledMs === undefined) toResume.push(full);
    }
  }

  function fileObject(f: StoredFile) {
    return { id: f.id, object: 'file', bytes: f.bytes.length, created_at: seconds(f.createdAt), filename: f.filename, purpose: f.purpose, status: 'processed', status_details: null };
  }

  function storeFile(bytes: Buffer, filename: string, purpose: string): StoredFile {
    const f: StoredFile = { id: nextId('file-'), bytes, filename, purpose, createdAt: Date.now() };
    files.set(f.id, f);
    persist();
    return f;
  }

  /** Validate the input file the way OpenAI does: every problem names its line. */
  function readLines(bytes: Buffer, endpoint: string): { lines: StoredBatch['lines']; errors: BatchError[]; model?: string } {
    const lines: StoredBatch['lines'] = [];
    const errors: BatchError[] = [];
    const ids = new Set<string>();
    const models = new Set<string>();
    const text = bytes.toString('utf8').split('\n');
    for (let i = 0; i < text.length; i++) {
      const raw = text[i]!.trim();
      if (raw === '') continue;
      const line = i + 1;
      let o: unknown;
      try {
        o = JSON.parse(raw);
      } catch {
        errors.push({ code: 'invalid_json_line', message: `This line is not parseable as valid JSON.`, line, param: null });
        continue;
      }
      const r = o as { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
      if (typeof r !== 'object' || r === null || typeof r.custom_id !== 'string' || r.custom_id === '') {
        errors.push({ code: 'missing_required_parameter', message: 'Missing required parameter: custom_id.', line, param: 'custom_id' });
      } else if (ids.has(r.custom_id)) {
        errors.push({ code: 'duplicate_custom_id', message: `The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.`, line, param: 'custom_id' });
      } else if (r.method !== 'POST') {
        errors.push({ code: 'invalid_value', message: `Invalid value for 'method': only POST is supported.`, line, param: 'method' });
      } else if (r.url !== endpoint) {
        errors.push({ code: 'mismatched_endpoint', message: `The provided url '${String(r.url)}' does not match the batch endpoint '${endpoint}'.`, line, param: 'url' });
      } else if (typeof r.body !== 'object' || r.body === null || Array.isArray(r.body)) {
        errors.push({ code: 'invalid_value', message: `Invalid value for 'body': expected an object.`, line, param: 'body' });
      } else {
        ids.add(r.custom_id);
        const body = r.body as Record<string, unknown>;
        if (typeof body.model === 'string') models.add(body.model);
        lines.push({ customId: r.custom_id, body });
      }
    }
    if (lines.length + errors.length === 0) errors.push({ code: 'empty_file', message: 'The input file is empty.', line: null, param: 'input_file_id' });
    if (lines.length > maxLines) errors.push({ code: 'too_many_requests', message: `The batch has ${lines.length} requests; at most ${maxLines} are allowed.`, line: null, param: 'input_file_id' });
    if (models.size > 1) errors.push({ code: 'model_mismatch', message: `All requests in a batch must use the same model (got ${[...models].join(', ')}).`, line: null, param: 'body.model' });
    return { lines, errors, ...(models.size === 1 ? { model: [...models][0] } : {}) };
  }

  async function chat(body: Record<string, unknown>): Promise<{ status: number; json: unknown; requestId: string }> {
    for (;;) {
      const r = await fetch(`${ctx.baseUrl()}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(ctx.apiKey !== undefined ? { authorization: `Bearer ${ctx.apiKey}` } : {}) },
        body: JSON.stringify(body),
      });
      const text = await r.text();
      // The live endpoint's rate limit is not the batch queue's: wait it out, it is not the line's failure.
      if (r.status === 429 && !stopped) {
        const after = Number(r.headers.get('retry-after') ?? '1');
        await new Promise((res) => setTimeout(res, Math.max(50, (Number.isFinite(after) ? after : 1) * 1000)));
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = { error: { message: text, type: 'server_error', param: null, code: null } };
      }
      return { status: r.status, json, requestId: r.headers.get('x-request-id') ?? `req_${sha(['batch', text]).slice(0, 24)}` };
    }
  }

  async function answerLine(b: StoredBatch, i: number): Promise<void> {
    const { customId, body } = b.lines[i]!;
    const id = `batch_req_${sha([b.id, customId]).slice(0, 24)}`;
    const bodyHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const times = (batchedTimes.get(bodyHash) ?? 0) + 1;
    batchedTimes.set(bodyHash, times);
    if (lineFailureRate > 0 && unit(ctx.seed, 'batch-line-failure', bodyHash, times) < lineFailureRate) {
      b.results[i] = {
        customId, ok: false,
        line: { id, custom_id: customId, response: { status_code: 500, request_id: `req_${sha([id, 'fail']).slice(0, 24)}`, body: apiError('The server had an error processing this request (SIMULATED batch line failure).', null, null, 'server_error') }, error: null },
      };
      return;
    }
    let r: Awaited<ReturnType<typeof chat>>;
    try {
      r = await chat(body);
    } catch (e) {
      if (stopped) return;
      r = { status: 500, json: apiError(`offline batch: ${(e as Error).message}`, null, null, 'server_error'), requestId: '' };
    }
    linesAnswered++;
    const usage = (r.json as { usage?: { prompt_tokens?: number; completion_tokens?: number } }).usage;
    b.results[i] = {
      customId, ok: r.status === 200,
      line: { id, custom_id: customId, response: { status_code: r.status, request_id: r.requestId, body: r.json }, error: null },
      ...(r.status === 200 && usage ? { usage: { prompt_tokens: usage.prompt_tokens ?? 0, completion_tokens: usage.completion_tokens ?? 0 } } : {}),
    };
  }

  function start(b: StoredBatch): void {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!stopped && b.final === undefined && b.cancelledMs === undefined && next < b.lines.length) {
        const i = next++;
        await answerLine(b, i);
        b.answered++;
      }
    };
    for (let k = 0; k < Math.min(concurrency, b.lines.length); k++) void worker();
  }

  /** ms after creation at which line i becomes visible (evenly spread over the in-progress time). */
  const visibleAt = (b: StoredBatch, i: number): number => validatingMs + ((i + 1) / b.lines.length) * (completionDelayMs - validatingMs);

  function finish(b: StoredBatch, status: BatchStatus, atMs: number, cutMs: number): void {
    const out: string[] = [];
    const err: string[] = [];
    const usage: Usage = { input_tokens: 0, output_tokens: 0, total_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } };
    let completed = 0, failed = 0;
    b.lines.forEach((l, i) => {
      const r = b.results[i];
      const visible = r !== undefined && (status === 'completed' || visibleAt(b, i) <= cutMs);
      if (visible) {
        (r.ok ? out : err).push(JSON.stringify(r.line));
        if (r.ok) completed++;
        else failed++;
        if (r.usage) {
          usage.input_tokens += r.usage.prompt_tokens;
          usage.output_tokens += r.usage.completion_tokens;
        }
      } else if (status === 'expired') {
        err.push(JSON.stringify({ id: `batch_req_${sha([b.id, l.customId]).slice(0, 24)}`, custom_id: l.customId, response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } }));
        failed++;
      }
    });
    usage.total_tokens = usage.input_tokens + usage.output_tokens;
    const outputFileId = out.length > 0 ? storeFile(Buffer.from(out.join('\n') + '\n'), `${b.id}_output.jsonl`, 'batch_output').id : undefined;
    const errorFileId = err.length > 0 ? storeFile(Buffer.from(err.join('\n') + '\n'), `${b.id}_error.jsonl`, 'batch_output').id : undefined;
    b.final = { status, atMs, outputFileId, errorFileId, counts: { total: b.lines.length, completed, failed }, usage };
    persist();
  }

  /** The batch's state now (end states are settled once, creating the output and error files). */
  function view(b: StoredBatch) {
    const now = Date.now();
    const age = now - b.createdMs;
    if (!b.final) {
      const all = b.answered >= b.lines.length;
      if (b.validationErrors.length > 0) {
        if (age >= validatingMs) {
          b.final = { status: 'failed', atMs: b.createdMs + validatingMs, counts: { total: 0, completed: 0, failed: 0 }, usage: emptyUsage() };
          persist();
        }
      } else if (b.cancelledMs !== undefined) {
        finish(b, 'cancelled', now, b.cancelledMs - b.createdMs);
      } else if (expireAfterMs !== undefined && age >= expireAfterMs && !(all && completionDelayMs <= expireAfterMs)) {
        finish(b, 'expired', b.createdMs + expireAfterMs, expireAfterMs);
      } else if (age >= completionDelayMs && all) {
        finish(b, 'completed', now, age);
      }
    }
    const f = b.final;
    const status: BatchStatus = f ? f.status : age < validatingMs ? 'validating' : 'in_progress';
    let counts = f?.counts;
    if (!counts) {
      counts = { total: b.validationErrors.length > 0 ? 0 : b.lines.length, completed: 0, failed: 0 };
      if (status === 'in_progress') {
        b.lines.forEach((_, i) => {
          const r = b.results[i];
          if (!r || visibleAt(b, i) > age) return;
          if (r.ok) counts!.completed++;
          else counts!.failed++;
        });
      }
    }
    const inProgressAt = b.validationErrors.length === 0 && age >= validatingMs ? seconds(b.createdMs + validatingMs) : null;
    return {
      id: b.id,
      object: 'batch',
      endpoint: b.endpoint,
      model: b.model ?? null,
      errors: b.validationErrors.length > 0 && (f || age >= validatingMs) ? { object: 'list', data: b.validationErrors } : null,
      input_file_id: b.inputFileId,
      completion_window: b.completionWindow,
      status,
      output_file_id: f?.outputFileId ?? null,
      error_file_id: f?.errorFileId ?? null,
      created_at: seconds(b.createdMs),
      in_progress_at: inProgressAt,
      expires_at: seconds(b.createdMs + (expireAfterMs ?? 24 * 3600 * 1000)),
      finalizing_at: f && f.status === 'completed' ? seconds(f.atMs) : null,
      completed_at: f?.status === 'completed' ? seconds(f.atMs) : null,
      failed_at: f?.status === 'failed' ? seconds(f.atMs) : null,
      expired_at: f?.status === 'expired' ? seconds(f.atMs) : null,
      cancelling_at: b.cancelledMs !== undefined ? seconds(b.cancelledMs) : null,
      cancelled_at: f?.status === 'cancelled' ? seconds(f.atMs) : null,
      request_counts: counts,
      usage: f?.usage ?? emptyUsage(),
      metadata: b.metadata,
    };
  }

  const emptyUsage = (): Usage => ({ input_tokens: 0, output_tokens: 0, total_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } });

  async function handle(method: string, route: string, req: http.IncomingMessage, body: Buffer | 'too-large', res: http.ServerResponse): Promise<boolean> {
    const seg = route.split('/').filter(Boolean);
    if (seg[0] !== 'files' && seg[0] !== 'batches') return false;
    for (const b of toResume.splice(0)) start(b);
    if (body === 'too-large') {
      send(res, 413, apiError('Request body too large.'));
      return true;
    }
    const id = seg[1] !== undefined ? decodeURIComponent(seg[1]) : undefined;

    if (seg[0] === 'files') {
      if (method === 'POST' && seg.length === 1) {
        const parts = parseMultipart(body, String(req.headers['content-type'] ?? ''));
        if (!parts) return void send(res, 400, apiError('Expected a multipart/form-data body with the fields purpose and file.')), true;
        const purpose = parts.get('purpose')?.data.toString('utf8').trim();
        const file = parts.get('file');
        if (!file) return void send(res, 400, apiError("Missing required parameter: 'file'.", 'file')), true;
        if (purpose !== 'batch') return void send(res, 400, apiError(`Invalid value for 'purpose': the offline server stores only purpose "batch" files (got ${JSON.stringify(purpose ?? null)}).`, 'purpose')), true;
        send(res, 200, fileObject(storeFile(Buffer.from(file.data), file.filename ?? 'upload.jsonl', purpose)));
        return true;
      }
      if (method === 'GET' && seg.length === 1) {
        send(res, 200, { object: 'list', data: [...files.values()].map(fileObject), has_more: false });
        return true;
      }
      const f = id !== undefined ? files.get(id) : undefined;
      if (!f) return void send(res, 404, apiError(`No such File object: ${id}`, 'id')), true;
      if (method === 'GET' && seg.length === 2) return void send(res, 200, fileObject(f)), true;
      if (method === 'GET' && seg.length === 3 && seg[2] === 'content') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.bytes.length, ...SIMULATED });
        res.end(f.bytes);
        return true;
      }
      if (method === 'DELETE' && seg.length === 2) {
        files.delete(f.id);
        persist();
        return void send(res, 200, { id: f.id, object: 'file', deleted: true }), true;
      }
      send(res, 404, apiError(`Invalid URL (${method} /v1${route})`));
      return true;
    }

    // /batches
    if (method === 'POST' && seg.length === 1) {
      let p: Record<string, unknown>;
      try {
        p = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return void send(res, 400, apiError('We could not parse the JSON body of your request.')), true;
      }
      if (typeof p !== 'object' || p === null) return void send(res, 400, apiError('The request body must be a JSON object.')), true;
      if (p.endpoint !== '/v1/chat/completions') return void send(res, 400, apiError(`Invalid value for 'endpoint': the offline server batches only /v1/chat/completions (got ${JSON.stringify(p.endpoint ?? null)}).`, 'endpoint', 'invalid_value')), true;
      if (p.completion_window !== '24h') return void send(res, 400, apiError(`Invalid value for 'completion_window': only "24h" is supported.`, 'completion_window', 'invalid_value')), true;
      const input = typeof p.input_file_id === 'string' ? files.get(p.input_file_id) : undefined;
      if (!input) return void send(res, 404, apiError(`No such File object: ${String(p.input_file_id)}`, 'input_file_id')), true;
      if (input.purpose !== 'batch') return void send(res, 400, apiError(`File ${input.id} has purpose "${input.purpose}"; a batch input needs purpose "batch".`, 'input_file_id')), true;
      const { lines, errors, model } = readLines(input.bytes, p.endpoint);
      const b: StoredBatch = {
        id: nextId('batch_'), inputFileId: input.id, endpoint: p.endpoint, completionWindow: '24h',
        metadata: (p.metadata as Record<string, string> | undefined) ?? null, ...(model ? { model } : {}),
        createdMs: Date.now(), lines, validationErrors: errors, results: new Array(lines.length), answered: 0,
      };
      batches.set(b.id, b);
      persist();
      if (errors.length === 0) start(b);
      send(res, 200, view(b));
      return true;
    }
    if (method === 'GET' && seg.length === 1) {
      send(res, 200, { object: 'list', data: [...batches.values()].reverse().map(view), has_more: false });
      return true;
    }
    const b = id !== undefined ? batches.get(id) : undefined;
    if (!b) return void send(res, 404, apiError(`No batch found with id '${id}'.`, 'batch_id')), true;
    if (method === 'GET' && seg.length === 2) return void send(res, 200, view(b)), true;
    if (method === 'POST' && seg.length === 3 && seg[2] === 'cancel') {
      const v = view(b);
      if (v.status !== 'validating' && v.status !== 'in_progress') return void send(res, 409, apiError(`Cannot cancel a batch with status '${v.status}'.`)), true;
      b.cancelledMs = Date.now();
      persist();
      return void send(res, 200, { ...view(b), status: 'cancelling' as BatchStatus }), true;
    }
    send(res, 404, apiError(`Invalid URL (${method} /v1${route})`));
    return true;
  }

  restore();
  return {
    handle,
    stop: () => {
      stopped = true;
    },
    stats: () => {
      const byStatus: Record<string, number> = {};
      for (const b of batches.values()) {
        const s = view(b).status;
        byStatus[s] = (byStatus[s] ?? 0) + 1;
      }
      return { files: files.size, batches: batches.size, linesAnswered, byStatus };
    },
  };
}
