/**
 * An endpoint's identity: what a run is bound to and what its task queue is named after.
 * Base URL and model name only, never the key: two keys for one endpoint are one identity (and
 * share its rate limit), and nothing secret ever reaches a queue name, a workflow input or DuckDB.
 * Kept free of Node imports: workflows carry EndpointRef values.
 */
export interface EndpointRef {
  /** Stable id: hash of base URL and model (see endpointId). */
  id: string;
  /** Base URL without credentials, query or fragment; `offline:seed=N` for the in-process offline server. */
  baseUrl: string;
  model: string;
  /** The Temporal task queue its worker polls. */
  queue: string;
}

/** OpenAI's own API: the base URL when none is given. */
export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** The in-process offline server: one identity per seed, since the seed decides its outputs. */
export function offlineBaseUrl(seed: number): string {
  return `offline:seed=${seed}`;
}

export function isOfflineBaseUrl(baseUrl: string): boolean {
  return baseUrl.startsWith('offline:');
}

/** Drop userinfo, query and fragment (a key smuggled into a URL must not become provenance). */
function sanitizeBaseUrl(raw: string): string {
  if (isOfflineBaseUrl(raw)) return raw;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`"${raw}" is not a URL (expected something like https://api.openai.com/v1)`);
  }
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '');
}

export function endpointRef(baseUrl: string, model: string, queueBase: string): EndpointRef {
  const clean = sanitizeBaseUrl(baseUrl);
  const id = endpointId(clean, model);
  return { id, baseUrl: clean, model, queue: `${queueBase}-ep-${id}` };
}

/** 16 hex chars of FNV-1a-64 over "baseUrl\nmodel": deterministic, dependency-free, no secrets in it. */
export function endpointId(baseUrl: string, model: string): string {
  let h = 0xcbf29ce484222325n;
  const text = `${baseUrl}\n${model}`;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

/** What a person reads: host and model, or "offline (SIMULATED)". */
export function describeEndpoint(e: Pick<EndpointRef, 'baseUrl' | 'model'>): string {
  return isOfflineBaseUrl(e.baseUrl) ? `${e.model} @ offline server (SIMULATED)` : `${e.model} @ ${e.baseUrl}`;
}
