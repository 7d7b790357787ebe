import { InputError } from '../core/errors.js';
import { Database } from '../core/store/database.js';
import { dbPath, judgeEndpoint, modelEndpoint, type EndpointConfig } from '../core/config.js';
import type { RunOptions } from './execute.js';

type Values = Record<string, string | boolean | string[] | undefined>;

/** Flags every run command shares, in node:util parseArgs form. */
export const RUN_FLAGS = {
  run: { type: 'string' },
  db: { type: 'string' },
  concurrency: { type: 'string' },
  'judge-concurrency': { type: 'string' },
  'model-concurrency': { type: 'string' },
  'batch-size': { type: 'string' },
  'max-attempts': { type: 'string' },
  'retry-failed': { type: 'boolean' },
  detach: { type: 'boolean' },
  'with-worker': { type: 'boolean' },
  limit: { type: 'string' },
  'judge-model': { type: 'string' },
  'judge-base-url': { type: 'string' },
  'judge-api-key': { type: 'string' },
  'judge-temperature': { type: 'string' },
  'judge-max-tokens': { type: 'string' },
  'judge-rps': { type: 'string' },
  'judge-rpm': { type: 'string' },
  'judge-tpm': { type: 'string' },
  'max-concurrency': { type: 'string' },
  'chunk-size': { type: 'string' },
  'change-judge': { type: 'boolean' },
  'judge-profile': { type: 'string' },
  prices: { type: 'string' },
  'max-cost': { type: 'string' },
  judge: { type: 'string', multiple: true },
  batch: { type: 'boolean' },
  'batch-poll-seconds': { type: 'string' },
  'batch-fallback': { type: 'string' },
} as const;

export function intFlag(v: Values, name: string, dflt: number, min?: number): number;
export function intFlag(v: Values, name: string, dflt: undefined, min?: number): number | undefined;
export function intFlag(v: Values, name: string, dflt: number | undefined, min = 1): number | undefined {
  const raw = v[name];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new InputError(`--${name} must be an integer >= ${min} (got "${raw}")`);
  return n;
}

export function numFlag(v: Values, name: string): number | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new InputError(`--${name} must be a number (got "${raw}")`);
  return n;
}

export function strFlag(v: Values, name: string): string | undefined {
  const raw = v[name];
  return typeof raw === 'string' ? raw : undefined;
}

export function runOptions(v: Values): RunOptions {
  const limits = (role: 'judge' | 'model') => {
    const rps = numFlag(v, `${role}-rps`);
    const rpm = intFlag(v, `${role}-rpm`, undefined) ?? (rps !== undefined ? Math.round(rps * 60) : undefined);
    const tpm = intFlag(v, `${role}-tpm`, undefined);
    const maxConcurrency = intFlag(v, `${role}-concurrency`, undefined) ?? intFlag(v, 'max-concurrency', undefined) ?? intFlag(v, 'concurrency', undefined);
    return { ...(rpm ? { rpm } : {}), ...(tpm ? { tpm } : {}), ...(maxConcurrency ? { maxConcurrency } : {}) };
  };
  const judgeLimits = limits('judge');
  const modelLimits = limits('model');
  return {
    concurrency: intFlag(v, 'max-concurrency', undefined) ?? intFlag(v, 'concurrency', 64),
    chunkSize: intFlag(v, 'chunk-size', 25),
    batchSize: intFlag(v, 'batch-size', 200),
    maxAttempts: intFlag(v, 'max-attempts', 8),
    retryFailed: !!v['retry-failed'],
    changeJudge: !!v['change-judge'],
    detach: !!v.detach,
    judgeLimits,
    modelLimits,
    limit: intFlag(v, 'limit', undefined),
    ...(strFlag(v, 'prices') ? { pricesFile: strFlag(v, 'prices') } : {}),
    ...(v.batch ? { batch: { pollMs: 1000 * (numFlag(v, 'batch-poll-seconds') ?? 30), ...(intFlag(v, 'batch-fallback', undefined, 0) !== undefined ? { maxFallback: intFlag(v, 'batch-fallback', undefined, 0) } : {}) } } : {}),
    ...(maxCost(v) !== undefined ? { maxCostUsd: maxCost(v) } : {}),
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

export function openDb(v: Values): Database {
  return new Database(strFlag(v, 'db') ?? dbPath());
}

/**
 * Judge endpoint from env, overridden by flags. Keys stay in this process's memory: they are
 * handed to the provider only (never to workflows, DuckDB or logs).
 */
export function judgeFromFlags(v: Values): EndpointConfig {
  return withFlags(judgeEndpoint(), v, 'judge');
}

export function modelFromFlags(v: Values): EndpointConfig {
  return withFlags(modelEndpoint(), v, 'model');
}

function withFlags(e: EndpointConfig, v: Values, role: 'judge' | 'model'): EndpointConfig {
  const baseURL = strFlag(v, `${role}-base-url`) ?? e.baseURL;
  const apiKey = strFlag(v, `${role}-api-key`) ?? e.apiKey;
  const fromFlagsOrEnv = strFlag(v, role === 'judge' ? 'judge-model' : 'model-name');
  const defaults = role === 'judge' ? judgeEndpoint({ OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: baseURL, FLASK_JUDGE_MODEL: process.env.FLASK_JUDGE_MODEL })
    : modelEndpoint({ FLASK_MODEL_API_KEY: apiKey, FLASK_MODEL_BASE_URL: baseURL, FLASK_MODEL_NAME: process.env.FLASK_MODEL_NAME });
  return { baseURL, apiKey, model: fromFlagsOrEnv ?? defaults.model };
}
