/**
 * The call cache's key: what makes two model calls the same call. Content-addressed, so a run
 * under another name, another command (review / eval / annotate) or another worker finds it.
 * Never the API key: two keys for one endpoint get the same answers, and nothing secret is hashed
 * into a row that could be compared against a guess.
 */
import { createHash } from 'node:crypto';
import type { ChatRequest } from '../prompts/chat.js';
import type { CacheMode, Step } from '../pipeline.js';

export interface CallIdentity {
  /** The endpoint's identity: its base URL (credentials stripped, core/provider/endpoint.ts) and model. */
  baseUrl: string;
  model: string;
  step: Step;
  /** The judge profile (review) and the template it picked: a changed profile is another call. */
  profile?: string;
  template?: string;
  /** The call's place among its instance's calls (a per-skill judge's skill, the k-th of K samples). */
  callIndex: number;
  /** Messages and every sampling setting, as sent. */
  request: ChatRequest;
}

/**
 * sha256 over a canonical JSON of the identity. Sampling fields are listed explicitly (absent
 * ones as null), so a request that gains a setting later does not silently match old entries.
 */
export function callCacheKey(c: CallIdentity): string {
  const canonical = JSON.stringify([
    'flask-eval call v1', c.baseUrl, c.model, c.step, c.profile ?? null, c.template ?? null, c.callIndex,
    c.request.messages.map((m) => [m.role, m.content]),
    c.request.temperature, c.request.maxTokens, c.request.topP ?? null, c.request.seed ?? null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Whether a call may be answered from the cache (`read`) and whether its answer is stored
 * (`write`). Without --cache, only temperature-0 calls use it: their answer is what the endpoint
 * would give again; at a higher temperature a fresh sample is what the user asked for, unless
 * they say `--cache on`.
 */
export function cacheUse(mode: CacheMode | undefined, temperature: number): { read: boolean; write: boolean } {
  switch (mode) {
    case 'on': return { read: true, write: true };
    case 'read': return { read: true, write: false };
    case 'refresh': return { read: false, write: true };
    case 'off': return { read: false, write: false };
    default: return { read: temperature === 0, write: temperature === 0 };
  }
}
