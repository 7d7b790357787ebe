import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAIProvider, parseRetryAfter } from '../../core/provider/openaiProvider.js';
import { ProviderError } from '../../core/provider/provider.js';
import { createEndpointActivities } from '../../activities/callChunk.js';
import { createEndpointLimiter } from '../../core/rate/index.js';
import { endpointRef } from '../../core/provider/endpoint.js';
import { ApplicationFailure } from '@temporalio/common';

/** A server answering each request with the next scripted status; it records what it received. */
async function scripted(statuses: { status: number; headers?: Record<string, string>; body?: unknown }[]) {
  const seen: { auth?: string; body: Record<string, unknown> }[] = [];
  let i = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization, body: JSON.parse(raw || '{}') });
      const s = statuses[Math.min(i++, statuses.length - 1)];
      res.writeHead(s!.status, { 'content-type': 'application/json', ...s!.headers });
      res.end(JSON.stringify(s!.body ?? { error: { message: `status ${s!.status}`, type: 'test' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const request = { messages: [{ role: 'user' as const, content: 'hi' }], temperature: 0.2, maxTokens: 1024 };
const ok = { id: 'x', object: 'chat.completion', created: 0, model: 'judge-1', choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };

test('sends the settings it is given (temperature, max_tokens), once, with the key as bearer', async () => {
  const s = await scripted([{ status: 200, body: ok }]);
  const p = new OpenAIProvider({ apiKey: 'sk-test', baseURL: s.url });
  const r = await p.complete('judge-1', request);
  assert.deepEqual(r, { text: 'fine', finishReason: 'stop', promptTokens: 3, completionTokens: 1, model: 'judge-1', simulated: false, rateHeaders: {} });
  assert.equal(s.seen.length, 1);
  assert.equal(s.seen[0]!.body.temperature, 0.2);
  assert.equal(s.seen[0]!.body.max_tokens, 1024);
  assert.equal(s.seen[0]!.auth, 'Bearer sk-test');
  await s.close();
});

test('a 429 is retryable, carries Retry-After, and the SDK does not retry on its own', async () => {
  const s = await scripted([{ status: 429, headers: { 'retry-after': '7' } }, { status: 200, body: ok }]);
  const p = new OpenAIProvider({ apiKey: 'k', baseURL: s.url });
  await assert.rejects(p.complete('m', request), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.equal(e.kind, 'rate_limit');
    assert.equal(e.retryAfterMs, 7000);
    assert.equal(e.retryable, true);
    return true;
  });
  assert.equal(s.seen.length, 1, 'maxRetries: 0 — retries are Temporal\'s job');
  await s.close();
});

test('callChunk: 429 waits and spends no attempt, 5xx spends one, every call is recorded; 401 stops the run; 400 fails the instance', async () => {
  const s = await scripted([{ status: 429, headers: { 'retry-after-ms': '300' } }, { status: 503 }, { status: 200, body: ok }, { status: 401 }, { status: 400 }]);
  const endpoint = endpointRef(s.url, 'm', 'q');
  const acts = createEndpointActivities({
    endpoint, provider: new OpenAIProvider({ apiKey: 'k', baseURL: s.url }), limiter: createEndpointLimiter({ maxConcurrency: 1 }), backoffMs: () => 10,
  });
  const input = (idx: number) => ({
    runId: 'r', step: 'generate' as const, endpoint, settings: { temperature: 0.7, maxTokens: 16 }, maxAttempts: 2, shuffleSeed: 0,
    items: [{ idx, instruction: 'hi', answer: '', skills: [] }],
  });
  const started = Date.now();
  const first = await acts.callChunk(input(1));
  assert.ok(Date.now() - started >= 300, 'the Retry-After was waited out');
  const r = first.results[0];
  assert.equal(r!.status, 'done');
  assert.equal(r!.text, 'fine');
  assert.deepEqual(r!.calls.map((c) => [c.callNo, c.outcome, c.httpStatus]), [[1, 'rate_limited', 429], [2, 'server_error', 503], [3, 'ok', 200]]);
  assert.deepEqual(first.stats, { calls: 3, rateLimited: 1, errors: 1, tokens: 4, lost: 0 });

  await assert.rejects(acts.callChunk(input(2)), (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure);
    assert.equal(e.type, 'ProviderError.auth');
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /rejected the API key \(401\).*OPENAI_API_KEY/);
    return true;
  });
  const bad = await acts.callChunk(input(3));
  assert.equal(bad.results[0]!.status, 'failed');
  assert.match(bad.results[0]!.error!, /rejected the request \(400\)/);

  const other = endpointRef(s.url, 'another-model', 'q');
  await assert.rejects(acts.callChunk({ ...input(4), endpoint: other }), (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure);
    assert.equal(e.type, 'EndpointMismatch');
    assert.equal(e.nonRetryable, true);
    return true;
  });
  await s.close();
});

test('endpoint identity: base URL and model, never the key; credentials and query are dropped', () => {
  const a = endpointRef('https://user:sk-secret@api.example.com/v1/?key=sk-secret#x', 'gpt-4', 'flask');
  assert.equal(a.baseUrl, 'https://api.example.com/v1');
  assert.ok(!JSON.stringify(a).includes('secret'));
  assert.equal(a.id, endpointRef('https://api.example.com/v1', 'gpt-4', 'other').id);
  assert.notEqual(a.id, endpointRef('https://api.example.com/v1', 'gpt-4o', 'flask').id);
  assert.match(a.queue, /^flask-ep-[0-9a-f]{16}$/);
});
test('connection refused is a retryable connection error', async () => {
  const s = await scripted([{ status: 200, body: ok }]);
  await s.close();
  const p = new OpenAIProvider({ apiKey: 'k', baseURL: s.url });
  await assert.rejects(p.complete('m', request), (e: unknown) => e instanceof ProviderError && e.kind === 'connection' && e.retryable);
});

test('Retry-After as seconds, milliseconds or an HTTP date', () => {
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2' })), 2000);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250' })), 250);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5000);
  assert.equal(parseRetryAfter(new Headers({})), undefined);
});

test('a call past its timeout is a timeout error, and an abandoned one (signal) is dropped by the server, not left running', async () => {
  const { startOfflineServer } = await import('../../simulator/server.js');
  const server = await startOfflineServer({ serial: true, latencyMs: 3000 });
  try {
    const p = new OpenAIProvider({ apiKey: 'k', baseURL: server.url });
    const req = { messages: [{ role: 'user' as const, content: 'hi' }], temperature: 0, maxTokens: 5 };
    const t0 = Date.now();
    await assert.rejects(p.complete('flask-offline-model', req, { timeoutMs: 500 }), (e: ProviderError) => e.kind === 'timeout');
    assert.ok(Date.now() - t0 < 2500, 'the per-call timeout, not the provider default');
    const ac = new AbortController();
    const abandoned = p.complete('flask-offline-model', { ...req, messages: [{ role: 'user', content: 'bye' }] }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(abandoned, (e: ProviderError) => e.kind === 'connection' && /abandoned/.test(e.message));
    // The server saw both hang-ups and served neither to the end: the next call is not queued behind them.
    const t1 = Date.now();
    await p.complete('flask-offline-model', { ...req, messages: [{ role: 'user', content: 'next' }] });
    assert.ok(Date.now() - t1 < 4500, `next call took ${Date.now() - t1} ms`);
    assert.equal(server.stats().abandoned, 2);
  } finally {
    await server.close();
  }
});
