/**
 * OpenAI-style rate-limit headers:
 *   x-ratelimit-limit-requests: 500        x-ratelimit-limit-tokens: 30000
 *   x-ratelimit-remaining-requests: 499    x-ratelimit-remaining-tokens: 29000
 *   x-ratelimit-reset-requests: 120ms      x-ratelimit-reset-tokens: 2s   (also "1m30s", "6m0s", "0.5s", "1h2m")
 */

export interface RateLimitHeaders {
  limitRequests?: number;
  remainingRequests?: number;
  resetRequestsMs?: number;
  limitTokens?: number;
  remainingTokens?: number;
  resetTokensMs?: number;
}

/** "1h2m3.5s", "120ms", "2s", or a bare number of seconds -> ms; undefined when unreadable. */
export function parseResetDuration(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (s === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };
  let total = 0;
  let rest = s;
  const part = /^(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/;
  while (rest.length > 0) {
    const m = part.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * unit[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

function count(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The x-ratelimit-* headers present (names matched case-insensitively); {} when none. */
export function readRateLimitHeaders(headers: Record<string, string> | undefined): RateLimitHeaders {
  if (!headers) return {};
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  const out: RateLimitHeaders = {};
  const set = <K extends keyof RateLimitHeaders>(k: K, v: number | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('limitRequests', count(h['x-ratelimit-limit-requests']));
  set('remainingRequests', count(h['x-ratelimit-remaining-requests']));
  set('resetRequestsMs', parseResetDuration(h['x-ratelimit-reset-requests']));
  set('limitTokens', count(h['x-ratelimit-limit-tokens']));
  set('remainingTokens', count(h['x-ratelimit-remaining-tokens']));
  set('resetTokensMs', parseResetDuration(h['x-ratelimit-reset-tokens']));
  return out;
}

/** The same format back (the offline server sends it): 0 -> "0s", 1500 -> "1.5s", 90000 -> "1m30s". */
export function formatResetDuration(ms: number): string {
  const v = Math.max(0, Math.ceil(ms));
  if (v < 1000) return v === 0 ? '0s' : `${v}ms`;
  const m = Math.floor(v / 60_000);
  const s = (v - m * 60_000) / 1000;
  const sec = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  return m > 0 ? `${m}m${sec}` : sec;
}

/** Response headers (fetch Headers, as the openai SDK exposes them, or a plain object) -> lower-case record. */
export function headerRecord(headers: Headers | Record<string, string> | undefined | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function') {
    (headers as Headers).forEach((value, key) => { out[key.toLowerCase()] = value; });
  } else {
    for (const [k, v] of Object.entries(headers as Record<string, string>)) out[k.toLowerCase()] = v;
  }
  return out;
}
