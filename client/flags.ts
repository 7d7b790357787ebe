import path from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../core/errors.js';
import { Database } from '../core/store/database.js';
import { dbPath, judgeEndpoint, modelEndpoint, type EndpointConfig } from '../core/config.js';
import type { RunOptions } from './execute.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../core/rate/index.js';
import type { EndpointLimits } from '../core/rate/index.js';
import { CACHE_MODES, type CacheMode } from '../core/pipeline.js';

type Values = Record<string, string | boolean | string[] | undefined>;
type Warn = (s: string) => void;
const stderrWarn: Warn = (s) => process.stderr.write(`warning: ${s}\n`);

/** Flags every run command shares (review, infer, eval, annotate), in node:util parseArgs form. */
export const RUN_FLAGS = {
  run: { type: 'string' },
  db: { type: 'string' },
  'max-concurrency': { type: 'string' },
  concurrency: { type: 'string' },
  'judge-concurrency': { type: 'string' },
  'model-concurrency': { type: 'string' },
  'request-timeout': { type: 'string' },
  'judge-request-timeout': { type: 'string' },
  'model-request-timeout': { type: 'string' },
  'chunk-size': { type: 'string' },
  'batch-size': { type: 'string' },
  'max-attempts': { type: 'string' },
  'retry-failed': { type: 'boolean' },
  'change-judge': { type: 'boolean' },
  detach: { type: 'boolean' },
  limit: { type: 'string' },
  'judge-model': { type: 'string' },
  'judge-base-url': { type: 'string' },
  'judge-api-key': { type: 'string' },
  'judge-api-key-file': { type: 'string' },
  'judge-temperature': { type: 'string' },
  'judge-max-tokens': { type: 'string' },
  'judge-top-p': { type: 'string' },
  'judge-seed': { type: 'string' },
  'judge-samples': { type: 'string' },
  'skill-order': { type: 'string' },
  'judge-rpm': { type: 'string' },
  'judge-tpm': { type: 'string' },
  'judge-rps': { type: 'string' },
  'judge-profile': { type: 'string' },
  prices: { type: 'string' },
  'max-cost': { type: 'string' },
  judge: { type: 'string', multiple: true },
  batch: { type: 'boolean' },
  'batch-poll-seconds': { type: 'string' },
  'batch-fallback': { type: 'string' },
  cache: { type: 'string' },
} as const;

/** The evaluated model's endpoint limits and key file (infer, eval). */
export const MODEL_RUN_FLAGS = {
  'model-rpm': { type: 'string' },
  'model-tpm': { type: 'string' },
  'model-rps': { type: 'string' },
  'model-api-key-file': { type: 'string' },
} as const;

/** For every run command's --help: keys on the command line are visible to other users. */
export function keyHelp(withModel: boolean): string {
  return withModel
    ? `  Keys: a key given on the command line (--judge-api-key, --model-api-key) is visible to other
  users of this machine in \`ps\`; prefer --judge-api-key-file F / --model-api-key-file F (the file's
  first line, trimmed; keep it chmod 600) or the variables OPENAI_API_KEY / FLASK_MODEL_API_KEY.`
    : `  Keys: a key given on the command line (--judge-api-key) is visible to other users of this
  machine in \`ps\`; prefer --judge-api-key-file F (the file's first line, trimmed; keep it
  chmod 600) or the variable OPENAI_API_KEY.`;
}

/** For every run command's --help: the per-endpoint limits (`withModel`: infer and eval, which call a model). */
export function limitsHelp(withModel: boolean): string {
  return [
    '  --judge-rpm N  --judge-tpm N   requests / tokens per minute for the judge endpoint, across all workers',
    ...(withModel ? ["  --model-rpm N  --model-tpm N   the same for the evaluated model's endpoint"] : []),
    '  --max-concurrency N            calls in flight per endpoint at most (alias --concurrency); without',
    '                                 limits the concurrency adapts to the endpoint (429s halve it)',
    `  --judge-concurrency N${withModel ? ' / --model-concurrency N' : ''}   the same, ${withModel ? 'one role' : 'the judge'} only`,
    `  --request-timeout S (120)      seconds a call may take, queueing at the server included; --judge-request-timeout S${withModel ? ' / --model-request-timeout S' : ''}`,
    '                                 one role only. The preflight waits as long for a busy server; adaptive concurrency keeps',
    '                                 calls under half of it (a one-at-a-time server gets 1-2 calls in flight)',
    '  --chunk-size N (1.5 x max-concurrency, 10-100) instances per activity   --batch-size N (1000)  --max-attempts N (8)',
    '  --change-judge                 allow another judge endpoint/model on an existing run (recorded per row)',
    '  --cache on|off|read|refresh    the call cache shared by every run of the results file (default: temperature-0',
    '                                 calls only): on = use and store answers, read = use only, refresh = store only, off',
    `  --judge-rps R${withModel ? ' / --model-rps R' : ''}  deprecated: R requests per second, read as --judge-rpm 60*R`,
  ].join('\n');
}

/** A positive integer flag (counts, sizes, limits); `min` 0 where zero means something (a seed). */
export function intFlag(v: Values, name: string, dflt: number, min?: number): number;
export function intFlag(v: Values, name: string, dflt: undefined, min?: number): number | undefined;
export function intFlag(v: Values, name: string, dflt: number | undefined, min = 1): number | undefined {
  const raw = v[name];
  if (raw === undefined) return dflt;
  const s = String(raw).trim();
  const n = Number(s);
  if (s === '' || !/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(n) || n < min) {
    throw new InputError(`--${name} must be ${min === 1 ? 'a positive integer' : `an integer >= ${min}`} (got "${raw}")`);
  }
  return n;
}

/** Any finite number (a temperature). */
export function numFlag(v: Values, name: string): number | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (String(raw).trim() === '' || !Number.isFinite(n)) throw new InputError(`--${name} must be a number (got "${raw}")`);
  return n;
}

/** A sampling temperature: 0 to 2, the range OpenAI-compatible APIs accept. */
export function temperatureFlag(v: Values, name: string): number | undefined {
  const n = numFlag(v, name);
  if (n !== undefined && (n < 0 || n > 2)) throw new InputError(`--${name} must be between 0 and 2 (got "${v[name]}")`);
  return n;
}

/** A rate: a finite number > 0. */
function positiveFlag(v: Values, name: string): number | undefined {
  const n = numFlag(v, name);
  if (n !== undefined && !(n > 0)) throw new InputError(`--${name} must be greater than 0 (got "${v[name]}"); leave it out for no limit`);
  return n;
}

export function strFlag(v: Values, name: string): string | undefined {
  const raw = v[name];
  return typeof raw === 'string' ? raw : undefined;
}

const MAX_RUN_NAME = 100;
const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A run name is a workflow id, a DuckDB key and part of file names: letters, digits, . _ - only. */
export function validateRunName(name: string, from = '--run'): string {
  if (name.trim() === '') throw new InputError(`${from}: a run name must not be empty`);
  if (name.length > MAX_RUN_NAME) throw new InputError(`${from}: run name is ${name.length} characters; at most ${MAX_RUN_NAME}`);
  if (!RUN_NAME.test(name)) {
    throw new InputError(`${from} "${name}": a run name starts with a letter or digit and holds only letters, digits, ".", "_" and "-"`);
  }
  return name;
}

/** A default run name from a model or file name: unsafe characters become "_", and it is bounded. */
export function defaultRunName(prefix: string, from: string, v?: Values): string {
  const safe = `${prefix}-${from}${v ? instanceSetSuffix(v) : ''}`.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return validateRunName(safe.slice(0, MAX_RUN_NAME) || prefix, 'run name');
}

/**
 * What tells one instance set from another in a default run name: FLASK-Hard, another evaluation
 * set, the first N. So `review --model chatgpt --hard` after `review --model chatgpt` is a run of
 * its own instead of a clash with the full set's run.
 */
function instanceSetSuffix(v: Values): string {
  const set = v.hard ? '-hard' : typeof v['eval-set'] === 'string' ? `-${path.basename(v['eval-set']).replace(/\.jsonl?$/, '')}` : '';
  const limit = typeof v.limit === 'string' ? `-first${v.limit}` : '';
  return set + limit;
}

/** `--run NAME` validated, or the default. */
export function runNameFlag(v: Values, dflt: () => string): string {
  const raw = strFlag(v, 'run');
  return raw === undefined ? dflt() : validateRunName(raw);
}

/**
 * What a run uses when no flag says otherwise (benchmarks use them too). Batches of 1,000 and
 * chunks of up to 100: fewer Temporal round trips per instance (measured in bench/, `npm run
 * bench`); see defaultChunkSize for why a chunk is smaller when few calls may be in flight.
 */
export const RUN_DEFAULTS = { batchSize: 1000, maxAttempts: 8, concurrency: 64 } as const;

/**
 * Instances per endpoint activity: 1.5 x the calls allowed in flight, between 10 and 100. A chunk
 * lands (and shows in the progress line) when its last instance is done, so with 8 calls in
 * flight a chunk of 100 would land every ~25 judge latencies; of 12, every few. With many calls
 * in flight (or none capped: 64), big chunks cost the fewest round trips.
 */
export function defaultChunkSize(concurrency: number): number {
  return Math.min(100, Math.max(10, Math.ceil(1.5 * concurrency)));
}

/** One role's limits: --ROLE-rpm/--ROLE-tpm, --ROLE-concurrency or --max-concurrency (alias --concurrency), deprecated --ROLE-rps. */
export function endpointLimitsFromFlags(v: Values, role: 'judge' | 'model', warn: Warn = stderrWarn): EndpointLimits {
  const maxConcurrency = intFlag(v, `${role}-concurrency`, undefined) ?? sharedConcurrency(v);
  let rpm = positiveFlag(v, `${role}-rpm`);
  const rps = positiveFlag(v, `${role}-rps`);
  if (rps !== undefined) {
    if (rpm !== undefined) throw new InputError(`give --${role}-rpm or the deprecated --${role}-rps, not both`);
    rpm = 60 * rps;
    warn(`--${role}-rps is deprecated: read as --${role}-rpm ${rpm}`);
  }
  const tpm = positiveFlag(v, `${role}-tpm`);
  if (tpm !== undefined && !Number.isInteger(tpm)) throw new InputError(`--${role}-tpm must be a positive integer (got "${v[`${role}-tpm`]}")`);
  const timeoutS = positiveFlag(v, `${role}-request-timeout`) ?? positiveFlag(v, 'request-timeout');
  return {
    ...(rpm !== undefined ? { rpm } : {}), ...(tpm !== undefined ? { tpm } : {}), ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
    requestTimeoutMs: timeoutS !== undefined ? Math.round(timeoutS * 1000) : DEFAULT_REQUEST_TIMEOUT_MS,
  };
}

function sharedConcurrency(v: Values): number | undefined {
  const max = intFlag(v, 'max-concurrency', undefined);
  const alias = intFlag(v, 'concurrency', undefined);
  if (max !== undefined && alias !== undefined && max !== alias) throw new InputError('--concurrency is an alias of --max-concurrency: give one of them');
  return max ?? alias;
}

/** What the run commands' flags say about a run's execution. */
export function runOptions(v: Values, warn: Warn = stderrWarn): RunOptions {
  const judgeLimits = endpointLimitsFromFlags(v, 'judge', warn);
  const modelLimits = endpointLimitsFromFlags(v, 'model', warn);
  // Enough instances in flight for the limiter to choose from; it decides the calls really sent.
  const concurrency = sharedConcurrency(v) ?? RUN_DEFAULTS.concurrency;
  return {
    judgeLimits,
    modelLimits,
    chunkSize: intFlag(v, 'chunk-size', undefined) ?? defaultChunkSize(Math.min(concurrency, judgeLimits.maxConcurrency ?? Infinity, modelLimits.maxConcurrency ?? Infinity)),
    batchSize: intFlag(v, 'batch-size', RUN_DEFAULTS.batchSize),
    maxAttempts: intFlag(v, 'max-attempts', RUN_DEFAULTS.maxAttempts),
    retryFailed: !!v['retry-failed'],
    changeJudge: !!v['change-judge'],
    detach: !!v.detach,
    limit: intFlag(v, 'limit', undefined),
    concurrency,
    ...(strFlag(v, 'prices') ? { pricesFile: strFlag(v, 'prices') } : {}),
    ...(v.batch ? { batch: { pollMs: 1000 * (numFlag(v, 'batch-poll-seconds') ?? 30), ...(intFlag(v, 'batch-fallback', undefined, 0) !== undefined ? { maxFallback: intFlag(v, 'batch-fallback', undefined, 0) } : {}) } } : {}),
    ...(maxCost(v) !== undefined ? { maxCostUsd: maxCost(v) } : {}),
    ...(cacheFlag(v) ? { cache: cacheFlag(v) } : {}),
  };
}

/** --max-cost USD: a positive amount ("$" allowed). */
function maxCost(v: Values): number | undefined {
  const raw = strFlag(v, 'max-cost');
  if (raw === undefined) return undefined;
  const n = Number(raw.replace(/^\$/, ''));
  if (!Number.isFinite(n) || n <= 0) throw new InputError(`--max-cost must be an amount in USD > 0, e.g. --max-cost 5 (got "${raw}")`);
  return n;
}

/** --cache MODE: one of CACHE_MODES. */
function cacheFlag(v: Values): CacheMode | undefined {
  const raw = strFlag(v, 'cache');
  if (raw === undefined) return undefined;
  if (!(CACHE_MODES as readonly string[]).includes(raw)) throw new InputError(`--cache must be one of ${CACHE_MODES.join(', ')} (got "${raw}")`);
  return raw as CacheMode;
}

export function openDb(v: Values): Database {
  return new Database(strFlag(v, 'db') ?? dbPath());
}

/**
 * A key from a file: its content, trimmed. A missing or empty file is an error; a file other
 * users can read gets a warning (the key is as exposed as on the command line).
 */
export function readKeyFile(file: string, flag: string, warn: Warn = stderrWarn): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`--${flag} ${file}: cannot read the key file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const key = text.trim();
  if (key === '') throw new InputError(`--${flag} ${file}: the key file is empty; put the API key on its first line`);
  if (/\s/.test(key)) throw new InputError(`--${flag} ${file}: the key file holds more than one word; put only the API key in it`);
  if ((statSync(file).mode & 0o004) !== 0) warn(`--${flag} ${file} is readable by every user of this machine: chmod 600 ${file}`);
  return key;
}

/**
 * Judge endpoint from env, overridden by flags. Keys stay in this process's memory: they are
 * handed to the provider only (never to workflows, DuckDB or logs).
 */
export function judgeFromFlags(v: Values, warn: Warn = stderrWarn): EndpointConfig {
  return withFlags(judgeEndpoint(), v, 'judge', warn);
}

export function modelFromFlags(v: Values, warn: Warn = stderrWarn): EndpointConfig {
  return withFlags(modelEndpoint(), v, 'model', warn);
}

function withFlags(e: EndpointConfig, v: Values, role: 'judge' | 'model', warn: Warn): EndpointConfig {
  const baseURL = strFlag(v, `${role}-base-url`) ?? e.baseURL;
  const keyFile = strFlag(v, `${role}-api-key-file`);
  if (keyFile !== undefined && strFlag(v, `${role}-api-key`) !== undefined) throw new InputError(`give --${role}-api-key-file or --${role}-api-key, not both`);
  const apiKey = keyFile !== undefined ? readKeyFile(keyFile, `${role}-api-key-file`, warn) : strFlag(v, `${role}-api-key`) ?? e.apiKey;
  const fromFlagsOrEnv = strFlag(v, role === 'judge' ? 'judge-model' : 'model-name');
  const defaults = role === 'judge' ? judgeEndpoint({ OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: baseURL, FLASK_JUDGE_MODEL: process.env.FLASK_JUDGE_MODEL })
    : modelEndpoint({ FLASK_MODEL_API_KEY: apiKey, FLASK_MODEL_BASE_URL: baseURL, FLASK_MODEL_NAME: process.env.FLASK_MODEL_NAME });
  return { baseURL, apiKey, model: fromFlagsOrEnv ?? defaults.model };
}
