import path from 'node:path';
import { readFileSync } from 'node:fs';
import { PROJECT_ROOT } from './paths.js';
import { OPENAI_BASE_URL } from './provider/endpoint.js';
// The names the offline server answers to, used when no endpoint is configured.
import { OFFLINE_MODEL_ID as OFFLINE_JUDGE_MODEL, OFFLINE_ANSWER_MODEL_ID as OFFLINE_MODEL } from './provider/simulatedModels.js';

/**
 * Everything configurable through the environment, in one place. Flags override these in the
 * CLI. Keys are read here and handed to providers only: never to workflows, DuckDB or logs.
 */
export interface EndpointConfig {
  /** undefined -> the offline (simulated) server. */
  baseURL?: string;
  apiKey?: string;
  model: string;
}

export const DEFAULT_JUDGE_MODEL = 'gpt-4-0613'; // FLASK's judge

export function stateDir(env = process.env): string {
  return path.resolve(env.FLASK_STATE_DIR ?? path.join(process.cwd(), '.flask-eval'));
}

export function dbPath(env = process.env): string {
  return path.resolve(env.FLASK_DB ?? path.join(stateDir(env), 'results.duckdb'));
}

/** The judge (and annotator) endpoint: OPENAI_* as in the openai SDK, model from FLASK_JUDGE_MODEL. */
export function judgeEndpoint(env = process.env): EndpointConfig {
  const offline = isOffline(env.OPENAI_API_KEY, env.OPENAI_BASE_URL);
  return {
    baseURL: env.OPENAI_BASE_URL || undefined,
    apiKey: env.OPENAI_API_KEY || undefined,
    model: env.FLASK_JUDGE_MODEL || (offline ? OFFLINE_JUDGE_MODEL : DEFAULT_JUDGE_MODEL),
  };
}

/** The evaluated model's endpoint: deliberately separate variables, never the judge's by accident. */
export function modelEndpoint(env = process.env): EndpointConfig {
  const offline = isOffline(env.FLASK_MODEL_API_KEY, env.FLASK_MODEL_BASE_URL);
  return {
    baseURL: env.FLASK_MODEL_BASE_URL || undefined,
    apiKey: env.FLASK_MODEL_API_KEY || undefined,
    model: env.FLASK_MODEL_NAME || (offline ? OFFLINE_MODEL : ''),
  };
}

/** No key and no base URL: use the offline server. A local server (vLLM, Ollama) needs only a base URL. */
function isOffline(apiKey: string | undefined, baseURL: string | undefined): boolean {
  return !apiKey && !baseURL;
}

export function endpointIsOffline(e: EndpointConfig): boolean {
  return isOffline(e.apiKey, e.baseURL);
}

/** Host (and port) only: what provenance records about an endpoint. */
export function endpointHost(e: EndpointConfig): string {
  if (endpointIsOffline(e)) return 'offline (simulated)';
  try {
    return new URL(e.baseURL ?? OPENAI_BASE_URL).host;
  } catch {
    return 'invalid-url';
  }
}

export interface TemporalConfig {
  /** undefined -> embedded dev server. */
  address?: string;
  namespace: string;
  taskQueue: string;
}

export function temporalConfig(env = process.env): TemporalConfig {
  return {
    address: env.TEMPORAL_ADDRESS || undefined,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.FLASK_TASK_QUEUE || 'flask-eval',
  };
}

export function projectVersion(): string {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}
