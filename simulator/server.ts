/**
 * A deterministic OFFLINE OpenAI-compatible server (node:http only) for tests and the demo.
 *
 * It plays every role the pipeline needs, told apart by the messages it receives:
 *   - the FLASK judge (review prompt)                  -> feedback + "Score: N" + a skill dictionary
 *   - the three FLASK annotators (domain / skill set / difficulty)
 *   - the evaluated model (anything else)              -> a plausible answer of ~answerWords words
 *
 * Everything it says is SIMULATED: scores come from a hash, nudged by crude quality signals
 * (response length, word overlap with the reference answer). Its outputs are shaped like a real
 * judge's, in several styles and with realistic failures, so that the production parsers, retry
 * and rate-limit handling are exercised. Production code talks to it through the ordinary
 * OpenAI SDK and never knows.
 *
 * Determinism: every random choice is a hash of (seed, request content[, attempt]); the request
 * content is its messages (requestContentHash). The server remembers how often it has admitted
 * each exact content; the attempt number feeds only the
 * failure decisions (5xx, malformed), so a retried request eventually succeeds while its scores
 * and labels stay the same across attempts.
 */
import http from 'node:http';
import { sha, unit, tokens } from './random.js';
import { classify, type RequestKind } from './classify.js';
import type { Generated } from './generated.js';
import { generateReview, type SimulatedJudgeBias } from './judge.js';
import { generateDomain, generateSkillset, generateDifficulty } from './annotator.js';
import { generateAnswer } from './model.js';
import { createOfflineBatches, type OfflineBatchOptions } from './batches.js';
import { generatePrometheusGrade } from './prometheusJudge.js';
import { RateWindow, type WindowEntry } from './rateWindow.js';
import { formatResetDuration } from '../core/rate/headers.js';
import { errorBody, readBody, sendJson, type ErrorBody } from './http.js';
import { parseChatRequest, requestContentHash } from './chatRequest.js';

export { requestContentHash };


import { OFFLINE_MODEL_ID, OFFLINE_ANSWER_MODEL_ID } from '../core/provider/simulatedModels.js';
import { setTimeout as sleep } from 'node:timers/promises';
export { OFFLINE_MODEL_ID, OFFLINE_ANSWER_MODEL_ID };
/** `owned_by` of the models it lists: clients learn from it (and from SIMULATED_HEADER) that its outputs are simulated. */
export const OFFLINE_OWNER = 'flask-eval-offline (SIMULATED)';
/** Sent with the value "true" on every response. */
export const SIMULATED_HEADER = 'x-flask-simulated';

export interface OfflineServerOptions {
  /** 0 = random free port (default 0); host is always 127.0.0.1 */
  port?: number;
  /** added per request (default 0); in serial mode, each request's service time */
  latencyMs?: number;
  /**
   * One request at a time, like a local server with one slot (llama.cpp's default): requests,
   * GET /models included, wait in arrival order while another is served. A request whose client
   * hangs up while it waits is dropped unserved; one whose client hangs up while served stops
   * there (counted as abandoned, no event). Default false.
   */
  serial?: boolean;
  /** sliding 60 s window (rateWindowMs) over ALL chat requests; beyond it -> HTTP 429 with Retry-After; 0/undefined = unlimited */
  requestsPerMinute?: number;
  /**
   * sliding 60 s window (rateWindowMs) over tokens, like OpenAI's TPM: at admission a request is
   * charged its prompt tokens + max_tokens (0 when absent) and refused with HTTP 429 + Retry-After
   * if that does not fit; once answered, its entry becomes prompt + completion tokens really used
   * (prompt only for a 5xx). A request larger than the whole limit is admitted into an empty window.
   * 0/undefined = unlimited. With either limit set, every response carries
   * x-ratelimit-limit/remaining/reset-requests (and -tokens); reset = until the oldest entry leaves.
   */
  tokensPerMinute?: number;
  /** fraction 0..1 of requests answered with HTTP 500/502/503 */
  serverErrorRate?: number;
  /** fraction 0..1 of successful judge/annotator completions whose text is malformed */
  malformedRate?: number;
  /** default 0 */
  seed?: number;
  /** if set, requests without `Authorization: Bearer <apiKey>` get 401 */
  apiKey?: string;
  /** evaluated-model role: typical answer length in words (default 80) */
  answerWords?: number;
  /** evaluated-model role: fraction of answers that are empty */
  emptyAnswerRate?: number;
  /** evaluated-model role: fraction of answers cut mid-sentence with finish_reason "length" */
  truncatedAnswerRate?: number;
  /** length of the rate-limit window in ms (default 60 000); lets tests exercise 429s quickly */
  rateWindowMs?: number;
  /**
   * Send x-ratelimit-* headers (default true). Off, a client cannot learn the limit and pace
   * itself: tests of 429 handling (Retry-After, AIMD back-off) use it.
   */
  rateLimitHeaders?: boolean;
  /** the FLASK judge's planted flaws (noise across samples, length bias, skill-order shift); SIMULATED, known sizes */
  judgeBias?: SimulatedJudgeBias;
  /** called once per chat-completion request with how it was answered (tests, benchmarks) */
  onRequest?: (event: OfflineRequestEvent) => void;
  /** the Files + Batch API (simulator/batches.ts): completion delay, per-line failures, expiry */
  batches?: OfflineBatchOptions;
}

/** How one chat-completion request was answered. */
export interface OfflineRequestEvent {
  /** arrival time, ms since the epoch */
  at: number;
  /** requestContentHash of its messages ('' when the body had no valid messages) */
  contentHash: string;
  /** how often this exact content had been admitted, this one included (0 before admission: 400/401/429) */
  attempt: number;
  /** HTTP status answered */
  status: number;
  /** with a 429: the Retry-After sent, in seconds */
  retryAfterSec?: number;
  /** with a 429: which limit refused it */
  rateLimit?: 'requests' | 'tokens';
  /** with a 200: usage as reported */
  promptTokens?: number;
  completionTokens?: number;
  /** with a 200 */
  kind?: RequestKind;
  malformed?: boolean;
  finishReason?: 'stop' | 'length';
  /** with a 200: the sampling fields the request carried, as sent (absent ones left out) */
  sampling?: Record<string, unknown>;
}

interface OfflineServerStats {
  /** chat-completion requests received (including the ones answered with an error) */
  requests: number;
  /** successful completions per kind: review, domain, skillset, difficulty, model */
  byKind: Record<string, number>;
  status429: number;
  status5xx: number;
  /** successful completions whose text was deliberately malformed */
  malformed: number;
  /** requests whose client hung up before they were answered (serial mode) */
  abandoned: number;
  /** most requests waiting at once behind the one being served (serial mode) */
  peakWaiting: number;
}

export interface OfflineServer {
  /** base URL incl. /v1, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  close(): Promise<void>;
  stats(): OfflineServerStats;
}

function rate(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new RangeError(`${name} must be a fraction between 0 and 1 (got ${v})`);
  return v;
}

const MODEL_CREATED = 1_700_000_000;
const MAX_BODY = 32 * 1024 * 1024;
const MAX_REMEMBERED = 200_000;

export async function startOfflineServer(opts: OfflineServerOptions = {}): Promise<OfflineServer> {
  const seed = opts.seed ?? 0;
  const latencyMs = Math.max(0, opts.latencyMs ?? 0);
  const rpm = Math.max(0, Math.floor(opts.requestsPerMinute ?? 0));
  const tpm = Math.max(0, Math.floor(opts.tokensPerMinute ?? 0));
  const rateWindowMs = opts.rateWindowMs ?? 60_000;
  const serverErrorRate = rate('serverErrorRate', opts.serverErrorRate);
  const malformedRate = rate('malformedRate', opts.malformedRate);
  const emptyAnswerRate = rate('emptyAnswerRate', opts.emptyAnswerRate);
  const truncatedAnswerRate = rate('truncatedAnswerRate', opts.truncatedAnswerRate);
  const answerWords = Math.max(1, Math.round(opts.answerWords ?? 80));
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a number (got ${opts.seed})`);
  if (!Number.isFinite(latencyMs)) throw new RangeError(`latencyMs must be a number (got ${opts.latencyMs})`);
  if (!Number.isFinite(rateWindowMs) || rateWindowMs <= 0) throw new RangeError(`rateWindowMs must be > 0 (got ${opts.rateWindowMs})`);
  if (!Number.isFinite(rpm)) throw new RangeError(`requestsPerMinute must be a number (got ${opts.requestsPerMinute})`);
  if (!Number.isFinite(tpm)) throw new RangeError(`tokensPerMinute must be a number (got ${opts.tokensPerMinute})`);

  const stats: OfflineServerStats = { requests: 0, byKind: {}, status429: 0, status5xx: 0, malformed: 0, abandoned: 0, peakWaiting: 0 };
  const seen = new Map<string, number>();
  const batches = createOfflineBatches(opts.batches ?? {}, { seed, apiKey: opts.apiKey, baseUrl: () => url });
  const requestWindow = new RateWindow(rpm, rateWindowMs);
  const tokenWindow = new RateWindow(tpm, rateWindowMs);
  let inFlight = 0;
  let closing = false;
  let onIdle: (() => void) | undefined;


  /** x-ratelimit-* as OpenAI sends them, for the limits that are set. */
  function rateLimitHeaders(now: number): Record<string, string> {
    if (opts.rateLimitHeaders === false) return {};
    const h: Record<string, string> = {};
    if (rpm > 0) {
      h['x-ratelimit-limit-requests'] = String(rpm);
      h['x-ratelimit-remaining-requests'] = String(Math.max(0, rpm - requestWindow.count(now)));
      h['x-ratelimit-reset-requests'] = formatResetDuration(requestWindow.resetMs(now));
    }
    if (tpm > 0) {
      h['x-ratelimit-limit-tokens'] = String(tpm);
      h['x-ratelimit-remaining-tokens'] = String(Math.max(0, tpm - tokenWindow.used(now)));
      h['x-ratelimit-reset-tokens'] = formatResetDuration(tokenWindow.resetMs(now));
    }
    return h;
  }

  /** Every response: the simulated marker, the rate-limit state, then the response's own headers. */
  function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    sendJson(res, status, body, { [SIMULATED_HEADER]: 'true', ...rateLimitHeaders(Date.now()), ...headers });
  }

  function emit(e: OfflineRequestEvent): void {
    if (!opts.onRequest) return;
    try {
      opts.onRequest(e);
    } catch {
      // an observer's bug must not change what the server answers
    }
  }

  // Serial mode: the tail of the queue of requests (each waits for the one before it).
  let serialTail: Promise<void> = Promise.resolve();
  let waiting = 0;
  async function handleSerially(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let hungUp = false;
    res.once('close', () => (hungUp = !res.writableFinished));
    const before = serialTail;
    let release!: () => void;
    serialTail = new Promise((r) => (release = r));
    waiting++;
    stats.peakWaiting = Math.max(stats.peakWaiting, waiting - 1);
    try {
      await before;
      if (hungUp) {
        stats.abandoned++;
        return;
      }
      await handle(req, res, () => hungUp);
      if (hungUp) stats.abandoned++;
    } finally {
      waiting--;
      release();
    }
  }

  /** Sleeps the service time; in serial mode it ends early when the client has hung up. */
  async function serve(ms: number, hungUp: () => boolean): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && !hungUp()) await sleep(Math.min(100, until - Date.now()));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, hungUp: () => boolean = () => false): Promise<void> {
    const at = Date.now();
    const body = await readBody(req, MAX_BODY);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = url.pathname.replace(/\/+$/, '').replace(/^\/v1(?=\/|$)/, '');
    const method = req.method ?? 'GET';
    // The latency stands for inference: listing the models (a client's preflight) answers at once
    // (in serial mode, once the requests before it have been served).
    if (latencyMs > 0 && !(method === 'GET' && route === '/models')) {
      await serve(latencyMs, hungUp);
      if (hungUp()) return;
    }
    const isChat = route === '/chat/completions' && method === 'POST';

    // Every chat request ends in exactly one of these (and one event).
    let contentHash = '';
    let attempt = 0;
    const fail = (status: number, err: ErrorBody, headers: Record<string, string> = {}, retryAfterSec?: number, rateLimit?: 'requests' | 'tokens'): void => {
      send(res, status, err, headers);
      if (isChat) emit({ at, contentHash, attempt, status, ...(retryAfterSec !== undefined ? { retryAfterSec } : {}), ...(rateLimit ? { rateLimit } : {}) });
    };

    if (isChat) stats.requests++;

    if (opts.apiKey !== undefined) {
      const auth = req.headers.authorization ?? '';
      if (auth !== `Bearer ${opts.apiKey}`) {
        const message = auth
          ? 'Incorrect API key provided. You can find your API key in the configuration of the offline server (--api-key).'
          : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
        fail(401, errorBody(message, 'invalid_request_error', auth ? 'invalid_api_key' : null));
        return;
      }
    }

    if (method === 'GET' && route === '/models') {
      send(res, 200, {
        object: 'list',
        data: [OFFLINE_MODEL_ID, OFFLINE_ANSWER_MODEL_ID].map((id) => ({ id, object: 'model', created: MODEL_CREATED, owned_by: OFFLINE_OWNER })),
      });
      return;
    }
    const one = /^\/models\/(.+)$/.exec(route);
    if (method === 'GET' && one) {
      const id = decodeURIComponent(one[1]!);
      if (id === OFFLINE_MODEL_ID || id === OFFLINE_ANSWER_MODEL_ID) send(res, 200, { id, object: 'model', created: MODEL_CREATED, owned_by: OFFLINE_OWNER });
      else send(res, 404, errorBody(`The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model'));
      return;
    }
    if (!isChat && (await batches.handle(method, route, req, body, res))) return;
    if (!isChat) {
      send(res, 404, errorBody(`Invalid URL (${method} ${url.pathname})`, 'invalid_request_error'));
      return;
    }

    // Validation (400): cheap, and it tells which content the request carries.
    const checked = parseChatRequest(body);
    if (!checked.ok) {
      contentHash = checked.contentHash ?? '';
      fail(checked.status, checked.error);
      return;
    }
    const { body: b, messages, maxTokens } = checked;
    contentHash = checked.contentHash;

    const promptTokens = tokens(messages.reduce((n, m) => n + m.text.length, 0));

    // Rate limits: sliding windows (60 s by default) over all admitted chat requests / their tokens.
    let tokenEntry: WindowEntry | undefined;
    if (rpm > 0 || tpm > 0) {
      const now = Date.now();
      if (rpm > 0 && requestWindow.count(now) >= rpm) {
        stats.status429++;
        const used = requestWindow.count(now);
        const retryAfter = Math.max(1, Math.ceil(requestWindow.resetMs(now) / 1000));
        fail(
          429,
          errorBody(`Rate limit reached for requests per minute (RPM): limit ${rpm}, used ${used}, requested 1. Please try again in ${retryAfter}s.`, 'requests', 'rate_limit_exceeded'),
          { 'retry-after': String(retryAfter), ...(opts.rateLimitHeaders === false ? {} : { 'x-ratelimit-limit-requests': String(rpm), 'x-ratelimit-remaining-requests': '0' }) },
          retryAfter,
          'requests',
        );
        return;
      }
      const charge = promptTokens + (maxTokens ?? 0);
      if (tpm > 0 && !tokenWindow.fits(now, charge)) {
        stats.status429++;
        const used = tokenWindow.used(now);
        const retryAfter = Math.max(1, Math.ceil(tokenWindow.waitFor(now, charge) / 1000));
        fail(
          429,
          errorBody(`Rate limit reached for tokens per minute (TPM): limit ${tpm}, used ${used}, requested ${charge}. Please try again in ${retryAfter}s.`, 'tokens', 'rate_limit_exceeded'),
          { 'retry-after': String(retryAfter) },
          retryAfter,
          'tokens',
        );
        return;
      }
      if (rpm > 0) requestWindow.add(now, 1);
      if (tpm > 0) tokenEntry = tokenWindow.add(now, charge);
    }

    // The attempt number of this exact content: it feeds the failure draws only.
    attempt = (seen.get(contentHash) ?? 0) + 1;
    seen.delete(contentHash);
    seen.set(contentHash, attempt);
    if (seen.size > MAX_REMEMBERED) seen.delete(seen.keys().next().value as string);
    const reqHash = contentHash;

    // Server errors: decided before any work.
    if (serverErrorRate > 0 && unit(seed, 'server-error', reqHash, attempt) < serverErrorRate) {
      stats.status5xx++;
      if (tokenEntry) tokenWindow.correct(tokenEntry, promptTokens, Date.now());
      const which = Math.floor(unit(seed, 'server-error-status', reqHash, attempt) * 3);
      const [status, message, code] =
        which === 0
          ? [500, 'The server had an error while processing your request. Sorry about that!', null]
          : which === 1
            ? [502, 'Bad gateway.', null]
            : [503, 'The engine is currently overloaded, please try again later.', 'engine_overloaded'];
      fail(status, errorBody(message, 'server_error', code));
      return;
    }

    const kind = classify(messages);
    const user = messages.filter((m) => m.role === 'user').map((m) => m.text).join('\n');
    const malformed = kind !== 'model' && malformedRate > 0 && unit(seed, 'malformed', reqHash, attempt) < malformedRate;
    const malformedDraw = unit(seed, 'malformed-kind', reqHash, attempt);

    let gen: Generated;
    switch (kind) {
      case 'review':
        gen = generateReview(seed, reqHash, user, malformed, malformedDraw, opts.judgeBias, attempt);
        break;
      case 'prometheus':
        gen = generatePrometheusGrade(seed, reqHash, user, malformed, malformedDraw);
        break;
      case 'domain':
        gen = generateDomain(seed, user, malformed);
        break;
      case 'skillset':
        gen = generateSkillset(seed, user, malformed, malformedDraw);
        break;
      case 'difficulty':
        gen = generateDifficulty(seed, user, malformed);
        break;
      default: {
        const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.text ?? user;
        gen = generateAnswer(seed, reqHash, lastUser, { answerWords, emptyAnswerRate, truncatedAnswerRate });
      }
    }
    if (maxTokens !== undefined && gen.text.length > maxTokens * 4) {
      gen = { ...gen, text: gen.text.slice(0, maxTokens * 4), finishReason: 'length' };
    }

    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
    if (gen.malformed) stats.malformed++;
    const completionTokens = tokens(gen.text.length);
    if (tokenEntry) tokenWindow.correct(tokenEntry, promptTokens + completionTokens, Date.now());
    send(
      res, 200,
      {
        id: `chatcmpl-${sha([seed, reqHash, attempt]).slice(0, 24)}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: b.model,
        choices: [{ index: 0, message: { role: 'assistant', content: gen.text, refusal: null }, logprobs: null, finish_reason: gen.finishReason }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        system_fingerprint: 'fp_flask_offline',
      },
      { 'x-request-id': `req_${sha(['id', reqHash, attempt]).slice(0, 24)}`, 'openai-processing-ms': String(latencyMs) },
    );
    const sampling = Object.fromEntries(['temperature', 'top_p', 'seed', 'max_tokens', 'repetition_penalty'].filter((k) => b[k] !== undefined).map((k) => [k, b[k]]));
    emit({ at, contentHash, attempt, status: 200, kind, malformed: gen.malformed, finishReason: gen.finishReason, promptTokens, completionTokens, sampling });
  }

  const server = http.createServer((req, res) => {
    inFlight++;
    if (closing) res.setHeader('connection', 'close');
    (opts.serial ? handleSerially(req, res) : handle(req, res))
      .catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, errorBody(`offline server error: ${(e as Error)?.message ?? String(e)}`, 'server_error'));
        else res.destroy();
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0 && onIdle) onIdle();
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('offline server: no TCP address');
  const url = `http://127.0.0.1:${address.port}/v1`;

  let closed: Promise<void> | undefined;
  return {
    url,
    stats: () => ({ ...stats, byKind: { ...stats.byKind } }),
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        batches.stop();
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests still being answered finish; then keep-alive sockets are dropped.
        const finish = (): void => {
          server.closeAllConnections();
        };
        if (inFlight === 0) finish();
        else onIdle = () => setImmediate(finish);
      });
      return closed;
    },
  };
}
